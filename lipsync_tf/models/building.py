"""Helpers shared by the composite models: eager sub-layer building (so a loaded model has its
variables before weights are restored) and nested-model deserialization."""

from __future__ import annotations

from collections.abc import Iterable

import keras


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
