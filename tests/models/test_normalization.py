"""GroupNormalization: Keras's function from per-channel sums, and its weights' names."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from lipsync_tf.models.normalization import GroupNormalization


def _pair(channels: int, groups: int, rng):
    ours, theirs = GroupNormalization(groups), keras.layers.GroupNormalization(groups)
    for layer in (ours, theirs):
        layer.build((None, None, None, channels))
    weights = [rng.normal(1.0, 0.3, channels), rng.normal(0.0, 0.3, channels)]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    return ours, theirs


@pytest.mark.parametrize(
    "shape, groups", [((3, 8, 6, 16), 8), ((2, 64, 48, 4), 2), ((5, 4, 3, 12), 4)]
)
def test_group_normalization_equals_keras_layer_and_its_gradients(rng, shape, groups):
    ours, theirs = _pair(shape[-1], groups, rng)
    # An offset well above the spread, as conv outputs with a bias can have.
    x = tf.constant(rng.normal(6.0, 1.5, size=shape).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        got, want = ours(x), theirs(x)
        got_loss = tf.reduce_sum(tf.sin(got))
        want_loss = tf.reduce_sum(tf.sin(want))
    np.testing.assert_allclose(got, want, atol=2e-5)
    np.testing.assert_allclose(
        tape.gradient(got_loss, x), tape.gradient(want_loss, x), rtol=1e-3, atol=2e-4
    )
    for a, b in zip(
        tape.gradient(got_loss, ours.trainable_variables),
        tape.gradient(want_loss, theirs.trainable_variables),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-4)


def test_group_normalization_of_a_constant_group_is_its_offset(rng):
    ours, _ = _pair(4, 2, rng)
    out = ours(tf.fill([1, 5, 5, 4], 3.0)).numpy()
    np.testing.assert_allclose(out, np.broadcast_to(ours.beta.numpy(), out.shape), atol=1e-3)
    assert np.isfinite(out).all()


def test_group_normalization_keeps_keras_weight_names_and_config(rng):
    ours, theirs = _pair(8, 4, rng)
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    clone = GroupNormalization.from_config(ours.get_config())
    assert clone.groups == 4 and clone.epsilon == theirs.epsilon
