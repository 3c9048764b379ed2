"""NoiseGenerator: temporally coherent noise from i.i.d. noise."""

import numpy as np
import pytest

from lipsync_tf.config import ModelConfig
from lipsync_tf.models import NoiseGenerator


def _lag1_autocorrelation(sequence: np.ndarray) -> float:
    """Mean over batch and channels of the lag-1 autocorrelation along time."""
    centred = sequence - sequence.mean(axis=1, keepdims=True)
    numerator = (centred[:, 1:] * centred[:, :-1]).sum(axis=1)
    denominator = (centred**2).sum(axis=1)
    return float((numerator / denominator).mean())


def _paper_noise_generator() -> NoiseGenerator:
    config = ModelConfig()
    return NoiseGenerator.from_model_config(config)


def test_sampled_noise_has_the_configured_spread():
    generator = _paper_noise_generator()
    sample = generator.sample(64, 100, seed=3).numpy()
    assert sample.shape == (64, 100, 10)
    assert abs(sample.std() - 0.77) < 0.02
    assert abs(_lag1_autocorrelation(sample)) < 0.03  # i.i.d. over time


def test_generated_noise_is_smoother_in_time_than_its_input():
    generator = _paper_noise_generator()
    raw = generator.sample(32, 100, seed=5)
    smooth = generator(raw).numpy()
    assert smooth.shape == (32, 100, 10)
    assert np.abs(smooth).max() < 1.0
    # Measured at initialisation (3 seeds): input -0.007, output 0.77-0.79. The GRU's memory
    # makes each frame's noise lean on the previous one.
    assert _lag1_autocorrelation(smooth) > _lag1_autocorrelation(raw.numpy()) + 0.2


@pytest.mark.parametrize("time", [1, 7, 75])
def test_noise_generator_accepts_any_length(time):
    generator = _paper_noise_generator()
    assert tuple(generator(generator.sample(2, time, seed=1)).shape) == (2, time, 10)


def test_noise_generator_state_carries_across_chunks():
    generator = _paper_noise_generator()
    raw = generator.sample(2, 30, seed=2)
    whole = generator(raw).numpy()
    first, state = generator(raw[:, :10], return_state=True)
    second = generator(raw[:, 10:], initial_state=state)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, atol=1e-6)
