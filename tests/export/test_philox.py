"""philox: TensorFlow's stateless normal noise drawn with NumPy, for the TFLite backend."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from lipsync_tf.config import ModelConfig
from lipsync_tf.export import philox
from lipsync_tf.export.contract import noise_for_frames, noise_for_frames_numpy


@pytest.mark.parametrize("seed", [(0, 0), (0, 1), (3, 7), (-1, 5), (2**40, 3), (12345, 99)])
def test_stateless_normal_matches_tensorflow(seed):
    expected = tf.random.stateless_normal([25, 10], seed=tf.constant(seed, tf.int64)).numpy()
    drawn = philox.stateless_normal(250, seed)
    assert drawn.dtype == np.float32 and drawn.shape == (250,)
    np.testing.assert_allclose(drawn, expected.reshape(-1), rtol=0, atol=2e-6)


@pytest.mark.parametrize("start, count", [(0, 25), (7, 25), (30, 3), (24, 50), (100, 1)])
def test_noise_for_frames_numpy_is_the_exports_noise(start, count):
    config = dataclasses.replace(ModelConfig.tiny(), noise_std=0.77)
    expected = noise_for_frames(tf.constant(4, tf.int64), start, count, config).numpy()
    drawn = noise_for_frames_numpy(4, start, count, config)
    assert drawn.shape == expected.shape == (count, config.noise_dim)
    np.testing.assert_allclose(drawn, expected, rtol=0, atol=2e-6)
