"""Lip-shape reader: a face crop -> its 40 normalised lip landmarks, as a differentiable network.

MediaPipe's face mesh gives the lips of real crops, but it runs outside the graph and has no
gradients. This small CNN is trained to reproduce the mesh's normalised lips
(`landmarks.normalized_lips`) from the crop, then frozen: on generated frames it measures the
mouth shape the generator drew, so a loss in mouth-shape space can reach the generator. Copying
the still's mouth then costs what the mouth should have moved, however blurry the pixels.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from lipsync_tf.config import IMAGE_CHANNELS, IMAGE_HEIGHT, IMAGE_WIDTH
from lipsync_tf.models.building import build_sequence, crop_regressor_layers

NUM_LIP_POINTS = 40


@keras.saving.register_keras_serializable(package="lipsync_tf")
class LipReader(keras.Model):
    """5 stride-2 convs (128x96 -> 4x3) -> dense -> 40 (x, y) lip points.

    frames: float32 [batch, 128, 96, 3] in [-1, 1].
    returns: float32 [batch, 40, 2], lips in the face frame of `landmarks.normalized_lips`
    (origin between the outer eye corners, unit = their distance), which needs the eyes: the
    network sees the whole crop.
    """

    def __init__(self, filters=(16, 32, 64, 96, 128), fc_units=256, **kwargs):
        super().__init__(**kwargs)
        self.filters = tuple(filters)
        self.fc_units = fc_units
        self.body = crop_regressor_layers(self.filters, fc_units, NUM_LIP_POINTS * 2, "lips")

    def build(self, input_shape=None):
        build_sequence(self.body, (None, IMAGE_HEIGHT, IMAGE_WIDTH, IMAGE_CHANNELS))
        self.built = True

    def call(self, frames, training=None):
        x = frames
        for layer in self.body:
            x = layer(x, training=training)
        return tf.reshape(x, [-1, NUM_LIP_POINTS, 2])

    def get_config(self):
        config = super().get_config()
        config.update(filters=list(self.filters), fc_units=self.fc_units)
        return config
