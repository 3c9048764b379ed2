"""A stack of GRUs whose states can be carried from one chunk of a sequence to the next."""

from __future__ import annotations

import keras
import tensorflow as tf

from lipsync_tf.models.building import ensure_built


@keras.saving.register_keras_serializable(package="lipsync_tf")
class GruStack(keras.layers.Layer):
    """GRU layers applied in turn, each returning its whole sequence.

    inputs: float32 [batch, time, features], any time >= 1.
    returns: float32 [batch, time, units[-1]]; with return_state=True also the list of final
    states (one [batch, units[i]] per layer). Passing those as `initial_state` for the next chunk
    continues the sequence exactly where the previous call stopped.
    """

    def __init__(self, units=(256, 256), **kwargs):
        super().__init__(**kwargs)
        self.units = tuple(units)
        self.grus = [
            keras.layers.GRU(width, return_sequences=True, return_state=True, name=f"gru{index}")
            for index, width in enumerate(self.units)
        ]

    def build(self, input_shape):
        features = input_shape[-1]
        for gru in self.grus:
            ensure_built(gru, (None, None, features))
            features = gru.units
        self.built = True

    def get_initial_state(self, batch_size):
        return [tf.zeros([batch_size, width]) for width in self.units]

    def call(self, inputs, initial_state=None, return_state=False, training=None):
        if initial_state is None:
            initial_state = self.get_initial_state(tf.shape(inputs)[0])
        x, states = inputs, []
        for gru, state in zip(self.grus, initial_state, strict=True):
            x, state = gru(x, initial_state=state, training=training)
            states.append(state)
        return (x, states) if return_state else x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units[-1])

    def get_config(self):
        config = super().get_config()
        config["units"] = list(self.units)
        return config
