"""How loud the speech in a waveform is, and bringing it to the level the model was trained at.

The shipped model's mouth moves less on quiet recordings (held-out clips scaled by -20 dB: mouth
std ratio 0.53 -> 0.33, r 0.445 -> 0.400; model card), and recordings differ by more than that:
the shared clips' speech ranges from -33 to -9 dBFS. `bin/generate` and `bin/redub` therefore
bring the speech to `TARGET_DBFS` before the model hears it (the muxed audio is left as it was).
"""

from __future__ import annotations

import numpy as np

# The level of the training examples as sampled: GRID talker s1 (about 60 % of them) has a median
# speech level of -14.1 dBFS, the other clips -17.4 (levels measured by `speech_level_dbfs`).
TARGET_DBFS = -16.0
# The loudest sample after normalising: gain stops short of clipping.
PEAK_LIMIT = 0.99
# A waveform whose loudest sample is below this holds no speech to animate.
SILENCE_PEAK_DBFS = -60.0
# Level frames: 40 ms, one video frame at 16 kHz and 25 fps.
_FRAME = 640


def speech_level_dbfs(waveform: np.ndarray) -> float:
    """Speech level of a float waveform in [-1, 1]: the RMS over its louder half of 40 ms frames
    (pauses left out), in dB relative to full scale; -inf for silence."""
    samples = np.asarray(waveform, np.float64)
    count = len(samples) // _FRAME
    frames = samples[: count * _FRAME].reshape(count, _FRAME) if count else samples[None]
    power = (frames**2).mean(axis=1)
    active = power[power >= np.median(power)]
    level = float(np.mean(active))
    return 10.0 * np.log10(level) if level > 0 else -np.inf


def peak_dbfs(waveform: np.ndarray) -> float:
    peak = float(np.max(np.abs(waveform))) if len(waveform) else 0.0
    return 20.0 * np.log10(peak) if peak > 0 else -np.inf


def normalize_level(
    waveform: np.ndarray, target_dbfs: float = TARGET_DBFS
) -> tuple[np.ndarray, float]:
    """(waveform scaled so its speech level is `target_dbfs`, the gain in dB). The gain is
    limited so that no sample exceeds `PEAK_LIMIT`: a quiet recording with a loud click is
    raised only as far as the click allows. Silence (see `SILENCE_PEAK_DBFS`) is the caller's
    to reject; it is returned unchanged with gain 0."""
    peak = peak_dbfs(waveform)
    if peak < SILENCE_PEAK_DBFS:
        return waveform, 0.0
    gain_db = min(target_dbfs - speech_level_dbfs(waveform), 20.0 * np.log10(PEAK_LIMIT) - peak)
    scaled = np.asarray(waveform, np.float32) * np.float32(10.0 ** (gain_db / 20.0))
    return scaled, float(gain_db)
