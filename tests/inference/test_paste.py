"""Paste-back: feathered elliptical mask, windows past the picture's edge."""

import numpy as np
import pytest

from lipsync_tf.face_geometry import FaceBox, face_paste_mask, lower_face_paste_mask
from lipsync_tf.inference.paste import Paster


def test_face_paste_mask_is_one_in_the_middle_zero_at_the_corners_and_smooth():
    mask = face_paste_mask(128, 96)
    assert mask.shape == (128, 96)
    assert mask[64, 48] == 1.0
    assert mask[0, 0] == 0.0 and mask[-1, -1] == 0.0
    # Soft edge: many intermediate values, and at 96 px wide no step above 12% between pixels.
    assert ((mask > 0.05) & (mask < 0.95)).sum() > 1000
    assert np.abs(np.diff(mask, axis=0)).max() < 0.12
    assert np.abs(np.diff(mask, axis=1)).max() < 0.12


def test_paste_changes_only_the_window_and_keeps_the_picture_size(rng):
    picture = rng.integers(0, 256, (300, 401, 3), dtype=np.uint8)
    face = np.full((128, 96, 3), 255, np.uint8)
    window = FaceBox(100.0, 50.0, 196.0, 178.0)
    pasted = Paster(picture.shape, window).paste(picture, face)
    assert pasted.shape == picture.shape
    changed = np.any(pasted != picture, axis=-1)
    rows, cols = np.nonzero(changed)
    assert rows.min() >= 50 and rows.max() < 178 and cols.min() >= 100 and cols.max() < 196
    assert (pasted[114, 148] == 255).all()  # window centre is fully the generated face
    np.testing.assert_array_equal(picture[0, 0], pasted[0, 0])


def test_paste_handles_a_window_reaching_past_the_picture_edge(rng):
    picture = rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)
    face = np.zeros((128, 96, 3), np.uint8)
    window = FaceBox(-40.0, 60.0, 56.0, 188.0)  # left and bottom outside
    pasted = Paster(picture.shape, window).paste(picture, face)
    assert pasted.shape == picture.shape
    assert (pasted[119, 5] <= picture[119, 5]).all()
    assert np.any(pasted != picture)
    far_outside = Paster(picture.shape, FaceBox(500.0, 500.0, 596.0, 628.0))
    np.testing.assert_array_equal(far_outside.paste(picture, face), picture)


def test_a_blending_model_pastes_only_the_lower_face(rng):
    from lipsync_tf.config import ModelConfig
    from lipsync_tf.inference.paste import paste_region

    assert paste_region(ModelConfig(blend_mask=True)) is lower_face_paste_mask
    assert paste_region(ModelConfig()) is face_paste_mask
    picture = rng.integers(0, 256, (400, 300, 3), dtype=np.uint8)
    face = np.full((128, 96, 3), 255, np.uint8)
    window = FaceBox(60.0, 40.0, 252.0, 296.0)  # 192 x 256: twice the crop
    pasted = Paster(picture.shape, window, lower_face_paste_mask).paste(picture, face)
    changed = np.any(pasted != picture, axis=-1)
    rows, _ = np.nonzero(changed)
    # Nothing from the nose up (crop rows < 54 -> picture rows < 40 + 108) is touched: the
    # photo keeps its own eyes at full resolution; the mouth (crop row 86, col 48) is pasted.
    assert rows.min() >= 40 + 2 * 53
    assert (pasted[40 + 2 * 86, 60 + 2 * 48] == 255).all()
    mask = lower_face_paste_mask(256, 192)
    assert np.abs(np.diff(mask, axis=0)).max() < 0.12  # a soft seam


@pytest.mark.parametrize("region", ["feather", "lower_face"])
def test_paste_is_the_mask_weighted_average_of_face_and_picture(rng, region):
    import cv2

    mask_of = {"feather": face_paste_mask, "lower_face": lower_face_paste_mask}[region]
    picture = rng.integers(0, 256, (300, 260, 3), dtype=np.uint8)
    face = rng.integers(0, 256, (128, 96, 3), dtype=np.uint8)
    window = FaceBox(-30.0, 90.0, 162.0, 346.0)  # 192 x 256, past the left and bottom edges
    pasted = Paster(picture.shape, window, mask_of).paste(picture, face)
    # The whole window, blended in float, then cut to the picture.
    resized = cv2.resize(face, (192, 256), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    mask = mask_of(256, 192)[..., None]
    inside = picture[90:300, 0:162].astype(np.float32)
    expected = inside + mask[:210, 30:] * (resized[:210, 30:] - inside)
    difference = np.abs(pasted[90:300, 0:162].astype(np.float32) - expected)
    assert difference.max() <= 1.0  # rounding
    assert np.any(pasted[90:300, 0:162] != picture[90:300, 0:162])
    np.testing.assert_array_equal(pasted[:90], picture[:90])
    np.testing.assert_array_equal(pasted[:, 162:], picture[:, 162:])
