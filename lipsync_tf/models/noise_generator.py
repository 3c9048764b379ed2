"""Noise generator: i.i.d. Gaussian noise per frame -> temporally coherent noise.

The noise drives what the audio does not explain (blinks, small head motion); running it through a
GRU makes it change smoothly from frame to frame instead of flickering.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from lipsync_tf.models.building import ensure_built


@keras.saving.register_keras_serializable(package="lipsync_tf")
class NoiseGenerator(keras.Model):
    """GRU stack over per-frame noise.

    noise: float32 [batch, time, noise_dim], drawn from N(0, noise_std) by `sample`.
    returns: float32 [batch, time, gru_units[-1]] in (-1, 1); with return_state=True also the final
    GRU states for the next chunk.
    """

    def __init__(self, gru_units=(10, 10), noise_dim=10, noise_std=0.77, **kwargs):
        super().__init__(**kwargs)
        self.gru_units = tuple(gru_units)
        self.noise_dim = noise_dim
        self.noise_std = noise_std
        self.grus = [
            keras.layers.GRU(units, return_sequences=True, return_state=True, name=f"gru{index}")
            for index, units in enumerate(self.gru_units)
        ]

    def build(self, input_shape):
        features = input_shape[-1]
        for gru in self.grus:
            ensure_built(gru, (None, None, features))
            features = gru.units
        self.built = True

    def sample(self, batch_size, time, seed=None):
        """Input noise [batch_size, time, noise_dim] ~ N(0, noise_std); seed as in keras.random."""
        return keras.random.normal(
            (batch_size, time, self.noise_dim), stddev=self.noise_std, seed=seed
        )

    def get_initial_state(self, batch_size):
        return [tf.zeros([batch_size, units]) for units in self.gru_units]

    def call(self, noise, initial_state=None, return_state=False, training=None):
        if initial_state is None:
            initial_state = self.get_initial_state(tf.shape(noise)[0])
        x, states = noise, []
        for gru, state in zip(self.grus, initial_state, strict=True):
            x, state = gru(x, initial_state=state, training=training)
            states.append(state)
        return (x, states) if return_state else x

    def get_config(self):
        config = super().get_config()
        config.update(
            gru_units=list(self.gru_units), noise_dim=self.noise_dim, noise_std=self.noise_std
        )
        return config
