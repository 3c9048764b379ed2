"""In-graph MFCC features: one window of MFCC frames per 25 fps video frame.

The same layer runs inside training, the SavedModel and the TFLite model, so there is no
train/serve skew. It uses only ops that TFLite has as builtins: a power-of-two RFFT and the DCT
written as a matrix product (tf.signal.dct would need Select-TF ops).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from lipsync_tf.audio.windows import AudioWindows
from lipsync_tf.config import AudioFeatureConfig, audio_config_from_dict

_LOG_OFFSET = 1e-6


def dct_matrix(n_mels: int, n_mfcc: int) -> np.ndarray:
    """Orthonormal DCT-II as a [n_mels, n_mfcc] matrix: `log_mel @ D` gives the MFCCs.

    Same convention as scipy.fft.dct(type=2, norm="ortho") and librosa.feature.mfcc.
    """
    mel = np.arange(n_mels)[:, None] + 0.5
    coefficient = np.arange(n_mfcc)[None, :]
    matrix = np.sqrt(2.0 / n_mels) * np.cos(np.pi / n_mels * mel * coefficient)
    matrix[:, 0] /= np.sqrt(2.0)
    return matrix.astype(np.float32)


@keras.saving.register_keras_serializable(package="lipsync_tf")
class MfccWindows(keras.layers.Layer):
    """16 kHz mono waveform -> per-video-frame MFCC windows.

    waveform: float32 [batch, samples] in [-1, 1].
    returns:  float32 [batch, time, window_frames, n_mfcc], time = ceil(samples / 640) at 16 kHz
              and 25 fps.

    Video frame t gets the `window_frames` MFCC frames whose centres are spaced around the frame's
    midpoint (t + 0.5) / fps. The waveform is zero-padded so that the first and last frames get
    full windows. With `context_included=True` the caller has already supplied that padding (real
    audio from a longer recording, see `context_slice`), which lets long audio be featurised chunk
    by chunk with results identical to the whole-file features.
    """

    def __init__(self, config: AudioFeatureConfig | dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if config is None:
            config = AudioFeatureConfig()
        elif isinstance(config, dict):
            config = audio_config_from_dict(config)
        self.config = config
        self.windows = AudioWindows(config)
        self._mel_matrix = tf.signal.linear_to_mel_weight_matrix(
            num_mel_bins=config.n_mels,
            num_spectrogram_bins=config.fft_length // 2 + 1,
            sample_rate=config.sample_rate,
            lower_edge_hertz=config.lower_hz,
            upper_edge_hertz=config.upper_hz,
        )
        self._dct_matrix = tf.constant(dct_matrix(config.n_mels, config.n_mfcc))

    @property
    def context_samples(self) -> tuple[int, int]:
        """Samples needed before the first and after the last video frame (`AudioWindows`)."""
        return self.windows.context_samples

    def num_frames(self, num_samples: int) -> int:
        """Video frames produced for `num_samples` samples of audio (no context)."""
        return self.windows.num_frames(num_samples)

    def context_slice(self, waveform: np.ndarray, start_frame: int, stop_frame: int) -> np.ndarray:
        """Audio for video frames [start_frame, stop_frame) with their context, to pass with
        `context_included=True` (`AudioWindows.context_slice`)."""
        return self.windows.context_slice(waveform, start_frame, stop_frame)

    def log_mel_spectrogram(self, waveform: tf.Tensor) -> tf.Tensor:
        """[batch, samples] -> natural-log mel power [batch, stft_frames, n_mels] (no padding)."""
        c = self.config
        stft = tf.signal.stft(
            waveform,
            frame_length=c.frame_length,
            frame_step=c.frame_step,
            fft_length=c.fft_length,
            window_fn=tf.signal.hann_window,
            pad_end=False,
        )
        power = tf.math.square(tf.math.abs(stft))
        mel = tf.linalg.matmul(power, self._mel_matrix)
        return tf.math.log(mel + _LOG_OFFSET)

    def call(self, waveform, context_included: bool = False):
        c = self.config
        waveform = tf.convert_to_tensor(waveform, dtype=tf.float32)
        if waveform.shape.rank != 2:
            raise ValueError(
                f"MfccWindows expects a mono waveform batch [batch, samples], got shape "
                f"{waveform.shape}; add a batch axis or mix stereo down to mono first."
            )
        left, right = self.context_samples
        spf = c.samples_per_video_frame
        if not context_included:
            num_samples = tf.shape(waveform)[1]
            num_frames = (num_samples + spf - 1) // spf
            pad_end = num_frames * spf - num_samples + right
            waveform = tf.pad(waveform, [[0, 0], [left, pad_end]])
        log_mel = self.log_mel_spectrogram(waveform)
        mfcc = tf.linalg.matmul(log_mel, self._dct_matrix)
        return tf.signal.frame(
            mfcc, frame_length=c.window_frames, frame_step=c.hops_per_video_frame, axis=1
        )

    def compute_output_shape(self, input_shape):
        c = self.config
        return (input_shape[0], None, c.window_frames, c.n_mfcc)

    def get_config(self):
        config = super().get_config()
        config["config"] = dataclasses.asdict(self.config)
        return config
