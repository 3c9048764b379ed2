"""Metric functions on constructed inputs whose answer is known."""

import math

import cv2
import numpy as np
import pytest

from lipsync_tf import face_geometry as mesh
from lipsync_tf.evaluation import metrics


@pytest.fixture
def textured_video(rng) -> np.ndarray:
    """uint8 [6, 128, 96, 3]: smooth random texture with sharp rectangles, slightly moving."""
    base = cv2.GaussianBlur(rng.uniform(0, 255, (128, 96, 3)), (0, 0), 3)
    frames = []
    for t in range(6):
        frame = base.copy()
        cv2.rectangle(frame, (20 + t, 30), (70 + t, 90), (230, 40, 40), -1)
        cv2.circle(frame, (48, 70 - t), 12, (20, 20, 200), -1)
        frames.append(frame)
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


def fake_landmarks(rng, frames: int = 20) -> np.ndarray:
    """float32 [T, 468, 2] points spread over a 96x128 crop, eye corners ~40 px apart."""
    points = rng.uniform([10, 10], [86, 118], (frames, mesh.NUM_LANDMARKS, 2))
    points[:, mesh.RIGHT_EYE_OUTER] = (28, 50)
    points[:, mesh.LEFT_EYE_OUTER] = (68, 50)
    return points.astype(np.float32)


def test_identical_videos_have_ssim_one_and_infinite_psnr(textured_video):
    assert metrics.ssim(textured_video, textured_video) == pytest.approx(1.0, abs=1e-6)
    mouth = metrics.mouth_region(textured_video)
    assert metrics.ssim(mouth, mouth) == pytest.approx(1.0, abs=1e-6)
    assert metrics.psnr(textured_video, textured_video) == math.inf


def test_psnr_of_a_constant_one_level_error_is_20_log10_255(textured_video):
    brighter = np.clip(textured_video.astype(np.int16) + 1, 0, 255).astype(np.uint8)
    darker = brighter - 1  # exactly one level below everywhere
    assert metrics.psnr(brighter, darker) == pytest.approx(20 * math.log10(255), abs=1e-9)


def test_psnr_pools_the_squared_error_over_frames_before_the_log():
    # Frame errors of 1 and 3 levels: pooled MSE (1 + 9) / 2 = 5. The mean of per-frame PSNRs
    # would be 10 log10(255^2 / 3) (1.9 dB higher), and one exact frame would make it infinite.
    real = np.full((2, 8, 8, 3), 100, np.uint8)
    generated = real + np.array([1, 3], np.uint8)[:, None, None, None]
    np.testing.assert_array_equal(metrics.frame_mse(real, generated), [1.0, 9.0])
    assert metrics.psnr(real, generated) == pytest.approx(10 * math.log10(255**2 / 5), abs=1e-9)
    exact_first = generated.copy()
    exact_first[0] = real[0]
    assert metrics.psnr(real, exact_first) == pytest.approx(10 * math.log10(255**2 / 4.5))


def test_ssim_drops_with_noise_and_psnr_orders_noise_levels(textured_video, rng):
    def noisy(sigma):
        noise = rng.normal(0, sigma, textured_video.shape)
        return np.clip(textured_video + noise, 0, 255).astype(np.uint8)

    light, heavy = noisy(5), noisy(40)
    assert 0.0 < metrics.ssim(textured_video, heavy) < metrics.ssim(textured_video, light) < 1.0
    assert metrics.psnr(textured_video, heavy) < metrics.psnr(textured_video, light)


def test_mouth_region_is_the_documented_lower_centre_box(textured_video):
    region = metrics.mouth_region(textured_video)
    assert region.shape == (6, 44, 64, 3)
    np.testing.assert_array_equal(region[0], textured_video[0, 56:100, 16:80])


