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


def crop_regressor_layers(filters, fc_units: int, outputs: int, output_name: str) -> list:
    """The layers of a small CNN that reads numbers off a 128x96 crop: a stride-2 conv,
    GroupNormalization and LeakyReLU per entry of `filters`, then a hidden dense layer and
    `outputs` linear units (the lip reader's and the lip locator's body)."""
    layers = []
    for index, width in enumerate(filters):
        layers += [
            keras.layers.Conv2D(width, 3, strides=2, padding="same", name=f"conv{index}"),
            keras.layers.GroupNormalization(min(8, width), name=f"norm{index}"),
            keras.layers.LeakyReLU(0.2, name=f"act{index}"),
        ]
    return [
        *layers,
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(fc_units, name="fc"),
        keras.layers.LeakyReLU(0.2, name="fc_act"),
        keras.layers.Dense(outputs, name=output_name),
    ]
