"""Where things are on a face, in one place: the crop window, the regions of the 128x96 crop
that training, evaluation, export and paste-back look at, and the face-mesh lip topology.

Pure NumPy (no TensorFlow, no MediaPipe), low in the layers, so that the data reader, the
models, the losses, the metrics, the exporter and the compositor all read the same numbers.

Crop coordinates are pixels of the 128x96 (H x W) face crop that `preprocessing.faces` cuts.
The regions were measured with MediaPipe's face mesh on the shared clips' crops (699 meshes,
every 10th frame): the 40 lip points lie in rows 65-87 and columns 15-68 (0.5-99.5
percentiles), the chin at rows 95-105, the eyes at rows 34-46, the nose tip at row 61.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lipsync_tf.config import IMAGE_HEIGHT, IMAGE_WIDTH

# --- The crop window --------------------------------------------------------------------------

# The crop window relative to the face detector's box (which spans roughly brows to chin): this
# many box widths wide, aspect 128:96 (H:W), moved down by this many box heights so that mouth
# and chin sit well inside.
CROP_WIDTH_SCALE = 1.15
CROP_CENTER_SHIFT = 0.05


@dataclasses.dataclass(frozen=True)
class FaceBox:
    """A box in pixel coordinates of the image it was found in (a detection or a crop window)."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def center(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)


def crop_window(box: FaceBox) -> FaceBox:
    """The 128:96 (H:W) crop window for a detected face box."""
    width = box.width * CROP_WIDTH_SCALE
    height = width * IMAGE_HEIGHT / IMAGE_WIDTH
    cx, cy = box.center
    cy += CROP_CENTER_SHIFT * box.height
    return FaceBox(cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2, box.score)


@dataclasses.dataclass(frozen=True)
class Framing:
    """The same face framed as another face-cropping tool might: our crop window scaled by
    `scale` about its centre (above 1 looser, the face smaller; below 1 tighter) and its centre
    moved by `offset` = (x, y) in window widths and heights (right and down positive)."""

    scale: float = 1.0
    offset: tuple[float, float] = (0.0, 0.0)

    # Beyond these the "face crop" is no longer a face crop.
    MAX_SCALE_CHANGE = 0.5
    MAX_OFFSET = 0.25

    def __post_init__(self) -> None:
        from lipsync_tf.errors import InputError

        if not 1 - self.MAX_SCALE_CHANGE <= self.scale <= 1 + self.MAX_SCALE_CHANGE:
            raise InputError(
                f"crop scale {self.scale:g} is outside {1 - self.MAX_SCALE_CHANGE:g}-"
                f"{1 + self.MAX_SCALE_CHANGE:g}; use 1 for the crop the model was trained on."
            )
        if len(self.offset) != 2 or max(abs(v) for v in self.offset) > self.MAX_OFFSET:
            raise InputError(
                f"crop offset {tuple(self.offset)} needs two numbers (x, y), each within "
                f"±{self.MAX_OFFSET:g} of the window's size; use 0,0 for the trained crop."
            )

    @property
    def is_identity(self) -> bool:
        return self.scale == 1.0 and tuple(self.offset) == (0.0, 0.0)

    def apply(self, window: FaceBox) -> FaceBox:
        """`window` reframed; the aspect ratio is kept."""
        cx, cy = window.center
        cx += self.offset[0] * window.width
        cy += self.offset[1] * window.height
        half_w, half_h = self.scale * window.width / 2, self.scale * window.height / 2
        return FaceBox(cx - half_w, cy - half_h, cx + half_w, cy + half_h, window.score)


# --- Regions of the 128x96 crop ---------------------------------------------------------------

