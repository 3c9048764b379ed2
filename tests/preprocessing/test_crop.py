"""faces.crop_face when shrinking a large face: area-filtered, not aliased."""

import numpy as np

from lipsync_tf.preprocessing import faces


def test_shrinking_fine_stripes_averages_them_instead_of_aliasing():
    # One-pixel black/white stripes; a 384x512 window shrunk 4x to 96x128 must come out as a
    # flat mid grey (bilinear point sampling would pick stripes and give black/white bands).
    image = np.zeros((700, 800, 3), np.uint8)
    image[:, ::2] = 255
    crop = faces.crop_face(image, faces.FaceBox(100.0, 50.0, 484.0, 562.0))
    assert crop.shape == (128, 96, 3)
    assert abs(crop.mean() - 127.5) < 3
    assert crop.std() < 4


def test_shrunk_crop_matches_cropping_then_area_resizing():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (400, 300, 3), dtype=np.uint8)
    window = faces.FaceBox(20.0, 40.0, 212.0, 296.0)  # exactly 2x the 96x128 output
    crop = faces.crop_face(image, window).astype(np.float32)
    expected = image[40:296, 20:212].reshape(128, 2, 96, 2, 3).mean(axis=(1, 3))
    assert np.abs(crop - expected).max() <= 1.0


def test_window_partly_outside_the_image_replicates_the_edge():
    image = np.full((200, 200, 3), 90, np.uint8)
    crop = faces.crop_face(image, faces.FaceBox(-100.0, -150.0, 140.0, 170.0))
    assert crop.shape == (128, 96, 3)
    assert np.all(crop == 90)
