"""Helpers shared by the composite models: eager sub-layer building (so a loaded model has its
variables before weights are restored), nested-model deserialization, and products in a lower
precision at inference."""

from __future__ import annotations

from collections.abc import Iterable

import keras
import tensorflow as tf


def build_sequence(layers: Iterable, shape: tuple) -> tuple:
    """Builds `layers` applied one after another to `shape`; returns the output shape."""
    for layer in layers:
        ensure_built(layer, shape)
        shape = tuple(layer.compute_output_shape(shape))
    return shape


def ensure_built(layer, input_shape) -> None:
    """Builds `layer` unless deserialization already did (nested models carry a build config)."""
    if not layer.built:
        layer.build(input_shape)


def as_layer(layer_or_config):
    """A nested model given either as an instance or as its serialized config (from_config)."""
    if isinstance(layer_or_config, dict):
        return keras.saving.deserialize_keras_object(layer_or_config)
    return layer_or_config


def products_in(dtype: str, op, x, kernel):
    """op(x, kernel) (a convolution or matmul) with both cast to `dtype`, the result in float32:
    where a model's `conv_dtype` asks for bfloat16 products. float32: op(x, kernel) as it is."""
    if dtype == "float32":
        return op(x, kernel)
    return tf.cast(op(tf.cast(x, dtype), tf.cast(kernel, dtype)), tf.float32)
