"""Video metrics for talking faces: pure functions on arrays, each with its definition.

Reference metrics compare a generated video with the real one frame by frame (PSNR, SSIM, LMD,
mouth-opening correlation); the others describe one video alone (CPBD sharpness, audio-visual
offset, blinks). Frames are uint8 [T, H, W, 3] RGB; landmarks are MediaPipe face-mesh points
float32 [T, 468, 2 or 3] in crop pixels (see `landmarks.py`).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from lipsync_tf import face_geometry as mesh
from lipsync_tf.face_geometry import LOWER_FACE_ROWS, MOUTH_COLS, MOUTH_ROWS, UPPER_FACE_ROWS

# CPBD constants (Narvekar & Karam 2011).
CPBD_BETA = 3.6
CPBD_BLOCK = 64
CPBD_EDGE_BLOCK_FRACTION = 0.002
CPBD_JNB_PROBABILITY = 0.63
CPBD_MAX_MARGIN = 100


def _check_videos(real: np.ndarray, generated: np.ndarray) -> None:
    if real.shape != generated.shape:
        raise ValueError(f"videos differ in shape: {real.shape} vs {generated.shape}")


def mouth_region(frames: np.ndarray) -> np.ndarray:
    """The fixed lower-centre mouth box: [..., 128, 96, C] -> [..., 44, 64, C]."""
    return frames[..., MOUTH_ROWS, MOUTH_COLS, :]


def upper_face(frames: np.ndarray) -> np.ndarray:
    """Rows above the nose: [..., 128, 96, C] -> [..., 52, 96, C]."""
    return frames[..., UPPER_FACE_ROWS, :, :]


def lower_face_motion(frames: np.ndarray) -> float:
    """Mean absolute change of the lower face from one frame to the next (0-255 units)."""
    lower = frames[:, LOWER_FACE_ROWS].astype(np.float64)
    return float(np.mean(np.abs(np.diff(lower, axis=0)))) if len(frames) > 1 else 0.0


def lower_face_change(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two videos' lower faces, frame by frame (0-255 units)."""
    return float(np.mean(np.abs(a[:, LOWER_FACE_ROWS].astype(np.float64) - b[:, LOWER_FACE_ROWS])))


def frame_mse(real: np.ndarray, generated: np.ndarray) -> np.ndarray:
    """Mean squared error per frame over all pixels and channels: uint8 [T, H, W, C] -> [T]."""
    _check_videos(real, generated)
    difference = real.astype(np.float64) - generated.astype(np.float64)
    return np.mean(difference**2, axis=tuple(range(1, difference.ndim)))


def psnr(real: np.ndarray, generated: np.ndarray) -> float:
    """Peak signal-to-noise ratio of a video in dB, data range 255 (uint8).

    PSNR = 10 log10(255^2 / MSE) with MSE averaged over every pixel, channel and frame: the PSNR
    of the clip as one signal. Averaging per-frame PSNR instead would turn a single frame that
    happens to be identical into an infinite mean. Identical videos give `inf`.
    """
    mse = float(np.mean(frame_mse(real, generated)))
    return math.inf if mse == 0.0 else 10.0 * math.log10(255.0**2 / mse)


def ssim(real: np.ndarray, generated: np.ndarray) -> float:
    """Mean structural similarity over frames (Wang et al. 2004) via `tf.image.ssim`.

    Gaussian window 11x11, sigma 1.5, K1 = 0.01, K2 = 0.03, data range 255, computed per colour
    channel and averaged over channels, pixels (valid windows) and frames. Identical videos give 1.
    Images must be at least 11x11.
    """
    import tensorflow as tf

    _check_videos(real, generated)
    values = tf.image.ssim(
        tf.convert_to_tensor(real, tf.float32),
        tf.convert_to_tensor(generated, tf.float32),
        max_val=255.0,
        filter_size=11,
        filter_sigma=1.5,
        k1=0.01,
        k2=0.03,
    )
    return float(tf.reduce_mean(values))


# ---------------------------------------------------------------------------------------------
# CPBD


def _gray(image: np.ndarray) -> np.ndarray:
    """uint8 RGB [H, W, 3] or gray [H, W] -> float64 8-bit luma (ITU-R BT.601, as MATLAB/PIL)."""
    if image.ndim == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    return image.astype(np.float64)


