"""Bilinear warping of images by a dense displacement field, with TFLite builtin ops only.

(tensorflow-addons' dense_image_warp would do this, but addons does not import with Keras 3; the
flat-index gather below converts to TFLite's GATHER builtin.)
"""

from __future__ import annotations

import tensorflow as tf


def warp_images(images: tf.Tensor, flow: tf.Tensor) -> tf.Tensor:
    """Output pixel (y, x) = images at (y + flow_y, x + flow_x), bilinear, clamped at the edges.

    images: float32 [n, height, width, channels]; flow: float32 [n, height, width, 2] in pixels,
    (x, y) order, or [n, frames, height, width, 2] for several frames that each warp their own
    image (read in place, not repeated). Returns float32 [*flow.shape[:-1], channels].
    """
    height, width = images.shape[1], images.shape[2]
    rows = tf.range(height, dtype=tf.float32)[None, :, None]
    cols = tf.range(width, dtype=tf.float32)[None, None, :]
    return _bilinear(images, cols + flow[..., 0], rows + flow[..., 1])


def sample_points(images: tf.Tensor, points: tf.Tensor) -> tf.Tensor:
    """images at sub-pixel points, bilinear, clamped at the edges.

    images: float32 [n, height, width, channels]; points: float32 [n, k, 2] (x, y) pixels.
    Returns float32 [n, k, channels].
    """
    return _bilinear(images, points[..., 0], points[..., 1])


def _bilinear(images: tf.Tensor, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """images [n, height, width, channels] read at pixel coordinates x, y ([n, ...] each, entry i
    reading image i), bilinear, clamped at the edges: [n, ..., channels]."""
    n, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    x = tf.clip_by_value(x, 0.0, width - 1.0)
    y = tf.clip_by_value(y, 0.0, height - 1.0)
    x0, y0 = tf.floor(x), tf.floor(y)
    wx, wy = (x - x0)[..., None], (y - y0)[..., None]
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    x1, y1 = tf.minimum(x0 + 1, width - 1), tf.minimum(y0 + 1, height - 1)
    flat = tf.reshape(images, [-1, images.shape[-1]])
    # The flat index of each entry's image: one per leading entry, broadcast over the rest.
    base = tf.reshape(tf.range(n) * (height * width), [-1] + [1] * (len(x.shape) - 1))

    def pick(row, col):
        return tf.gather(flat, base + row * width + col)

    top = pick(y0, x0) * (1.0 - wx) + pick(y0, x1) * wx
    bottom = pick(y1, x0) * (1.0 - wx) + pick(y1, x1) * wx
    return top * (1.0 - wy) + bottom * wy
