"""Group normalisation of images from per-channel sums: Keras's function in fewer passes.

`keras.layers.GroupNormalization` reshapes the image into groups and takes two-pass moments over
5-D tensors before applying them, several passes over the largest activations of the decoder.
This layer computes each channel's mean and spread over the image (4-D reductions that every
backend, TFLite's XNNPACK included, runs well), combines them per group on tiny tensors, and
applies the result as one scale and offset per channel. Same weights, same function up to
float rounding, in training and inference alike.
"""

from __future__ import annotations

import keras
import tensorflow as tf


# Same class name as Keras's layer on purpose: weight files name a layer's group after its class,
# so checkpoints written with keras.layers.GroupNormalization load into this one unchanged.
@keras.saving.register_keras_serializable(package="lipsync_tf")
class GroupNormalization(keras.layers.GroupNormalization):
    """keras.layers.GroupNormalization; images [batch, height, width, channels] take the fast
    path, any other input Keras's own computation."""

    def call(self, inputs):
        if len(inputs.shape) != 4 or self.axis not in (-1, 3) or inputs.dtype != tf.float32:
            return super().call(inputs)
        channels = inputs.shape[-1]
        grouped = [-1, self.groups, channels // self.groups]
        # Per channel: the mean, and the variance about a sample of the channel (its first
        # pixel) rather than about zero, so that a mean far from zero cannot cancel it away.
        mean = tf.reduce_mean(inputs, axis=[1, 2])
        # (A difference times itself rather than tf.math.squared_difference: the same speed in
        # TF, but LiteRT's int8 SquaredDifference with broadcasting is 15x slower than both.)
        shift = tf.stop_gradient(inputs[:, :1, :1, :])  # the result does not depend on it
        deviation = inputs - shift
        variance = tf.reduce_mean(deviation * deviation, axis=[1, 2])
        offset = mean - shift[:, 0, 0, :]
        variance = variance - offset * offset
        # Per group: the channels' variances plus the variance of their means.
        mean, variance = tf.reshape(mean, grouped), tf.reshape(variance, grouped)
        group_mean = tf.reduce_mean(mean, axis=-1, keepdims=True)
        spread = mean - group_mean
        between = tf.reduce_mean(spread * spread, axis=-1, keepdims=True)
        variance = tf.reduce_mean(variance, axis=-1, keepdims=True) + between
        # Rounding can leave a constant group a hair below zero.
        variance = tf.maximum(variance, 0.0)
        scale = tf.math.rsqrt(variance + self.epsilon)
        if self.scale:
            scale = scale * tf.reshape(self.gamma, grouped[1:])
        offset = -group_mean * scale
        if self.center:
            offset = offset + tf.reshape(self.beta, grouped[1:])
        scale = tf.reshape(scale, [-1, 1, 1, channels])
        offset = tf.reshape(offset, [-1, 1, 1, channels])
        return inputs * scale + offset
