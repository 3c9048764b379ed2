"""Bilinear warping of images by a dense displacement field, with TFLite builtin ops only.

(tensorflow-addons' dense_image_warp would do this, but addons does not import with Keras 3; the
flat-index gather below converts to TFLite's GATHER builtin.)
"""

from __future__ import annotations

import tensorflow as tf


def warp_images(images: tf.Tensor, flow: tf.Tensor) -> tf.Tensor:
    """Output pixel (y, x) = images at (y + flow_y, x + flow_x), bilinear, clamped at the edges.

    images: float32 [n, height, width, channels]; flow: float32 [n, height, width, 2] in pixels,
    (x, y) order. Returns float32 [n, height, width, channels].
    """
    shape = tf.shape(images)
    n, height, width = shape[0], images.shape[1], images.shape[2]
    rows = tf.range(height, dtype=tf.float32)[None, :, None]
    cols = tf.range(width, dtype=tf.float32)[None, None, :]
    x = tf.clip_by_value(cols + flow[..., 0], 0.0, width - 1.0)
    y = tf.clip_by_value(rows + flow[..., 1], 0.0, height - 1.0)
    x0, y0 = tf.floor(x), tf.floor(y)
    wx, wy = (x - x0)[..., None], (y - y0)[..., None]
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    x1, y1 = tf.minimum(x0 + 1, width - 1), tf.minimum(y0 + 1, height - 1)
    flat = tf.reshape(images, [-1, images.shape[-1]])
    base = (tf.range(n) * (height * width))[:, None, None]

    def pick(row, col):
        return tf.gather(flat, base + row * width + col)

    top = pick(y0, x0) * (1.0 - wx) + pick(y0, x1) * wx
    bottom = pick(y1, x0) * (1.0 - wx) + pick(y1, x1) * wx
    return top * (1.0 - wy) + bottom * wy
