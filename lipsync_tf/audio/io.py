"""Loading speech audio as the mono 16 kHz float32 waveform the models expect (Python side)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
import soxr

from lipsync_tf.errors import InputError


def load_waveform(path: str | Path, sample_rate: int = 16000) -> np.ndarray:
    """Reads an audio file (wav, flac, ogg, ...) as mono float32 in [-1, 1] at `sample_rate`.

    Stereo is averaged to mono; other rates are resampled with soxr (high quality).
    Returns float32 [samples]. Raises InputError, naming the file, when it cannot be used.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"audio file {path} does not exist; check the path.")
    try:
        audio, file_rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise InputError(
            f"cannot decode audio file {path} ({error}); give a wav, flac or ogg file."
        ) from error
    if audio.shape[0] == 0:
        raise InputError(f"audio file {path} contains no samples; give a recording of speech.")
    mono = audio.mean(axis=1)
    if file_rate != sample_rate:
        mono = soxr.resample(mono, file_rate, sample_rate, quality="HQ").astype(np.float32)
    return np.clip(mono, -1.0, 1.0)
