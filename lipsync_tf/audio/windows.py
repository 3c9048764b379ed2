"""Which samples of a recording each video frame's MFCC window needs (NumPy, no TensorFlow).

`MfccWindows` computes the features in the graph; this is the bookkeeping around it that the
chunked clients do in Python: how many frames a recording makes and the slice of audio, with its
context, that a chunk of frames needs. It lives apart from the Keras layer so that clients of an
exported model do not need the layer.
"""

from __future__ import annotations

import numpy as np

from lipsync_tf.config import AudioFeatureConfig


class AudioWindows:
    """Sample bookkeeping for `config`'s MFCC windows (one per video frame)."""

    def __init__(self, config: AudioFeatureConfig):
        self.config = config

    @property
    def context_samples(self) -> tuple[int, int]:
        """Samples of audio needed before the first and after the last video frame.

        Chosen so that the middle STFT frame of each window is centred on its video frame.
        """
        c = self.config
        window_span = (c.window_frames - 1) * c.frame_step + c.frame_length
        left = window_span // 2 - c.samples_per_video_frame // 2
        # The last video frame's window must end inside the padded signal.
        right = window_span - c.samples_per_video_frame - left
        return left, right

    def num_frames(self, num_samples: int) -> int:
        """Video frames produced for `num_samples` samples of audio (no context)."""
        spf = self.config.samples_per_video_frame
        return -(-num_samples // spf)

    def context_slice(self, waveform: np.ndarray, start_frame: int, stop_frame: int) -> np.ndarray:
        """Audio for video frames [start_frame, stop_frame) with the context they need.

        waveform: [batch, samples] of the whole recording. Returns a slice to pass to
        `MfccWindows` with `context_included=True`; positions outside the recording are zeros,
        exactly as the one-shot padding would give.
        """
        left, right = self.context_samples
        spf = self.config.samples_per_video_frame
        begin = start_frame * spf - left
        end = stop_frame * spf + right
        out = np.zeros((waveform.shape[0], end - begin), dtype=np.float32)
        src_begin, src_end = max(begin, 0), min(end, waveform.shape[1])
        if src_end > src_begin:
            out[:, src_begin - begin : src_end - begin] = waveform[:, src_begin:src_end]
        return out