# The lower half (mouth, jaw, chin): where the L1's extra mouth weight, the motion term and the
# audio-sensitivity and motion measures look. Holds the mouth with margin for head motion.
LOWER_FACE_ROWS = slice(IMAGE_HEIGHT // 2, IMAGE_HEIGHT)
# Eyes and brows, above the nose: what speech does not move (the upper-face PSNR).
UPPER_FACE_ROWS = slice(0, 52)
# The evaluation's fixed mouth box: every lip point of real GRID, VoxCeleb2, HDTF-style and
# video-retalking crops fell within x 13..68, y 60..92. A fixed box compares the same pixels in
# generated and real frames and needs no landmarks on generated frames.
MOUTH_ROWS = slice(56, 100)
MOUTH_COLS = slice(16, 80)
# The tighter box whose brightness cells (`MOUTH_GRID`) the audio -> mouth term predicts;
# horizontally centred, so mirrored examples keep it in place.
MOUTH_CELLS_BOX = (slice(80, 112), slice(28, 68))
MOUTH_GRID = (4, 5)
# The sync expert's view: the lower face, rows 56-120 over the whole width.
SYNC_ROWS = slice(56, 120)
SYNC_COLS = slice(0, IMAGE_WIDTH)


def lower_half_weights() -> np.ndarray:
    """float32 [128, 96, 1]: 1 on the lower half of the crop (`LOWER_FACE_ROWS`), 0 above."""
    weights = np.zeros((IMAGE_HEIGHT, IMAGE_WIDTH, 1), np.float32)
    weights[LOWER_FACE_ROWS] = 1.0
    return weights


# The region speech may change, an ellipse over mouth, jaw and chin with room for a crop framed
# a little differently; zero from the nose up, so a blending generator cannot touch the eyes.
# Centre and semi-axes in crop pixels (row, column); 1 inside `PRIOR_CORE` of the radius,
# falling linearly to 0 at the edge.
PRIOR_CENTER = (86.0, 48.0)
PRIOR_AXES = (32.0, 38.0)
PRIOR_CORE = 0.7


def _ellipse_ramp(height, width, center, axes, core) -> np.ndarray:
    """float64 [height, width]: 1 inside `core` of the ellipse's radius, 0 outside it, linear
    between; the ellipse is given in 128x96 crop pixels and scaled to height x width."""
    rows = (np.arange(height, dtype=np.float64) + 0.5) * IMAGE_HEIGHT / height - 0.5
    cols = (np.arange(width, dtype=np.float64) + 0.5) * IMAGE_WIDTH / width - 0.5
    radius = np.sqrt(
        ((rows[:, None] - center[0]) / axes[0]) ** 2 + ((cols[None, :] - center[1]) / axes[1]) ** 2
    )
    return np.clip((1.0 - radius) / (1.0 - core), 0.0, 1.0)


def lower_face_prior(
    height: int = IMAGE_HEIGHT, width: int = IMAGE_WIDTH, dtype=np.float32
) -> np.ndarray:
    """[height, width, 1] in [0, 1]: 1 on mouth, jaw and chin, 0 from the nose up and at the
    sides, a linear fade between. For another size the same region is scaled to it."""
    prior = _ellipse_ramp(height, width, PRIOR_CENTER, PRIOR_AXES, PRIOR_CORE)
    return prior[..., None].astype(dtype)


# The region a warping generator may draw in when its `mask_region` is "mouth": an ellipse over
# the mouth with room for a crop framed a little differently (lips via `lips_to_pixels` lie in
# rows 70-88 and columns 37-65 of the crop; the open mouth's inside in rows 71-84). Everything
# else, lips included, moves by the warp; `training/losses.py: mouth_mask` confines the mask
# further, to the inside of the real mouth.
MOUTH_PRIOR_CENTER = (80.0, 50.0)
MOUTH_PRIOR_AXES = (18.0, 28.0)
MASK_REGIONS = ("lower_face", "mouth")


def mouth_prior(
    height: int = IMAGE_HEIGHT, width: int = IMAGE_WIDTH, dtype=np.float32
) -> np.ndarray:
    """[height, width, 1] in [0, 1]: 1 over the mouth, 0 from the lips' surroundings out, a
    linear fade between (the ellipse above, scaled to height x width)."""
    prior = _ellipse_ramp(height, width, MOUTH_PRIOR_CENTER, MOUTH_PRIOR_AXES, PRIOR_CORE)
    return prior[..., None].astype(dtype)


def mask_prior(region: str, height: int = IMAGE_HEIGHT, width: int = IMAGE_WIDTH) -> np.ndarray:
    """The blend mask's prior for `ModelConfig.mask_region`."""
    if region == "mouth":
        return mouth_prior(height, width)
    if region == "lower_face":
        return lower_face_prior(height, width)
    raise ValueError(f"mask_region must be one of {MASK_REGIONS}, not {region!r}")


def smoothstep(t: np.ndarray) -> np.ndarray:
    """3t^2 - 2t^3: a ramp in [0, 1] with flat ends, so a blend leaves no visible seam."""
    return t * t * (3 - 2 * t)


def lower_face_paste_mask(height: int, width: int) -> np.ndarray:
    """float32 [height, width]: the region a blending generator may change
    (`lower_face_prior` scaled to the window), smoothstepped at its edge, to paste with."""
    return smoothstep(lower_face_prior(height, width)[..., 0])


def face_paste_mask(height: int, width: int, inner: float = 0.7) -> np.ndarray:
    """float32 [height, width] elliptical mask over the whole window: 1 inside `inner` of the
    ellipse (which touches the middle of each side), 0 at its edge, smoothstepped between, so
    the seam between generated and original pixels spreads over ~30 % of the face radius."""
    y = (np.arange(height, dtype=np.float32) + 0.5) / height * 2 - 1
    x = (np.arange(width, dtype=np.float32) + 0.5) / width * 2 - 1
    radius = np.sqrt(x[None, :] ** 2 + y[:, None] ** 2)
    return smoothstep(np.clip((1.0 - radius) / (1.0 - inner), 0.0, 1.0))


# --- Lips: face-mesh topology and the normalised lip frame ------------------------------------

# Points of MediaPipe's face mesh.
NUM_LANDMARKS = 468
# The 40 points of MediaPipe's FACE_LANDMARKS_LIPS (outer and inner lip contours).
LIPS = (
    0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181,
    185, 191, 267, 269, 270, 291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405,
    409, 415,
)  # fmt: skip
UPPER_INNER_LIP = 13
LOWER_INNER_LIP = 14
FOREHEAD = 10
CHIN = 152
# Outer eye corners, for the inter-ocular distance and the normalised lip frame.
RIGHT_EYE_OUTER = 33
LEFT_EYE_OUTER = 263
# Eye-aspect-ratio points per eye: corner, upper lid x2, corner, lower lid x2 (p1..p6 of
# Soukupova & Cech 2016, EAR = (|p2-p6| + |p3-p5|) / (2 |p1-p4|)).
# The lip contours in order around the mouth (closed polygons), from the mouth corner 61/78.
OUTER_LIP_CONTOUR = (
    61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146,
)  # fmt: skip
INNER_LIP_CONTOUR = (
    78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95,
)  # fmt: skip
RIGHT_EYE_EAR = (33, 160, 158, 133, 153, 144)
LEFT_EYE_EAR = (362, 385, 387, 263, 373, 380)
# Below this face-presence probability a crop's mesh points are not trusted.
MIN_FACE_SCORE = 0.5

# Lip points that swap places when the face is mirrored; the four on the midline map to
# themselves.
LIP_MIRROR_PAIRS = (
    (37, 267), (39, 269), (40, 270), (61, 291), (78, 308), (80, 310), (81, 311), (82, 312),
    (84, 314), (87, 317), (88, 318), (91, 321), (95, 324), (146, 375), (178, 402), (181, 405),
    (185, 409), (191, 415),
)  # fmt: skip


def contour_positions(contour: tuple[int, ...]) -> list[int]:
    """Positions among the 40 `LIPS` points of a contour's mesh points, in contour order."""
    return [LIPS.index(point) for point in contour]


def lip_mirror_order() -> list[int]:
    """Index permutation of the 40 lip points under a left-right mirror of the face."""
    twin = {point: point for point in LIPS}
    for a, b in LIP_MIRROR_PAIRS:
        twin[a], twin[b] = b, a
    return [LIPS.index(twin[point]) for point in LIPS]


# --- The photo-lip rig (inference/lip_rig.py, and in the graph export/lip_rig_graph.py) ----

# The head's shapes are shrunk toward the speaker's mean, as any regression's are. The gain
# brings them back: the one (of 1.5, 2, 2.5, 3, 3.5) whose output's mouth opening moves as much
# as the real one (median std ratio 1.01 over the 24 shared clips of training speakers,
# bench/mouth_quality.py), by a rule written before any held-out clip was rendered with it
# (docs/training_log.md, 2026-12-07).
LIP_SHAPE_GAIN = 2.5
MAX_LIP_SHAPE_GAIN = 10.0
# How steeply a lip may bend away from its corner: vertical move per pixel across the face.
LIP_MAX_SLOPE = 0.6
# Inner lips further apart than this share of the mouth's width: the photo's mouth is open.
OPEN_AT_REST = 0.1
# Inner-lip points facing each other, upper and lower, from one corner to the other.
UPPER_INNER_PAIRS = (191, 80, 81, 82, 13, 312, 311, 310, 415)
LOWER_INNER_PAIRS = (95, 88, 178, 87, 14, 317, 402, 318, 324)
MOUTH_CORNERS = (78, 308)
LOWER_LIP_POINTS = (
    14, 17, 84, 181, 91, 146, 314, 405, 321, 375, 87, 178, 88, 95, 317, 402, 318, 324,
)  # fmt: skip
# The chin and the lower face's outline follow the lower lip when the jaw drops, less toward
# the jaw's angles (it turns about the ears): (face-mesh points, share of the lower lip's move).
JAW_FOLLOWERS = (
    ((18, 200, 199, 175, 152), 0.8),
    ((148, 377, 176, 400, 149, 378), 0.5),
    ((150, 379, 136, 365, 172, 397), 0.25),
)
# Held still: the nose, the cheeks and the face's sides.
HELD_POINTS = (
    1, 2, 98, 327, 164, 205, 425, 50, 280, 187, 411, 207, 427, 216, 436, 132, 361, 93, 323, 58,
    288,
)  # fmt: skip
# Where the teeth's light is read: one point on each cheek.
CHEEK_POINTS = (205, 425)
# Every face-mesh point the rig reads, in one order (what `models/lip_locator.py` predicts).
RIG_POINTS = (
    *LIPS,
    *(k for indices, _ in JAW_FOLLOWERS for k in indices),
    *HELD_POINTS,
    RIGHT_EYE_OUTER,
    LEFT_EYE_OUTER,
)


def lip_contour_smoothing(passes: int = 2) -> np.ndarray:
    """float64 [40, 40]: offsets [40, 2] -> the same smoothed along the outer and the inner lip
    contour ([1, 2, 1] / 4 around each closed contour, `passes` times)."""
    smoothing = np.eye(len(LIPS))
    for contour in (OUTER_LIP_CONTOUR, INNER_LIP_CONTOUR):
        rows = contour_positions(contour)
        step = np.zeros((len(rows), len(rows)))
        for i in range(len(rows)):
            step[i, i] = 0.5
            step[i, (i - 1) % len(rows)] = step[i, (i + 1) % len(rows)] = 0.25
        block = np.linalg.matrix_power(step, passes)
        part = np.eye(len(LIPS))
        part[np.ix_(rows, rows)] = block
        smoothing = part @ smoothing
    return smoothing


# Normalised lip landmarks (units of the outer-eye-corner distance) move by about 0.01-0.05 as a
# mouth talks; mouth shapes enter the networks divided by this so they are of order 1.
LIP_SHAPE_SCALE = 0.02
# The 40 lip points as one vector of (x, y) pairs.
LIP_SHAPE_DIM = 2 * len(LIPS)
# Positions of the inner-lip points 13 (upper) and 14 (lower) among the 40 lip points: their
# vertical gap is the mouth opening in lip units.
INNER_LIP_GAP = (LIPS.index(UPPER_INNER_LIP), LIPS.index(LOWER_INNER_LIP))

# Where the normalised lip frame sits in a crop: the outer eye corners' midpoint (x, y) in crop
# pixels and their distance. Measured with the face mesh on 96 training stills (a batch of every
# kind of clip): midpoint std (2.4, 1.3) px, distance std 2.1 px, roll -0.2 +- 1.7 degrees, so one
# mapping places any crop's lips within about 2-3 px.
EYE_MIDPOINT_XY = (49.6, 40.4)
EYE_DISTANCE = 44.3


def lips_to_pixels(lips):
    """Normalised lip landmarks [..., 40, 2] -> (x, y) crop pixels, by the mapping above
    (NumPy arrays or tensors)."""
    return [EYE_MIDPOINT_XY[0], EYE_MIDPOINT_XY[1]] + EYE_DISTANCE * lips


def lip_gap(lips):
    """Inner-lip gap (point 13 to 14, downwards) of lip shapes [..., 40, 2] -> [...]: the mouth
    opening in lip units. Works on NumPy arrays and tensors, absolute or mean-relative shapes."""
    upper, lower = INNER_LIP_GAP
    return lips[..., lower, 1] - lips[..., upper, 1]


def mouth_opening(points: np.ndarray) -> np.ndarray:
    """Inner-lip gap (points 13-14) over face height (forehead 10 to chin 152): [..., 468, >=2]
    -> float64 [...]. About 0 with closed lips, ~0.05-0.1 wide open."""
    points = np.asarray(points, np.float64)
    gap = np.linalg.norm(
        points[..., UPPER_INNER_LIP, :2] - points[..., LOWER_INNER_LIP, :2], axis=-1
    )
    height = np.linalg.norm(points[..., FOREHEAD, :2] - points[..., CHIN, :2], axis=-1)
    return gap / height


def normalized_lips(points: np.ndarray) -> np.ndarray:
    """The 40 lip points in a face frame: [..., 468, >=2] crop pixels -> float32 [..., 40, 2].

    Origin at the midpoint of the outer eye corners, x along the eye line (so head roll is
    removed), unit = the outer-eye-corner distance (so face size and crop scale are removed).
    The mouth sits near (0, 1) in these units; its shape and the jaw's drop are what remain.
    """
    points = np.asarray(points, np.float64)[..., :2]
    right, left = points[..., RIGHT_EYE_OUTER, :], points[..., LEFT_EYE_OUTER, :]
    origin = (right + left) / 2
    axis = left - right
    scale = np.linalg.norm(axis, axis=-1, keepdims=True)
    x_axis = axis / scale
    y_axis = np.stack([-x_axis[..., 1], x_axis[..., 0]], axis=-1)  # x rotated +90 deg: down
    lips = points[..., list(LIPS), :] - origin[..., None, :]
    coords = np.stack(
        [np.sum(lips * x_axis[..., None, :], -1), np.sum(lips * y_axis[..., None, :], -1)], -1
    )
    return (coords / scale[..., None]).astype(np.float32)
