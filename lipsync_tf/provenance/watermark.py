"""An invisible watermark in every frame that survives re-encoding, halving the size and cuts.

Why a scheme of our own: `invisible-watermark`'s per-frame DWT-DCT marks survive moderate
re-encoding but not halving the size (measured in ../shared/DEPENDENCIES.md: bit accuracy 0.51-0.56
at half size, chance level). What survives all three transformations is a pattern at a coarse
scale, the same in every frame, detected by pooling many frames:

- **The pattern** is one fixed pseudo-random field, seeded by `KEY` ("lipsync_tf"), defined on a
  128x128 grid that is stretched over the whole frame (normalised coordinates, so scaling the video
  leaves it where it was) and band-limited to 10-32 cycles per frame width: coarse enough to pass
  through x264 at CRF 30 and through halving a 224-pixel video, fine enough that the photo's own
  content (whose energy falls with frequency) hides it. It is added to the luma plane only, with
  an amplitude of about 2 levels, less in dark and flat regions where a faint texture would show
  (`_perceptual_mask`), so frames stay above 38 dB PSNR.
- **The payload** is the pattern's cyclic shift on the grid: `KEY` says "made by lipsync_tf",
  the shift (one of 256 on a lattice of 8 cells) carries an 8-bit model mark (`model_mark_id`,
  the first byte of the model files' SHA-256, also written in the C2PA manifest).
- **Detection** needs no original: the luma of each frame is area-averaged onto the grid, averaged
  over a window of frames (2 s; every frame carries the same mark, so any cut leaves whole
  windows), whitened by the window's own smoothed power spectrum (the host image is the noise; its
  spectrum is far from flat), and correlated with the pattern at every shift by FFT. The score is
  the best of the 256 allowed shifts in units of the correlation surface's standard deviation.
  Without a mark the surface is close to Gaussian, so the best of 256 exceeds 6 with probability
  about 256 x 1e-9 per window; `THRESHOLD` = 6 was checked against every real clip in
  ../shared/data (`bench/watermark_false_positives.py`).

What it does not survive (see docs/provenance.md): cropping or letterboxing (which move the grid),
mirroring, rotation, and strong blur or noise; and frames under about 200 pixels carry it weakly.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
from collections.abc import Iterable
from pathlib import Path

import av
import cv2
import numpy as np

KEY = "lipsync_tf"
SCHEME = "lipsync_tf-ss-v1"  # named in the C2PA manifest; change it whenever the scheme changes
GRID = 128
BAND = (10.0, 32.0)  # cycles per frame width/height, radial
LATTICE = 8  # allowed shifts: multiples of 8 grid cells on both axes -> 16 x 16 = 256 model marks
AMPLITUDE = 2.0  # luma levels: the mark's RMS over a frame (`_perceptual_mask` has RMS <= 1)
THRESHOLD = 6.0
WINDOW_SECONDS = 2.0
# The perceptual mask: flat regions get TEXTURE_FLOOR, textured ones more (texture deviation /
# TEXTURE_SCALE, at most TEXTURE_CAP, times a gain of at most MAX_GAIN).
TEXTURE_FLOOR = 0.3
TEXTURE_SCALE = 8.0
TEXTURE_CAP = 2.5
MAX_GAIN = 3.0
CHANGE_LEVELS = 3.0  # recompute the mask when the picture moved this much (FrameMarker)
# Detection: the window's grid is divided by its local contrast (Gaussian of LOCAL_SIGMA cells,
# plus LOCAL_FLOOR levels) before whitening, so that flat regions, where the host is quiet, count.
LOCAL_SIGMA = 2.0
LOCAL_FLOOR = 1.0


@functools.cache
def _band_spectrum() -> np.ndarray:
    """The unshifted pattern's spectrum: complex [GRID, GRID], white within `BAND`, zero outside."""
    seed = int.from_bytes(hashlib.sha256(f"{KEY} watermark".encode()).digest()[:8], "little")
    noise = np.random.default_rng(seed).standard_normal((GRID, GRID))
    frequency = np.fft.fftfreq(GRID) * GRID
    radius = np.hypot(frequency[:, None], frequency[None, :])
    band = (radius >= BAND[0]) & (radius <= BAND[1])
    spectrum = np.fft.fft2(noise) * band
    pattern = np.real(np.fft.ifft2(spectrum))
    return spectrum / pattern.std()


