"""face_geometry: the crop window, the crop's regions and the lip topology, in one place."""

import numpy as np

from lipsync_tf import face_geometry as geometry


def test_lip_mirror_order_swaps_left_and_right_points():
    lips = geometry.LIPS
    order = geometry.lip_mirror_order()
    assert sorted(order) == list(range(40))
    assert all(order[order[i]] == i for i in range(40))  # an involution
    midline = [lips.index(point) for point in (0, 13, 14, 17)]
    assert [i for i in range(40) if order[i] == i] == sorted(midline)
    assert lips[order[lips.index(61)]] == 291  # the mouth corners swap


def test_crop_window_has_the_crop_aspect_and_sits_a_little_below_the_box():
    box = geometry.FaceBox(100.0, 50.0, 200.0, 170.0)
    window = geometry.crop_window(box)
    np.testing.assert_allclose(window.width, 100.0 * geometry.CROP_WIDTH_SCALE)
    np.testing.assert_allclose(window.height / window.width, 128 / 96)
    np.testing.assert_allclose(window.center, (150.0, 110.0 + geometry.CROP_CENTER_SHIFT * 120.0))


def test_regions_keep_the_eyes_out_of_what_speech_may_change():
    prior = geometry.lower_face_prior()[..., 0]
    eyes = slice(30, 50)
    assert prior[eyes].max() == 0.0
    assert prior[86, 48] == 1.0  # the mouth
    assert geometry.lower_half_weights()[:64].max() == 0.0
    assert geometry.lower_half_weights()[64:].min() == 1.0
    # Scaled to any window, the paste mask is the same region.
    large = geometry.lower_face_paste_mask(256, 192)
    np.testing.assert_allclose(
        large[::2, ::2].mean(), geometry.lower_face_paste_mask(128, 96).mean(), atol=0.01
    )


def test_lip_gap_is_the_inner_lip_opening():
    lips = np.zeros((40, 2), np.float32)
    upper, lower = geometry.INNER_LIP_GAP
    lips[upper, 1], lips[lower, 1] = 1.00, 1.07
    np.testing.assert_allclose(geometry.lip_gap(lips), 0.07, rtol=1e-6)
    assert geometry.LIPS[upper] == geometry.UPPER_INNER_LIP
    assert geometry.LIPS[lower] == geometry.LOWER_INNER_LIP


def test_lip_contour_smoothing_spreads_a_point_along_its_own_contour_only():
    smoothing = geometry.lip_contour_smoothing()
    np.testing.assert_allclose(smoothing.sum(axis=1), 1.0)  # a shift of every point stays
    outer = geometry.contour_positions(geometry.OUTER_LIP_CONTOUR)
    inner = geometry.contour_positions(geometry.INNER_LIP_CONTOUR)
    impulse = np.zeros(len(geometry.LIPS))
    impulse[outer[0]] = 16.0
    spread = smoothing @ impulse
    # [1, 2, 1] / 4 twice is [1, 4, 6, 4, 1] / 16 around the closed outer contour.
    np.testing.assert_allclose(spread[[outer[-2], outer[-1], outer[0], outer[1], outer[2]]],
                               [1, 4, 6, 4, 1])  # fmt: skip
    assert spread[inner].sum() == 0
