"""`tf.random.stateless_normal` in NumPy, so the TFLite backend can draw the export's noise
without importing TensorFlow (about 3 s of `bin/generate`'s start-up).

TensorFlow's CPU kernel, step by step: the seed pair is mixed into a Philox-4x32-10 key and
counter (`StatelessRandomGetKeyCounter`), the counter's low 64 bits count 128-bit blocks, and
each block's four uint32 become two Box-Muller pairs of float32. The bits are TensorFlow's
exactly; the float32 log, sin and cos may differ from Eigen's in the last place (1.3e-6 at most
on unit-variance noise, tests/export/test_philox.py).
"""

from __future__ import annotations

import numpy as np

_MULTIPLIERS = (np.uint64(0xD2511F53), np.uint64(0xCD9E8D57))
_KEY_STEPS = (np.uint64(0x9E3779B9), np.uint64(0xBB67AE85))
_SEED_KEY = (0x3EC8F720, 0x02461E29)  # the key that mixes a seed pair (TF's GenerateKey)
_LOW32 = np.uint64(0xFFFFFFFF)
_32 = np.uint64(32)


def philox(counters: np.ndarray, key: tuple[int, int]) -> np.ndarray:
    """Philox-4x32-10 of counters uint32 [n, 4] under a 2 x uint32 key -> uint32 [n, 4]."""
    c = counters.astype(np.uint64)
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    for _ in range(10):
        p0, p1 = _MULTIPLIERS[0] * c[:, 0], _MULTIPLIERS[1] * c[:, 2]
        c = np.stack(
            [(p1 >> _32) ^ c[:, 1] ^ k0, p1 & _LOW32, (p0 >> _32) ^ c[:, 3] ^ k1, p0 & _LOW32],
            axis=1,
        )
        k0, k1 = (k0 + _KEY_STEPS[0]) & _LOW32, (k1 + _KEY_STEPS[1]) & _LOW32
    return c.astype(np.uint32)


def _halves(value: int) -> list[int]:
    value = int(value) & 0xFFFFFFFFFFFFFFFF  # an int64 seed as TF reads it
    return [value & 0xFFFFFFFF, value >> 32]


def _unit_floats(bits: np.ndarray) -> np.ndarray:
    """uint32 -> float32 in [0, 1) from the 23 mantissa bits, as TF's Uint32ToFloat."""
    mantissa = (bits & np.uint32(0x7FFFFF)) | np.uint32(0x3F800000)
    return mantissa.view(np.float32) - np.float32(1.0)


def stateless_normal(count: int, seed: tuple[int, int]) -> np.ndarray:
    """float32 [count]: what `tf.random.stateless_normal([count], seed)` gives (flattened)."""
    mixed = philox(np.array([_halves(seed[0]) + _halves(seed[1])], np.uint32), _SEED_KEY)[0]
    blocks = -(-count // 4)
    index = np.arange(blocks, dtype=np.uint64)
    counters = np.stack(
        [
            index & _LOW32,
            index >> _32,
            np.full(blocks, mixed[2], np.uint64),
            np.full(blocks, mixed[3], np.uint64),
        ],
        axis=1,
    )
    pairs = philox(counters, (int(mixed[0]), int(mixed[1]))).reshape(-1, 2)
    radius = np.sqrt(np.float32(-2.0) * np.log(np.maximum(_unit_floats(pairs[:, 0]), 1e-7)))
    angle = np.float32(2.0 * np.pi) * _unit_floats(pairs[:, 1])
    normal = np.stack([np.sin(angle) * radius, np.cos(angle) * radius], axis=1)
    return normal.reshape(-1)[:count].astype(np.float32)