def mark_shift(mark_id: int) -> tuple[int, int]:
    """The (row, column) cyclic shift on the grid that carries the 8-bit `mark_id`."""
    if not 0 <= mark_id < 256:
        raise ValueError(f"mark_id {mark_id} is not a byte")
    return LATTICE * (mark_id // 16), LATTICE * (mark_id % 16)


def model_mark_id(model_sha256: str) -> int:
    """The model's 8-bit mark: the first byte of the SHA-256 of its files."""
    return int(model_sha256[:2], 16)


@functools.cache
def pattern(mark_id: int) -> np.ndarray:
    """The pattern for `mark_id`: float32 [GRID, GRID], unit RMS."""
    field = np.real(np.fft.ifft2(_band_spectrum()))
    return np.roll(field, mark_shift(mark_id), axis=(0, 1)).astype(np.float32)


def luma_grid(luma: np.ndarray) -> np.ndarray:
    """A frame's luma (uint8 [H, W], any size) area-averaged onto the grid: float32 [GRID, GRID]."""
    return cv2.resize(luma, (GRID, GRID), interpolation=cv2.INTER_AREA).astype(np.float32)


def _perceptual_mask(luma: np.ndarray) -> np.ndarray:
    """Where the mark may be stronger or must be weaker: float32 [GRID, GRID], RMS about 1.

    `luma` is the frame's luma plane (limited range, black 16), at most ~512 pixels across (the
    caller subsamples larger frames). Flat regions (smooth skin, plain walls) get 0.3 and
    textured ones (hair, fabric, foliage) more, since texture hides texture; dark regions get
    less (a faint texture on black shows, and its negative half would clip). The textured part
    is scaled so that the mask's RMS is 1 (gain at most `MAX_GAIN`): every frame costs at most
    `AMPLITUDE` levels RMS (about 40 dB PSNR) and mostly flat frames still carry enough.
    """
    pixels = luma.astype(np.float32)
    mean = cv2.blur(pixels, (3, 3))
    deviation = np.sqrt(np.maximum(cv2.blur(pixels * pixels, (3, 3)) - mean * mean, 0.0))
    texture = cv2.resize(deviation, (GRID, GRID), interpolation=cv2.INTER_AREA)
    level = cv2.resize(mean, (GRID, GRID), interpolation=cv2.INTER_AREA)
    # Fine grain alone (skin pores, sensor noise) does not hide blotches the size of the
    # pattern's: count only texture that is also there at the grid's scale.
    detail = level - cv2.GaussianBlur(level, (0, 0), 2.0)
    texture = np.minimum(texture, np.sqrt(cv2.GaussianBlur(detail * detail, (0, 0), 1.0)))
    excess = np.minimum(texture / TEXTURE_SCALE, TEXTURE_CAP)  # how much texture hides
    light = np.clip((level - 16.0) / 48.0, 0.15, 1.0)  # dark
    light *= np.clip((240.0 - level) / 24.0, 0.3, 1.0)  # near white
    excess, light = cv2.blur(excess, (3, 3)), cv2.blur(light, (3, 3))
    # mask = (floor + gain * excess) * light with RMS 1: a quadratic in the gain, which boosts
    # only where texture hides the mark (capped at MAX_GAIN), never the flat floor.
    a = float(np.mean((excess * light) ** 2))
    b = float(np.mean(TEXTURE_FLOOR * excess * light * light))
    c = float(np.mean((TEXTURE_FLOOR * light) ** 2)) - 1.0
    gain = (-b + np.sqrt(max(b * b - a * c, 0.0))) / a if a > 0 else 1.0
    gain = float(np.clip(gain, 0.0, MAX_GAIN))
    return ((TEXTURE_FLOOR + gain * excess) * light).astype(np.float32)


class FrameMarker:
    """Adds the watermark for `mark_id` to frames' luma planes, in place (`Mp4Writer`'s hook).

    The mark (pattern times perceptual mask, at the frame's size) is computed from the first
    frame and kept while the picture stays about the same (a 64-pixel thumbnail within
    `CHANGE_LEVELS` mean absolute difference): a talking face over a still photo then gets
    exactly the same mark in every frame, which x264 codes as cheaply as the unmarked video (a
    mark that moved with every frame's mask would cost it on every frame). It is recomputed when
    the picture changes (head motion in a redub, a cut). One instance per output video.
    """

    def __init__(self, mark_id: int, amplitude: float = AMPLITUDE):
        self.mark_id = mark_id
        self.scaled = pattern(mark_id) * np.float32(amplitude)
        self._add: np.ndarray | None = None  # the rounded mark's positive part, uint8
        self._subtract: np.ndarray | None = None  # and its negative part
        self._thumbnail: np.ndarray | None = None

    def __call__(self, luma: np.ndarray) -> None:
        """luma: uint8 [H, W], C-contiguous (e.g. the Y rows of an I420 frame); modified."""
        height, width = luma.shape
        every = max(1, min(height, width) // 64)
        thumbnail = luma[::every, ::every].astype(np.float32)
        if (
            self._add is None
            or self._add.shape != luma.shape
            or float(np.mean(np.abs(thumbnail - self._thumbnail))) > CHANGE_LEVELS
        ):
            step = max(1, min(height, width) // (2 * GRID))  # the mask needs no full-size detail
            mask = _perceptual_mask(luma[::step, ::step])
            field = cv2.resize(self.scaled * mask, (width, height), interpolation=cv2.INTER_CUBIC)
            rounded = np.rint(field)
            self._add = np.clip(rounded, 0, 255).astype(np.uint8)
            self._subtract = np.clip(-rounded, 0, 255).astype(np.uint8)
            self._thumbnail = thumbnail
        # Two saturating uint8 operations: a third of the time of adding the float field.
        cv2.add(luma, self._add, dst=luma)
        cv2.subtract(luma, self._subtract, dst=luma)


@dataclasses.dataclass
class WindowScore:
    """One window's detection: `score` in standard deviations, the best allowed shift's mark id,
    and the window's first frame and length."""

    score: float
    mark_id: int
    start_frame: int
    frames: int


def score_grid(mean_grid: np.ndarray) -> tuple[float, int]:
    """(score, mark_id) of a window, from the mean of its frames' `luma_grid`s."""
    grid = mean_grid.astype(np.float64)
    residual = grid - cv2.GaussianBlur(grid, (0, 0), LOCAL_SIGMA)
    contrast = np.sqrt(cv2.GaussianBlur(residual * residual, (0, 0), LOCAL_SIGMA))
    normalised = residual / (contrast + LOCAL_FLOOR)
    centred = normalised - float(normalised.mean())
    spectrum = np.fft.fft2(centred)
    power = np.abs(spectrum) ** 2
    # The host's power around each frequency (5x5 neighbourhood; the band is far from the edges of
    # the centred spectrum): the whitening weights.
    smoothed = np.fft.ifftshift(cv2.blur(np.fft.fftshift(power), (5, 5)))
    surface = np.real(np.fft.ifft2(spectrum / (smoothed + 1e-6) * np.conj(_band_spectrum())))
    spread = float(surface.std())
    if spread == 0.0:  # a blank window
        return 0.0, 0
    allowed = surface[::LATTICE, ::LATTICE]
    best = np.unravel_index(int(np.argmax(allowed)), allowed.shape)
    score = (float(allowed[best]) - float(surface.mean())) / spread
    return score, int(best[0] * 16 + best[1])


@dataclasses.dataclass
class WatermarkResult:
    """Whether a video carries the mark. `score` is the best window's (the decision compares it
    with `threshold`); `mark_id` is that window's; `windows` lists every window."""

    found: bool
    score: float
    mark_id: int | None
    threshold: float
    frames_read: int
    windows: list[WindowScore]


def window_frames(fps: float) -> int:
    """Frames in one detection window at `fps`."""
    return max(1, round(WINDOW_SECONDS * fps))


def detect_grids(grids: Iterable[np.ndarray], fps: float = 25.0) -> WatermarkResult:
    """Scores consecutive 2-s windows of per-frame `luma_grid`s. A video shorter than a window is
    one window; a last partial window shorter than half a window joins the one before."""
    size = window_frames(fps)
    windows: list[WindowScore] = []
    previous: tuple[np.ndarray, int, int] | None = None  # scored once the next one is complete
    current, start, count, total = np.zeros((GRID, GRID)), 0, 0, 0
    for grid in grids:
        current += grid
        count += 1
        total += 1
        if count == size:
            if previous is not None:
                windows.append(_score_window(*previous))
            previous = (current, start, count)
            current, start, count = np.zeros((GRID, GRID)), total, 0
    if count and previous is not None and count < size // 2:
        previous = (previous[0] + current, previous[1], previous[2] + count)
        count = 0
    if previous is not None:
        windows.append(_score_window(*previous))
    if count:
        windows.append(_score_window(current, start, count))
    best = max(windows, key=lambda window: window.score, default=None)
    found = best is not None and best.score >= THRESHOLD
    return WatermarkResult(
        found=found,
        score=best.score if best else 0.0,
        mark_id=best.mark_id if found else None,
        threshold=THRESHOLD,
        frames_read=total,
        windows=windows,
    )


def _score_window(grid_sum: np.ndarray, start: int, count: int) -> WindowScore:
    score, mark_id = score_grid(grid_sum / count)
    return WindowScore(score, mark_id, start, count)


def iter_luma_grids(path: str | Path, max_seconds: float | None = None):
    """(fps, generator of `luma_grid`s) of the first video stream of `path` (PyAV). Raises
    `av.FFmpegError`/`OSError` when the file cannot be opened, ValueError when it has no video."""
    container = av.open(str(path))
    try:
        stream = container.streams.video[0]
    except IndexError:
        container.close()
        raise ValueError("no video stream") from None
    stream.thread_type = "AUTO"
    fps = float(stream.average_rate or stream.guessed_rate or 25)
    limit = math.inf if max_seconds is None else max_seconds * fps

    def grids():
        with container:
            for index, frame in enumerate(container.decode(stream)):
                if index >= limit:
                    break
                yield luma_grid(frame.to_ndarray(format="gray"))

    return fps, grids()


def detect_file(path: str | Path, max_seconds: float | None = None) -> WatermarkResult:
    """Looks for the mark in the video file `path` (the first `max_seconds`, default all)."""
    fps, grids = iter_luma_grids(path, max_seconds)
    return detect_grids(grids, fps)
