"""PhotoCompositor: the generator's warp-and-draw equation, applied at the photo's resolution."""

import cv2
import numpy as np
import tensorflow as tf

from lipsync_tf.face_geometry import FaceBox, lower_face_prior
from lipsync_tf.inference.composite import PhotoCompositor
from lipsync_tf.models.warp import warp_images


def _textured(height, width, rng):
    """A smooth random picture (bilinear interpolation of it is close to the truth)."""
    small = rng.integers(0, 256, (height // 8 + 2, width // 8 + 2, 3)).astype(np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def _layers(flow_xy=(0.0, 0.0), mask_value=0.0):
    prior = lower_face_prior()
    flow = (prior * np.array(flow_xy, np.float32)).astype(np.float32)
    mask = (prior * mask_value).astype(np.float32)
    drawn = np.full((128, 96, 3), 20, np.uint8)
    return flow, mask, drawn


def test_no_motion_and_a_closed_mask_leave_the_photo_as_it_is(rng):
    photo = _textured(600, 500, rng)
    compositor = PhotoCompositor(photo.shape, FaceBox(100.0, 50.0, 400.0, 450.0))
    np.testing.assert_array_equal(compositor.compose(photo, *_layers()), photo)


def test_the_photo_moves_by_the_flow_scaled_to_the_window(rng):
    photo = _textured(600, 500, rng)
    window = FaceBox(100.0, 50.0, 400.0, 450.0)  # 3.125x the crop in both directions
    composed = PhotoCompositor(photo.shape, window).compose(photo, *_layers((0.0, 2.0)))
    # Inside the prior's core (crop rows 64-108, columns 26-70) the output reads the photo
    # 2 crop pixels = 6.25 photo pixels lower.
    core = np.s_[
        int(50 + 70 * 3.125) : int(50 + 100 * 3.125), int(100 + 30 * 3.125) : int(100 + 66 * 3.125)
    ]
    rows = np.arange(600, dtype=np.float32)
    shifted = np.stack(
        [np.interp(rows + 6.25, rows, photo[:, x, c]) for x in range(500) for c in range(3)], -1
    ).reshape(600, 500, 3)
    error = np.abs(composed[core].astype(float) - shifted[core])
    assert error.mean() < 1.0
    # Eyes and everything above the nose are the photo's own pixels.
    np.testing.assert_array_equal(composed[: int(50 + 40 * 3.125)], photo[: int(50 + 40 * 3.125)])


def test_at_the_crops_own_size_it_makes_the_generators_frame(rng):
    still = _textured(128, 96, rng)
    flow = (lower_face_prior() * rng.uniform(-3, 3, (1, 1, 2))).astype(np.float32)
    mask = (lower_face_prior() * 0.6).astype(np.float32)
    drawn = rng.integers(0, 256, (128, 96, 3)).astype(np.uint8)
    window = FaceBox(0.0, 0.0, 96.0, 128.0)
    # Bilinear taps and the layers as drawn, as the graph composes (the defaults, bicubic taps
    # and smoothed layers, look better at photo size).
    composed = PhotoCompositor(
        still.shape, window, interpolation=cv2.INTER_LINEAR, smooth_drawn=False
    ).compose(still, flow, mask, drawn)
    # The generator's own equation, in TensorFlow.
    warped = warp_images(tf.constant(still[None], tf.float32), tf.constant(flow[None]))[0]
    expected = mask * drawn.astype(np.float32) + (1 - mask) * warped.numpy()
    assert np.abs(composed.astype(float) - expected).max() <= 1.0


def test_bicubic_taps_keep_a_moved_edge_sharper_than_bilinear(rng):
    photo = np.zeros((600, 500, 3), np.uint8)
    photo[:, ::2] = 255  # the sharpest texture there is: alternate columns
    window = FaceBox(100.0, 50.0, 400.0, 450.0)
    layers = _layers((0.5 / 3.125, 0.0))  # half a photo pixel to the side
    sharp = PhotoCompositor(photo.shape, window).compose(photo, *layers)
    soft = PhotoCompositor(photo.shape, window, interpolation=cv2.INTER_LINEAR).compose(
        photo, *layers
    )
    core = np.s_[350:400, 200:300]
    assert sharp[core].std() > 1.2 * soft[core].std()


def test_a_window_past_the_picture_edge_composes_the_part_inside(rng):
    photo = _textured(200, 150, rng)
    window = FaceBox(60.0, 20.0, 180.0, 180.0)  # its right part is outside the picture
    composed = PhotoCompositor(photo.shape, window).compose(photo, *_layers((1.0, 0.0), 1.0))
    assert composed.shape == photo.shape
    assert (composed != photo).any()


def test_drawn_stripes_of_alternate_rows_do_not_reach_the_photo(rng):
    # A stride-2 transposed conv leaves alternate rows in the drawn layer; scaled up 3.125x
    # they were dark stripes across an open mouth.
    photo = _textured(600, 500, rng)
    window = FaceBox(100.0, 50.0, 400.0, 450.0)
    flow, mask, _ = _layers(mask_value=1.0)
    drawn = np.full((128, 96, 3), 60, np.uint8)
    drawn[::2] = 140
    core = np.s_[int(50 + 75 * 3.125) : int(50 + 100 * 3.125), 220:280]

    def row_swing(smooth):
        composed = PhotoCompositor(photo.shape, window, smooth_drawn=smooth).compose(
            photo, flow, mask, drawn
        )
        rows = composed[core].astype(float).mean(axis=(1, 2))
        return rows.max() - rows.min(), rows.mean()

    striped, striped_mean = row_swing(False)
    smooth, smooth_mean = row_swing(True)
    assert striped > 60  # the stripes, as the layer has them
    assert smooth < 3  # gone
    assert abs(smooth_mean - 100) < 3 and abs(striped_mean - 100) < 10  # the mean colour kept


def test_a_mouth_open_by_one_row_stays_as_dark_as_drawn(rng):
    photo = np.full((600, 500, 3), 200, np.uint8)
    window = FaceBox(100.0, 50.0, 400.0, 450.0)
    flow, _, _ = _layers()
    mask = np.zeros((128, 96, 1), np.float32)
    mask[90, 40:56] = 1.0  # the gap between the lips, one crop row tall
    drawn = np.full((128, 96, 3), 20, np.uint8)
    composed = PhotoCompositor(photo.shape, window).compose(photo, flow, mask, drawn)
    row = int(50 + 90.5 * 3.125)  # the middle of crop row 90 in the photo
    darkest = composed[row - 2 : row + 3, 100 + 44 * 3 : 100 + 52 * 3].mean(axis=(1, 2)).min()
    assert darkest < 40  # 200 -> 20 where drawn, not half of it
