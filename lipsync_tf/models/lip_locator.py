"""Lip locator: a face crop -> where the face mesh's lip, jaw, cheek, nose and eye-corner points
are in it, in the crop's pixels.

The photo-lip rig (`inference/lip_rig.py`) moves the photo's own lips, which it finds with
MediaPipe's face mesh. The serving signatures take only a crop and must stay one graph, so the
in-graph rig (`export/lip_rig_graph.py`) finds them with this small CNN instead, trained on the
face mesh's points over real crops at every framing other tools produce
(`training/experts.py`, kind `lip_locator`).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from lipsync_tf.config import IMAGE_CHANNELS, IMAGE_HEIGHT, IMAGE_WIDTH
from lipsync_tf.face_geometry import RIG_POINTS
from lipsync_tf.models.building import build_sequence, crop_regressor_layers

NUM_RIG_POINTS = len(RIG_POINTS)


@keras.saving.register_keras_serializable(package="lipsync_tf")
class LipLocator(keras.Model):
    """5 stride-2 convs (128x96 -> 4x3) -> dense -> the `RIG_POINTS` (x, y).

    frames: float32 [batch, 128, 96, 3] in [-1, 1].
    returns: float32 [batch, len(RIG_POINTS), 2], the face mesh's points `RIG_POINTS` in crop
    pixels (x right, y down; the network's outputs are in crop widths and heights from the
    centre, so they start near the middle of the crop).
    """

    def __init__(self, filters=(32, 64, 96, 128, 160), fc_units=256, **kwargs):
        super().__init__(**kwargs)
        self.filters = tuple(filters)
        self.fc_units = fc_units
        self.body = crop_regressor_layers(self.filters, fc_units, NUM_RIG_POINTS * 2, "points")

    def build(self, input_shape=None):
        build_sequence(self.body, (None, IMAGE_HEIGHT, IMAGE_WIDTH, IMAGE_CHANNELS))
        self.built = True

    def call(self, frames, training=None):
        x = frames
        for layer in self.body:
            x = layer(x, training=training)
        relative = tf.reshape(x, [-1, NUM_RIG_POINTS, 2])
        size = tf.constant([IMAGE_WIDTH, IMAGE_HEIGHT], tf.float32)
        return (relative + 0.5) * size

    def get_config(self):
        config = super().get_config()
        config.update(filters=list(self.filters), fc_units=self.fc_units)
        return config