def test_cpbd_edge_width_of_a_linear_ramp_is_the_distance_between_its_extrema():
    # Intensity rises in 6 steps from column 40 (minimum) to column 46 (maximum).
    row = np.zeros(96)
    row[41:47] = np.arange(1, 7) * 36
    row[47:] = 216
    gray = np.tile(row, (128, 1))
    edges = np.zeros_like(gray, bool)
    edges[64, 44] = True
    widths = metrics._edge_widths(gray, edges)
    assert widths[64, 44] == 6
    assert np.count_nonzero(widths) == 1
    # The mirrored (falling) edge has the same width.
    falling = metrics._edge_widths(gray[:, ::-1].copy(), edges[:, ::-1].copy())
    assert falling[64, 95 - 44] == 6


def _square_wave(columns: int, ramp: int, amplitude: int, period: int = 32) -> np.ndarray:
    """One row: 20 .. 20 + amplitude and back every `period` px, each rise and fall a linear
    ramp `ramp` px wide (a Marziliano edge width of `ramp`), starting on the low plateau."""
    phase = (np.arange(columns) - period // 4) % period
    rise = np.clip(phase / ramp, 0, 1)
    fall = 1 - np.clip((phase - period // 2) / ramp, 0, 1)
    return 20 + amplitude * np.where(phase < period // 2, rise, fall)


def _vertical_edges(*rows: np.ndarray) -> np.ndarray:
    """uint8 [128, 96]: the given row pieces side by side, repeated down every row."""
    return np.tile(np.round(np.concatenate(rows)), (128, 1)).astype(np.uint8)


@pytest.mark.parametrize(
    "ramp, amplitude, expected",
    [
        # Block contrast > 50: w_JNB = 3. Width 3: P = 1 - exp(-1) = 63.2%, which rounds to the
        # 63% limit and counts as sharp; width 4: P = 1 - exp(-(4/3)^3.6) = 94%, blurred.
        (3, 150, 1.0),
        (4, 200, 0.0),
        (4, 52, 0.0),
        # Contrast <= 50: w_JNB = 5, so the same width 4 gives P = 1 - exp(-0.8^3.6) = 36%.
        (4, 50, 1.0),
        (4, 40, 1.0),
        # Width 6 at low contrast: P = 1 - exp(-1.2^3.6) = 86%, blurred.
        (6, 40, 0.0),
    ],
)
def test_cpbd_of_edges_of_known_width_and_contrast(ramp, amplitude, expected):
    image = _vertical_edges(_square_wave(96, ramp, amplitude))
    assert metrics.cpbd(image) == expected


def test_cpbd_is_the_share_of_sharp_edges_and_counts_the_partial_border_blocks():
    # Columns 0-63 (whole 64x64 blocks): 4 sharp edges per row (width 2, contrast 100);
    # columns 64-95 (partial blocks): 2 blurred ones (width 4, contrast 200). Every edge is
    # one edge pixel per row, so CPBD = 4 / 6. Dropping the partial blocks, as the reference
    # code does, would give 1.
    image = _vertical_edges(_square_wave(64, 2, 100), _square_wave(32, 4, 200))
    assert metrics.cpbd(image) == pytest.approx(4 / 6)


def test_cpbd_is_lower_for_a_blurred_image(textured_video):
    sharp = metrics.cpbd(textured_video[0])
    blurred = metrics.cpbd(cv2.GaussianBlur(textured_video[0], (0, 0), 1.5))
    assert 0.0 <= blurred < sharp <= 1.0
    assert sharp > 0.5


def test_cpbd_of_a_flat_image_is_zero():
    assert metrics.cpbd(np.full((128, 96, 3), 128, np.uint8)) == 0.0


def test_cpbd_is_lower_for_blurred_real_faces(shared_data):
    still = cv2.imread(str(shared_data / "stills" / "sda_example_image.bmp"))[..., ::-1]
    assert still.shape == (128, 96, 3)
    sharp = metrics.cpbd(still)
    values = [metrics.cpbd(cv2.GaussianBlur(still, (0, 0), sigma)) for sigma in (0.8, 1.5, 3)]
    assert sharp > values[0] > values[1] >= values[2]


def test_identical_landmarks_have_zero_distance_and_unit_correlation(rng):
    points = fake_landmarks(rng)
    np.testing.assert_array_equal(metrics.landmark_distance(points, points), 0.0)
    opening = metrics.mouth_opening(points)
    assert metrics.pearson(opening, opening) == pytest.approx(1.0)


def test_landmark_distance_ignores_translation_and_measures_lip_scaling(rng):
    points = fake_landmarks(rng)
    shifted = points.copy()
    shifted[:, :, :] += (3.0, -2.0)
    np.testing.assert_allclose(metrics.landmark_distance(points, shifted), 0.0, atol=1e-5)

    lips = list(mesh.LIPS)
    centre = points[:, lips].mean(axis=1, keepdims=True)
    widened = points.copy()
    widened[:, lips] = centre + 1.1 * (points[:, lips] - centre)
    expected = 0.1 * np.linalg.norm(points[:, lips] - centre, axis=-1).mean(axis=1) / 40.0
    np.testing.assert_allclose(metrics.landmark_distance(points, widened), expected, rtol=1e-5)


def test_mouth_opening_is_lip_gap_over_face_height(rng):
    points = fake_landmarks(rng, frames=3)
    points[:, mesh.FOREHEAD] = (48, 10)
    points[:, mesh.CHIN] = (48, 110)
    points[:, mesh.UPPER_INNER_LIP] = (48, 80)
    points[:, mesh.LOWER_INNER_LIP] = [(48, 80), (48, 85), (48, 90)]
    np.testing.assert_allclose(metrics.mouth_opening(points), [0.0, 0.05, 0.1])


def test_pearson_signs_and_constant_series(rng):
    series = rng.normal(size=50)
    assert metrics.pearson(series, -series) == pytest.approx(-1.0)
    assert metrics.pearson(series, 3 * series + 1) == pytest.approx(1.0)
    assert metrics.pearson(series, np.full(50, 0.02)) == 0.0
    assert math.isnan(metrics.pearson([1.0], [2.0]))


def test_audio_energy_is_rms_per_video_frame():
    t = np.arange(16000) / 16000
    audio = np.concatenate([0.5 * np.sin(2 * np.pi * 200 * t), np.zeros(16000)])
    energy = metrics.audio_energy(audio, 50)
    np.testing.assert_allclose(energy[:25], 0.5 / math.sqrt(2), rtol=1e-3)
    np.testing.assert_array_equal(energy[25:], 0.0)
    # Shorter audio than video: the missing tail is silence.
    assert metrics.audio_energy(audio[:1000], 3)[2] == 0.0


@pytest.mark.parametrize("shift", [-4, 0, 3, 7])
def test_av_offset_finds_a_known_shift(rng, shift):
    energy = cv2.GaussianBlur(rng.uniform(0, 1, (1, 120)), (0, 0), 2).reshape(-1)
    mouth = np.roll(energy, shift)  # mouth[t] = energy[t - shift]: video `shift` frames late
    lag, r = metrics.av_offset(mouth, energy, max_lag=10)
    assert lag == shift
    assert r > 0.95


def test_av_offset_of_a_frozen_mouth_is_undefined(rng):
    lag, r = metrics.av_offset(np.full(60, 0.01), rng.uniform(size=60))
    assert lag is None and math.isnan(r)


def test_blinks_are_counted_as_runs_below_the_relative_threshold():
    ear = np.full(100, 0.33)
    ear[10:13] = 0.21
    ear[40] = 0.22
    ear[70:74] = 0.20
    ear[90] = 0.29  # a flicker above 0.8 x median is not a blink
    assert metrics.count_blinks(ear) == 3
    assert metrics.blinks_per_second(ear, fps=25) == pytest.approx(3 / 4)
    assert metrics.count_blinks(np.full(50, 0.3)) == 0


def test_eye_aspect_ratio_of_constructed_eyes(rng):
    points = fake_landmarks(rng, frames=1)
    for corner_a, upper_a, upper_b, corner_b, lower_b, lower_a in (
        mesh.RIGHT_EYE_EAR,
        mesh.LEFT_EYE_EAR,
    ):
        points[0, corner_a], points[0, corner_b] = (0, 0), (20, 0)
        points[0, upper_a], points[0, lower_a] = (7, -3), (7, 3)
        points[0, upper_b], points[0, lower_b] = (13, -3), (13, 3)
    np.testing.assert_allclose(metrics.eye_aspect_ratio(points), [(6 + 6) / (2 * 20)])


def test_laplacian_sharpness_drops_when_the_region_is_blurred(rng):
    image = rng.integers(0, 256, (120, 160, 3)).astype(np.uint8)
    box = (40, 30, 100, 90)
    sharp = metrics.laplacian_sharpness(image, box)
    blurred = metrics.laplacian_sharpness(cv2.GaussianBlur(image, (0, 0), 2.0), box)
    assert blurred < 0.1 * sharp
    flat = np.full_like(image, 90)
    assert metrics.laplacian_sharpness(flat, box) == 0.0


def test_landmark_box_scales_the_points_bounding_box_about_its_centre():
    points = np.zeros((468, 2))
    points[[1, 2]] = [(40, 60), (60, 70)]
    assert metrics.landmark_box(points, [1, 2], widen=1.5, heighten=2.0) == (35, 55, 66, 76)


def test_lip_flesh_is_the_ring_between_the_lip_contours_and_keeps_its_colour():
    points = np.zeros((468, 2))
    angles = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    points[list(mesh.OUTER_LIP_CONTOUR)] = np.stack(
        [50 + 20 * np.cos(angles), 50 + 10 * np.sin(angles)], 1
    )
    points[list(mesh.INNER_LIP_CONTOUR)] = np.stack(
        [50 + 10 * np.cos(angles), 50 + 3 * np.sin(angles)], 1
    )
    flesh = metrics.lip_flesh_mask(points, (100, 100, 3))
    assert flesh[50, 65] and not flesh[50, 50] and not flesh[50, 75]
    image = np.zeros((100, 100, 3), np.uint8)
    image[flesh] = (180, 90, 100)  # a lip pink, on black
    a, b = metrics.mean_ab(image, flesh)
    expected = cv2.cvtColor(np.array([[[180, 90, 100]]], np.float32) / 255, cv2.COLOR_RGB2LAB)
    np.testing.assert_allclose((a, b), expected[0, 0, 1:], atol=1e-3)


def _lips(inner_height):
    points = np.zeros((468, 2))
    angles = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    points[list(mesh.OUTER_LIP_CONTOUR)] = np.stack(
        [50 + 20 * np.cos(angles), 50 + (inner_height + 7) * np.sin(angles)], 1
    )
    points[list(mesh.INNER_LIP_CONTOUR)] = np.stack(
        [50 + 12 * np.cos(angles), 50 + inner_height * np.sin(angles)], 1
    )
    return points


def test_teeth_are_the_inside_of_the_mouth_brighter_than_the_lips():
    points = _lips(6)
    image = np.zeros((100, 100, 3), np.uint8)
    image[metrics.lip_flesh_mask(points, image.shape)] = (170, 80, 90)
    inside = metrics.contour_mask(points, mesh.INNER_LIP_CONTOUR, image.shape)
    image[inside] = (30, 10, 10)  # a dark gap
    assert metrics.bright_inside_fraction(image, points) == 0.0
    image[inside & (np.arange(100)[:, None] < 50)] = (235, 230, 220)  # upper teeth
    assert 0.35 < metrics.bright_inside_fraction(image, points) < 0.65
    # A closed mouth has no inside to show anything.
    assert np.isnan(metrics.bright_inside_fraction(image, _lips(0.5)))
