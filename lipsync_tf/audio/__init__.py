"""Audio: waveform loading (Python side) and the in-graph MFCC layer for training and serving."""

from lipsync_tf.audio.io import load_waveform
from lipsync_tf.audio.mfcc import MfccWindows

__all__ = ["MfccWindows", "load_waveform"]
