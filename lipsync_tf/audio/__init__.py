"""Audio: waveform loading and levelling (Python side), the in-graph MFCC layer for training and
serving (`audio.mfcc`) and the sample bookkeeping of its windows (`audio.windows`)."""

from lipsync_tf.audio.io import load_waveform

__all__ = ["load_waveform"]
