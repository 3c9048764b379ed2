"""Mouth discriminator: is this the inside of a real mouth of the person in the still?

The frame discriminator sees the whole 128x96 face, where the mouth's inside is a few dozen
pixels; an L1 loss on those pixels is smallest for the average of every mouth the speech could
make, a dark blur without teeth. This discriminator sees the mouth alone, cut out at a fixed
patch size around the lips (`mouth_patches`), so drawing the dark average costs as much as
drawing no mouth at all.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from lipsync_tf.config import IMAGE_CHANNELS, IMAGE_HEIGHT, IMAGE_WIDTH
from lipsync_tf.models.building import build_sequence

# The patch (rows, columns) every mouth is resampled to, and its width over the lips' width
# (corner to corner): the lips with a band of skin around them, whatever the framing.
MOUTH_PATCH_SIZE = (32, 48)
MOUTH_PATCH_MARGIN = 1.5


def mouth_patches(images: tf.Tensor, lip_points: tf.Tensor) -> tf.Tensor:
    """The mouth of each image, resampled to MOUTH_PATCH_SIZE (bilinear, differentiable).

    images float32 [n, 128, 96, 3]; lip_points float32 [n, 40, 2], the lips in the image's
    pixels (x, y; pixel centres at integers). The box is centred on the lips, MOUTH_PATCH_MARGIN
    times their width and as tall as the patch's aspect ratio makes it.
    returns float32 [n, *MOUTH_PATCH_SIZE, 3].
    """
    low, high = tf.reduce_min(lip_points, axis=1), tf.reduce_max(lip_points, axis=1)
    centre = (low + high) / 2.0
    half_width = tf.maximum(high[:, 0] - low[:, 0], 4.0) * MOUTH_PATCH_MARGIN / 2.0
    half_height = half_width * MOUTH_PATCH_SIZE[0] / MOUTH_PATCH_SIZE[1]
    # crop_and_resize's coordinates: 0 is the first pixel centre, 1 the last.
    boxes = tf.stack(
        [
            (centre[:, 1] - half_height) / (IMAGE_HEIGHT - 1),
            (centre[:, 0] - half_width) / (IMAGE_WIDTH - 1),
            (centre[:, 1] + half_height) / (IMAGE_HEIGHT - 1),
            (centre[:, 0] + half_width) / (IMAGE_WIDTH - 1),
        ],
        axis=1,
    )
    indices = tf.range(tf.shape(images)[0])
    return tf.image.crop_and_resize(images, boxes, indices, MOUTH_PATCH_SIZE)


@keras.saving.register_keras_serializable(package="lipsync_tf")
class MouthDiscriminator(keras.Model):
    """Mouth patch of a frame concatenated with the still's -> strided convs -> a logit per
    patch cell, averaged (a PatchGAN: it judges texture, teeth and gap, where it is).

    Conditioning on the still's mouth makes it judge whether these are this person's lips and
    teeth colour, not only whether they are a mouth.

    inputs: (frame patch float32 [n, 32, 48, 3], still patch float32 [n, 32, 48, 3]), [-1, 1]
    (`mouth_patches`). returns: logit float32 [n, 1] (higher = real).
    """

    def __init__(self, filters=(64, 128, 256), **kwargs):
        super().__init__(**kwargs)
        self.filters = tuple(filters)
        self.concat = keras.layers.Concatenate(name="mouth_and_still")
        self.body = []
        for index, width in enumerate(self.filters):
            self.body += [
                keras.layers.Conv2D(width, 4, strides=2, padding="same", name=f"conv{index}"),
                keras.layers.LeakyReLU(0.2, name=f"act{index}"),
            ]
        self.body += [
            keras.layers.Conv2D(1, 3, padding="same", name="cell_logits"),
            keras.layers.GlobalAveragePooling2D(name="mean_over_cells"),
        ]

    def build(self, input_shape):
        build_sequence(self.body, (None, *MOUTH_PATCH_SIZE, 2 * IMAGE_CHANNELS))
        self.built = True

    def call(self, inputs, training=None):
        patch, still_patch = inputs
        x = self.concat([patch, still_patch])
        for layer in self.body:
            x = layer(x, training=training)
        return x

    def get_config(self):
        config = super().get_config()
        config.update(filters=list(self.filters))
        return config
