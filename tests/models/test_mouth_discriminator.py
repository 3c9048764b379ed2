"""MouthDiscriminator and the mouth patch it judges."""

import numpy as np
import tensorflow as tf

from lipsync_tf.models import MouthDiscriminator
from lipsync_tf.models.mouth_discriminator import MOUTH_PATCH_SIZE, mouth_patches


def _lips(centre_x, centre_y, width):
    """40 points on an ellipse as wide as `width` (x, y crop pixels): a stand-in for lips."""
    angles = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    xs = centre_x + width / 2 * np.cos(angles)
    ys = centre_y + width / 6 * np.sin(angles)
    return np.stack([xs, ys], -1).astype(np.float32)


def _face_with_mouth(centre_x, centre_y, width):
    """A grey image with a white bar where the lips are, as wide as them."""
    image = np.full((128, 96, 3), -0.5, np.float32)
    half = width / 2
    image[int(centre_y - 2) : int(centre_y + 3), int(centre_x - half) : int(centre_x + half)] = 1
    return image


def test_the_patch_is_the_mouth_wherever_it_is_and_however_large():
    small = (_face_with_mouth(40, 90, 24), _lips(40, 90, 24))
    large = (_face_with_mouth(50, 100, 40), _lips(50, 100, 40))
    images = tf.constant(np.stack([small[0], large[0]]))
    patches = mouth_patches(images, tf.constant(np.stack([small[1], large[1]]))).numpy()
    assert patches.shape == (2, *MOUTH_PATCH_SIZE, 3)
    rows, cols = MOUTH_PATCH_SIZE
    for patch in patches:
        # The bar is in the middle row, spanning 1 / MOUTH_PATCH_MARGIN of the width.
        assert patch[rows // 2, cols // 2].min() > 0.9
        assert patch[rows // 2, cols // 2 - 12 : cols // 2 + 12].min() > 0.5
        assert patch[rows // 2, :4].max() < -0.4 and patch[rows // 2, -4:].max() < -0.4
        assert patch[:6].max() < -0.4 and patch[-6:].max() < -0.4
    # Same mouth relative to its size: about the same patch.
    assert np.abs(patches[0] - patches[1]).mean() < 0.1


def test_gradients_reach_the_frame_through_the_patch():
    image = tf.Variable(np.stack([_face_with_mouth(48, 95, 30)]))
    with tf.GradientTape() as tape:
        patch = mouth_patches(image, tf.constant(_lips(48, 95, 30)[None]))
        total = tf.reduce_sum(patch)
    gradient = tape.gradient(total, image).numpy()[0].sum(-1)
    assert gradient[95, 48] > 0  # the mouth
    assert gradient[20, 48] == 0 and gradient[95, 5] == 0  # eyes, cheek


def test_it_scores_each_mouth_against_the_stills(rng):
    discriminator = MouthDiscriminator(filters=(8, 16, 16))
    patch = rng.uniform(-1, 1, (3, *MOUTH_PATCH_SIZE, 3)).astype(np.float32)
    still = rng.uniform(-1, 1, (3, *MOUTH_PATCH_SIZE, 3)).astype(np.float32)
    logits = discriminator((patch, still)).numpy()
    assert logits.shape == (3, 1)
    other = rng.uniform(-1, 1, still.shape).astype(np.float32)
    assert np.abs(discriminator((patch, other)).numpy() - logits).max() > 1e-5