def _sobel_edges(gray: np.ndarray) -> np.ndarray:
    """MATLAB `edge(I, 'sobel')`: gradient magnitude^2 above 4x its mean, thinned along the
    dominant gradient direction. bool [H, W]."""
    gx = cv2.Sobel(gray, cv2.CV_64F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE) / 8
    gy = cv2.Sobel(gray, cv2.CV_64F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE) / 8
    strength = gx**2 + gy**2
    cutoff = 4 * strength.mean()
    padded = np.pad(strength, 1, mode="constant")
    max_along_x = (strength > padded[1:-1, :-2]) & (strength >= padded[1:-1, 2:])
    max_along_y = (strength > padded[:-2, 1:-1]) & (strength >= padded[2:, 1:-1])
    horizontal = np.abs(gx) >= np.abs(gy)
    thin = np.where(horizontal, max_along_x, max_along_y)
    return (strength > cutoff) & thin & (cutoff > 0)


def _canny_edges(gray: np.ndarray) -> np.ndarray:
    """MATLAB-style automatic Canny: Gaussian sigma sqrt(2), high threshold at the 70th
    percentile of gradient magnitude, low = 0.4 x high. bool [H, W]."""
    smooth = cv2.GaussianBlur(gray, (0, 0), math.sqrt(2), borderType=cv2.BORDER_REPLICATE)
    gx = cv2.Sobel(smooth, cv2.CV_64F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_64F, 0, 1, ksize=3)
    magnitude = np.hypot(gx, gy)
    high = float(np.percentile(magnitude, 70))
    if high <= 1e-9:
        return np.zeros(gray.shape, bool)
    edges = cv2.Canny(gx.astype(np.int16), gy.astype(np.int16), 0.4 * high, high, L2gradient=True)
    return edges > 0


def _runs(mask: np.ndarray, reverse: bool) -> np.ndarray:
    """For each column, how many consecutive True values end there (or start there if reverse),
    counted along each row. int [H, W]."""
    runs = np.zeros(mask.shape, np.int64)
    columns = range(mask.shape[1] - 1, -1, -1) if reverse else range(mask.shape[1])
    previous = np.zeros(mask.shape[0], np.int64)
    for column in columns:
        previous = np.where(mask[:, column], previous + 1, 0)
        runs[:, column] = previous
    return runs


