"""1-D Spatial Pyramid Pooling over time: any sequence length -> a fixed-size vector."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="lipsync_tf")
class TemporalPyramidPooling(keras.layers.Layer):
    """Pools a sequence into sum(levels) bins per channel, whatever its length.

    At level n the sequence is cut into n contiguous bins, bin i covering frames
    [floor(i * T / n), ceil((i + 1) * T / n)); bins overlap by at most one frame and are never
    empty, so even T = 1 works (every bin is that frame). Each bin is max- or average-pooled.

    inputs: float32 [batch, time, channels], any time >= 1.
    returns: float32 [batch, sum(levels) * channels], level by level, bin by bin.
    """

    def __init__(self, levels=(1, 2, 4), pooling="max", **kwargs):
        super().__init__(**kwargs)
        if pooling not in ("max", "average"):
            raise ValueError(f"pooling must be 'max' or 'average', got {pooling!r}.")
        if not levels or min(levels) < 1:
            raise ValueError(f"levels must be positive bin counts, got {levels}.")
        self.levels = tuple(levels)
        self.pooling = pooling

    def call(self, inputs):
        reduce = tf.reduce_max if self.pooling == "max" else tf.reduce_mean
        time = tf.shape(inputs)[1]
        pooled = []
        for level in self.levels:
            for index in range(level):
                start = (index * time) // level
                stop = -((-(index + 1) * time) // level)  # ceil division
                pooled.append(reduce(inputs[:, start:stop], axis=1))
        return tf.concat(pooled, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], sum(self.levels) * input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(levels=list(self.levels), pooling=self.pooling)
        return config
