"""Random inputs of the right shapes for the tiny models."""

import numpy as np

from lipsync_tf.config import ModelConfig


def stills(rng: np.random.Generator, batch: int) -> np.ndarray:
    return rng.uniform(-1, 1, (batch, 128, 96, 3)).astype(np.float32)


def audio_windows(rng: np.random.Generator, batch: int, time: int, config: ModelConfig):
    shape = (batch, time, config.audio.window_frames, config.audio.n_mfcc)
    return rng.normal(size=shape).astype(np.float32)


def noise(rng: np.random.Generator, batch: int, time: int, config: ModelConfig) -> np.ndarray:
    shape = (batch, time, config.noise_dim)
    return (config.noise_std * rng.normal(size=shape)).astype(np.float32)


def frames(rng: np.random.Generator, batch: int, time: int) -> np.ndarray:
    return rng.uniform(-1, 1, (batch, time, 128, 96, 3)).astype(np.float32)


def generator_inputs(rng: np.random.Generator, batch: int, time: int, config: ModelConfig):
    """A complete generator input dict with explicit noise, so outputs are repeatable."""
    return {
        "still": stills(rng, batch),
        "audio": audio_windows(rng, batch, time, config),
        "noise": noise(rng, batch, time, config),
    }
