"""Noise generator: i.i.d. Gaussian noise per frame -> temporally coherent noise.

The noise drives what the audio does not explain (blinks, small head motion); running it through a
GRU makes it change smoothly from frame to frame instead of flickering.
"""

from __future__ import annotations

import keras

from lipsync_tf.config import ModelConfig
from lipsync_tf.models.building import ensure_built
from lipsync_tf.models.gru_stack import GruStack


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
        self.grus = GruStack(self.gru_units, name="grus")

    @classmethod
    def from_model_config(
        cls, config: ModelConfig, name: str = "noise_generator"
    ) -> NoiseGenerator:
        return cls(config.noise_gru_units, config.noise_dim, config.noise_std, name=name)

    def build(self, input_shape):
        ensure_built(self.grus, tuple(input_shape))
        self.built = True

    def sample(self, batch_size, time, seed=None):
        """Input noise [batch_size, time, noise_dim] ~ N(0, noise_std); seed as in keras.random."""
        return keras.random.normal(
            (batch_size, time, self.noise_dim), stddev=self.noise_std, seed=seed
        )

    def get_initial_state(self, batch_size):
        return self.grus.get_initial_state(batch_size)

    def call(self, noise, initial_state=None, return_state=False, training=None):
        return self.grus(
            noise, initial_state=initial_state, return_state=return_state, training=training
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            gru_units=list(self.gru_units), noise_dim=self.noise_dim, noise_std=self.noise_std
        )
        return config