def _edge_widths(gray: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Marziliano et al. edge widths at vertical edges, as in the CPBD reference code.

    For an edge pixel whose gradient points along the row (angle within 22.5 degrees of 0 or
    180), the width is the distance between the intensity extrema on either side of it along
    the row. float64 [H, W], zero where there is no such edge.
    """
    height, width = gray.shape
    gy, gx = np.gradient(gray)
    angle = np.degrees(np.arctan2(gy, gx))
    rising = (np.abs(angle) < 22.5) & (gx != 0)  # intensity increases left to right
    falling = (np.abs(angle) > 157.5) & (gx != 0)
    step = np.zeros_like(gray)
    step[:, 1:] = gray[:, 1:] - gray[:, :-1]  # step[:, c] = I[c] - I[c - 1]
    step[:, 0] = 0
    up_left, up_right = _runs(step > 0, False), _runs(step > 0, True)
    down_left, down_right = _runs(step < 0, False), _runs(step < 0, True)

    def side_widths(left_runs: np.ndarray, right_runs: np.ndarray) -> np.ndarray:
        # Left: the run of steps ending at column c-1 (steps at columns >= 1 only);
        # right: the run starting at column c+2. Each side is 1 + run, at most 1 + 100.
        left = np.zeros((height, width))
        left[:, 1:] = left_runs[:, :-1]
        right = np.zeros((height, width))
        right[:, :-2] = right_runs[:, 2:]
        return np.minimum(left, CPBD_MAX_MARGIN) + np.minimum(right, CPBD_MAX_MARGIN) + 2

    widths = np.zeros((height, width))
    inner = np.zeros((height, width), bool)
    inner[1:-1, 1:-1] = True
    rising_edges = edges & rising & inner
    falling_edges = edges & falling & inner
    widths[rising_edges] = side_widths(up_left, up_right)[rising_edges]
    widths[falling_edges] = side_widths(down_left, down_right)[falling_edges]
    return widths


def cpbd(image: np.ndarray) -> float:
    """No-reference sharpness: cumulative probability of blur detection (Narvekar & Karam 2011).

    Follows the authors' reference: Canny edges mark 64x64 "edge blocks" (more than 0.2% edge
    pixels); in those, the width w of each Sobel edge (Marziliano's method, along rows) gives a
    probability of blur detection P = 1 - exp(-(w / w_JNB)^3.6), with the just-noticeable-blur
    width w_JNB = 5 in blocks of contrast (max - min) <= 50 and 3 otherwise; CPBD is the fraction
    of edges with P <= 63% (P rounded to whole percent, as the reference histogram does).
    Higher is sharper; in [0, 1]; 0 when the image has no edge block. Unlike the reference
    (which drops partial blocks, a third of a 128x96 crop), the last row/column of blocks may be
    smaller than 64 so the whole image counts.

    Args:
        image: uint8 RGB [H, W, 3] or gray [H, W].
    """
    gray = _gray(image)
    widths = _edge_widths(gray, _sobel_edges(gray))
    canny = _canny_edges(gray)
    probabilities = []
    for top in range(0, gray.shape[0], CPBD_BLOCK):
        for left in range(0, gray.shape[1], CPBD_BLOCK):
            block = (slice(top, top + CPBD_BLOCK), slice(left, left + CPBD_BLOCK))
            if np.count_nonzero(canny[block]) <= canny[block].size * CPBD_EDGE_BLOCK_FRACTION:
                continue
            contrast = int(gray[block].max() - gray[block].min())
            jnb = 5.0 if contrast <= 50 else 3.0
            block_widths = widths[block][widths[block] > 0]
            probabilities.append(1.0 - np.exp(-((block_widths / jnb) ** CPBD_BETA)))
    if not probabilities:
        return 0.0
    probabilities = np.concatenate(probabilities)
    if probabilities.size == 0:
        return 0.0
    buckets = np.round(probabilities * 100)
    return float(np.mean(buckets <= round(CPBD_JNB_PROBABILITY * 100)))


def video_cpbd(frames: np.ndarray) -> float:
    """Mean CPBD over frames: uint8 [T, H, W, 3] -> float."""
    return float(np.mean([cpbd(frame) for frame in frames])) if len(frames) else math.nan


# ---------------------------------------------------------------------------------------------
# Landmark metrics


def inter_ocular(points: np.ndarray) -> np.ndarray:
    """Distance between the outer eye corners: [T, 468, >=2] -> [T]."""
    return np.linalg.norm(
        points[:, mesh.RIGHT_EYE_OUTER, :2] - points[:, mesh.LEFT_EYE_OUTER, :2], axis=-1
    )


def landmark_distance(real_points: np.ndarray, generated_points: np.ndarray) -> np.ndarray:
    """Mouth landmark distance (LMD) per frame, in units of the real face's inter-ocular distance.

    For the 40 MediaPipe lip points, each video's points are first centred on their own lip
    centroid (so a head that drifts inside the crop is not counted as a lip error), then
    LMD = mean over points of the Euclidean distance between generated and real points, divided
    by the real frame's outer-eye-corner distance. 0 for identical landmarks.

    Args:
        real_points, generated_points: float [T, 468, >=2] crop pixels.
    Returns:
        float64 [T].
    """
    if real_points.shape != generated_points.shape:
        raise ValueError(
            f"landmarks differ in shape: {real_points.shape} vs {generated_points.shape}"
        )
    lips = list(mesh.LIPS)
    real = real_points[:, lips, :2].astype(np.float64)
    generated = generated_points[:, lips, :2].astype(np.float64)
    real = real - real.mean(axis=1, keepdims=True)
    generated = generated - generated.mean(axis=1, keepdims=True)
    distance = np.linalg.norm(real - generated, axis=-1).mean(axis=1)
    return distance / inter_ocular(real_points)


mouth_opening = mesh.mouth_opening


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equal-length series.

    A series with no variation (e.g. the mouth of a static still) carries no information about
    the other: r is then defined as 0 rather than left undefined, so a frozen mouth scores as
    "no correlation". NaN for fewer than 2 samples.
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"series differ in length: {a.shape} vs {b.shape}")
    if a.size < 2:
        return math.nan
    a = a - a.mean()
    b = b - b.mean()
    norm = math.sqrt(float(np.sum(a * a)) * float(np.sum(b * b)))
    # Relative tolerance: floating-point noise on a constant series is not variation.
    if norm <= 1e-12 * max(1.0, float(np.sum(np.abs(a))), float(np.sum(np.abs(b)))):
        return 0.0
    return float(np.clip(np.sum(a * b) / norm, -1.0, 1.0))


def audio_energy(audio: np.ndarray, num_frames: int, samples_per_frame: int = 640) -> np.ndarray:
    """Root-mean-square energy of the audio under each video frame: float [S] -> float64 [T].

    Frame t covers samples [t * 640, (t + 1) * 640) at 16 kHz / 25 fps; missing samples at the
    end count as silence.
    """
    audio = np.asarray(audio, np.float64).reshape(-1)
    needed = num_frames * samples_per_frame
    audio = np.pad(audio[:needed], (0, max(0, needed - audio.size)))
    return np.sqrt(np.mean(audio.reshape(num_frames, samples_per_frame) ** 2, axis=1))


def log_energy(energy: np.ndarray, floor_db: float = -60.0) -> np.ndarray:
    """RMS energy in dB relative to its peak, floored at `floor_db`: float [T] -> float64 [T].

    Speech loudness is perceived (and mouth movements scale) roughly logarithmically; on real
    in-sync GRID/VoxCeleb2 clips the AV offset from log energy fell within +-2 frames of 0 more
    often than from linear RMS (78% vs 67% of 19 clips, lags within +-8).
    """
    energy = np.asarray(energy, np.float64)
    peak = float(energy.max()) if energy.size else 0.0
    if peak <= 0.0:
        return np.full(energy.shape, floor_db)
    return np.maximum(20.0 * np.log10(np.maximum(energy, 1e-300) / peak), floor_db)


def av_offset(mouth: np.ndarray, energy: np.ndarray, max_lag: int = 8) -> tuple[int | None, float]:
    """Audio-visual offset: the lag (frames) maximising Pearson r of mouth opening vs audio energy.

    r(lag) = pearson(mouth[t + lag], energy[t]) over the frames where both exist, for lag in
    [-max_lag, max_lag] (each lag keeps at least half the frames). A positive lag means the mouth
    moves `lag` frames after the sound (video late); negative, before it (video early). Returns
    (lag, r at that lag); (None, nan) when no lag gives a defined, positive correlation, e.g. a
    mouth that never moves. On one short clip the estimate is noisy (speech is quasi-periodic,
    so other lags correlate too); read its median over many clips.

    Args:
        mouth, energy: float [T] per-frame series of the same length.
    """
    mouth = np.asarray(mouth, np.float64)
    energy = np.asarray(energy, np.float64)
    if mouth.shape != energy.shape:
        raise ValueError(f"series differ in length: {mouth.shape} vs {energy.shape}")
    length = mouth.size
    max_lag = min(max_lag, length // 2)
    best_lag, best_r = None, -math.inf
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            r = pearson(mouth[lag:], energy[: length - lag])
        else:
            r = pearson(mouth[: length + lag], energy[-lag:])
        # Ties go to the smallest |lag| (lags are visited from -max to +max).
        if not math.isnan(r) and (r > best_r or (r == best_r and abs(lag) < abs(best_lag))):
            best_lag, best_r = lag, r
    if best_lag is None or best_r <= 0:
        return None, math.nan
    return best_lag, best_r


def eye_aspect_ratio(points: np.ndarray) -> np.ndarray:
    """Mean eye aspect ratio of both eyes (Soukupova & Cech 2016): [T, 468, >=2] -> [T].

    EAR = (|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|) on MediaPipe's eyelid points; about 0.3 for an
    open eye on our crops and 0.2 for a closed one.
    """
    points = points.astype(np.float64)

    def one_eye(indices: tuple[int, ...]) -> np.ndarray:
        p = points[:, list(indices), :2]
        vertical = np.linalg.norm(p[:, 1] - p[:, 5], axis=-1) + np.linalg.norm(
            p[:, 2] - p[:, 4], axis=-1
        )
        return vertical / (2 * np.linalg.norm(p[:, 0] - p[:, 3], axis=-1))

    return (one_eye(mesh.RIGHT_EYE_EAR) + one_eye(mesh.LEFT_EYE_EAR)) / 2


def count_blinks(ear: np.ndarray, relative_threshold: float = 0.8) -> int:
    """Blink events in an eye-aspect-ratio series: [T] -> int.

    A blink is a run of consecutive frames whose EAR is below `relative_threshold` times the
    series' median EAR (the open-eye level of that face at this crop size; MediaPipe's EAR on
    128x96 crops measured ~0.33 open and ~0.20-0.24 closed on GRID). A relative threshold works
    across faces; a constant series (a still) has no blinks.
    """
    ear = np.asarray(ear, np.float64)
    if ear.size == 0:
        return 0
    closed = ear < relative_threshold * np.median(ear)
    starts = closed & ~np.concatenate([[False], closed[:-1]])
    return int(np.count_nonzero(starts))


def blinks_per_second(ear: np.ndarray, fps: float = 25.0, relative_threshold: float = 0.8) -> float:
    """Blink events per second of video: EAR [T] -> float."""
    if len(ear) == 0:
        return math.nan
    return count_blinks(ear, relative_threshold) / (len(ear) / fps)


# --- Product-path measures at the output's own resolution ------------------------------------
# Computed on whole video frames (any size) with face-mesh points in frame pixels, as the
# "mouth at the photo's own resolution" bench measures what bin/generate writes.


def landmark_box(
    points: np.ndarray, indices, widen: float = 1.5, heighten: float = 2.0
) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) integer box around the given mesh points [468, >=2]: their bounding box
    scaled `widen` times in width and `heighten` times in height about its centre."""
    selected = np.asarray(points, np.float64)[list(indices), :2]
    (x0, y0), (x1, y1) = selected.min(axis=0), selected.max(axis=0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half_w, half_h = widen * (x1 - x0) / 2, heighten * (y1 - y0) / 2
    return (
        int(np.floor(cx - half_w)),
        int(np.floor(cy - half_h)),
        int(np.ceil(cx + half_w)) + 1,
        int(np.ceil(cy + half_h)) + 1,
    )


def laplacian_sharpness(rgb: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Variance of the Laplacian of the grey image inside `box` (clipped to the image): the
    usual no-reference sharpness measure; a blurred region has little high-frequency energy."""
    x0, y0, x1, y1 = box
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return float("nan")
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    laplacian = cv2.Laplacian(gray, cv2.CV_64F, ksize=1)
    return float(laplacian[y0:y1, x0:x1].var())


def contour_mask(points: np.ndarray, contour, shape: tuple[int, ...]) -> np.ndarray:
    """bool [H, W]: inside the closed polygon of the landmarks `contour` (pixel x, y)."""
    mask = np.zeros(shape[:2], np.uint8)
    corners = np.round(np.asarray(points)[list(contour), :2] * 16).astype(np.int32)
    cv2.fillPoly(mask, [corners], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def lip_flesh_mask(points: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """bool [H, W]: inside the outer lip contour and outside the inner one (the lips' flesh)."""
    outer = contour_mask(points, mesh.OUTER_LIP_CONTOUR, shape)
    return outer & ~contour_mask(points, mesh.INNER_LIP_CONTOUR, shape)


# The inner-lip polygon under this share of the outer one's area: the mouth is closed (the
# polygon's outline alone would fill a row of pixels), nothing inside to show.
MIN_INSIDE_AREA = 0.1


def _polygon_area(points: np.ndarray, contour) -> float:
    x, y = np.asarray(points)[list(contour), 0], np.asarray(points)[list(contour), 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def bright_inside_fraction(rgb: np.ndarray, points: np.ndarray) -> float:
    """The share of the mouth's inside (the inner-lip polygon) brighter (CIELAB L*) than the
    lips' flesh on average: teeth, where a drawn mouth is a dark gap. NaN with the mouth closed
    (inner polygon under MIN_INSIDE_AREA of the outer one)."""
    inner_area = _polygon_area(points, mesh.INNER_LIP_CONTOUR)
    if inner_area < MIN_INSIDE_AREA * _polygon_area(points, mesh.OUTER_LIP_CONTOUR):
        return math.nan
    inside = contour_mask(points, mesh.INNER_LIP_CONTOUR, rgb.shape)
    flesh = lip_flesh_mask(points, rgb.shape)
    if not inside.any() or not flesh.any():
        return math.nan
    lightness = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)[..., 0]
    return float((lightness[inside] > lightness[flesh].mean()).mean())


def mean_ab(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean CIELAB (D65) a*, b* of the masked pixels of an RGB uint8 image: float64 [2]
    (NaN when the mask is empty)."""
    if not mask.any():
        return np.full(2, np.nan)
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    return lab[mask][:, 1:].astype(np.float64).mean(axis=0)
