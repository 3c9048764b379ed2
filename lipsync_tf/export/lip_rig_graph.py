"""The photo-lip rig of `inference/lip_rig.py` in the graph, for the served 128x96 frames.

`bin/generate` moves the photo's own lips to the lip shape the mouth head hears, with the face
mesh's points on the photo (`inference.lip_rig.LipRig`). A SavedModel client only sends a crop,
so here the points come from `models.lip_locator.LipLocator` (a CNN trained on the face mesh's
points over real crops at every framing the training data has), and the same steps run in
TensorFlow at 128x96:

1. the photo's lips move by the head's shape less its shape on silence, times the gain,
   smoothed along each contour, bent no more steeply than `LIP_MAX_SLOPE` from the corners,
   the chin following the lower lip and the nose and cheeks held;
2. a smooth field through those points (Gaussian radial basis functions, on a grid of half the
   crop's resolution, read back bilinearly) warps the still, read with bilinear taps;
3. only the gap that opens between the inner lips is drawn: a dark inside in the lips' tone,
   upper teeth fixed to the head and lower teeth moving with the jaw, lit from the cheeks' tone
   (as the NumPy rig, without the gaps between front teeth it draws only on mouths 60 pixels
   wide or more). A still whose mouth is open keeps its own inside.

Frames are made one at a time (`tf.map_fn`), so a long recording costs time, not memory.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from lipsync_tf import face_geometry as geometry
from lipsync_tf.config import IMAGE_HEIGHT, IMAGE_WIDTH
from lipsync_tf.models.warp import sample_points

_RIDGE = 0.05
# The warp's field is computed every this many pixels and read back bilinearly.
_FIELD_STEP = 2
# The drawn gap is rasterised in a patch this many rows and columns around the mouth, from
# this many rows above the mouth's centre: room for a mouth twice as wide as our framing's
# (about 20 pixels), wide open.
_PATCH_ROWS, _PATCH_COLS, _PATCH_ABOVE = 36, 56, 10


def _at(points) -> list[int]:
    """Rows of `geometry.RIG_POINTS` holding these face-mesh points."""
    return [geometry.RIG_POINTS.index(k) for k in points]


def _one_hot(rows: list[int], size: int) -> np.ndarray:
    """float32 [size, len(rows)]: scatters a [len(rows), ...] update into `size` rows."""
    matrix = np.zeros((size, len(rows)), np.float32)
    matrix[rows, np.arange(len(rows))] = 1.0
    return matrix


def _gaussian_blur(image: tf.Tensor, sigma: float) -> tf.Tensor:
    """image float32 [H, W, C] blurred by a 5x5 Gaussian of `sigma` pixels (edges replicated)."""
    taps = np.exp(-(np.arange(-2, 3) ** 2) / (2 * sigma**2))
    kernel = np.outer(taps, taps) / np.outer(taps, taps).sum()
    channels = image.shape[-1]
    kernel = np.tile(kernel[:, :, None, None], [1, 1, channels, 1]).astype(np.float32)
    padded = tf.pad(image[None], [[0, 0], [2, 2], [2, 2], [0, 0]], mode="SYMMETRIC")
    return tf.nn.depthwise_conv2d(padded, kernel, [1, 1, 1, 1], "VALID")[0]


def _bilinear(image: tf.Tensor, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """image [H, W, C] read at pixel coordinates x, y [h, w] (pixel centres at integers; edges
    clamped) -> [h, w, C]."""
    points = tf.reshape(tf.stack([x, y], axis=-1), [1, -1, 2])
    values = sample_points(image[None], points)[0]
    return tf.reshape(values, [*x.shape, image.shape[-1]])


def _inside_polygon(polygon: tf.Tensor, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Whether each point (x, y) [...] lies inside the closed `polygon` [n, 2] (crossing
    number; a polygon of no area holds nothing) -> float32 [...]."""
    a = polygon
    b = tf.roll(polygon, -1, axis=0)
    shape = [1] * len(x.shape) + [-1]
    ax, ay = tf.reshape(a[:, 0], shape), tf.reshape(a[:, 1], shape)
    bx, by = tf.reshape(b[:, 0], shape), tf.reshape(b[:, 1], shape)
    px, py = x[..., None], y[..., None]
    straddles = tf.not_equal(ay > py, by > py)
    safe = tf.where(tf.equal(by, ay), tf.ones_like(by), by - ay)
    crossing_x = ax + (py - ay) * (bx - ax) / safe
    crossings = tf.reduce_sum(tf.cast(straddles & (px < crossing_x), tf.int32), axis=-1)
    return tf.cast(crossings % 2, tf.float32)


# --- CIELAB, on OpenCV's 8-bit scale (L 0-255, a and b about 128 for grey) -------------------

_RGB_TO_XYZ = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169],
     [0.019334, 0.119193, 0.950227]], np.float32,
)  # fmt: skip
_WHITE = np.array([0.950456, 1.0, 1.088754], np.float32)


def rgb_to_lab(rgb: tf.Tensor) -> tf.Tensor:
    """sRGB in [0, 255] [..., 3] -> CIELAB on OpenCV's 8-bit scale [..., 3]."""
    c = rgb / 255.0
    linear = tf.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = tf.tensordot(linear, _RGB_TO_XYZ.T, 1) / _WHITE
    f = tf.where(xyz > 0.008856, tf.pow(tf.maximum(xyz, 1e-8), 1 / 3), 7.787 * xyz + 16 / 116)
    lightness = 116 * f[..., 1] - 16
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return tf.stack([lightness * 255 / 100, a + 128, b + 128], axis=-1)


def lab_to_rgb(lab: tf.Tensor) -> tf.Tensor:
    """CIELAB on OpenCV's 8-bit scale [..., 3] -> sRGB in [0, 255] (clipped) [..., 3]."""
    fy = (lab[..., 0] * 100 / 255 + 16) / 116
    fx = fy + (lab[..., 1] - 128) / 500
    fz = fy - (lab[..., 2] - 128) / 200
    f = tf.stack([fx, fy, fz], axis=-1)
    xyz = tf.where(f > 0.206893, f**3, (f - 16 / 116) / 7.787) * _WHITE
    linear = tf.clip_by_value(tf.tensordot(xyz, np.linalg.inv(_RGB_TO_XYZ).T, 1), 0.0, 1.0)
    c = tf.where(
        linear > 0.0031308,
        1.055 * tf.pow(tf.maximum(linear, 1e-8), 1 / 2.4) - 0.055,
        12.92 * linear,
    )
    return tf.clip_by_value(c * 255.0, 0.0, 255.0)


def _masked_median(values: tf.Tensor, mask: tf.Tensor, fallback) -> tf.Tensor:
    """Median over the pixels where `mask` [H, W] > 0 of values [H, W, C] -> [C] (the upper
    middle for an even count), `fallback` [C] when the mask is empty."""
    flat = tf.reshape(values, [-1, values.shape[-1]])
    keep = tf.reshape(mask > 0, [-1])
    count = tf.reduce_sum(tf.cast(keep, tf.int32))
    ordered = tf.sort(tf.where(keep[:, None], flat, np.float32(1e9)), axis=0)
    median = ordered[tf.maximum(count, 1) // 2]
    return tf.where(count > 0, median, tf.constant(fallback, tf.float32))


class GraphLipRig:
    """Moves the lips of one 128x96 still to the head's lip shapes, in the graph.

    `frames(still, points, rest, shapes)`:
        still: float32 [128, 96, 3] in [-1, 1];
        points: float32 [len(geometry.RIG_POINTS), 2], the still's face-mesh points
            `geometry.RIG_POINTS` in crop pixels, as `FaceMesh` gives them (`LipLocator`);
        rest: float32 [80], the head's `mouth_shape` on silence for this still;
        shapes: float32 [T, 80], the head's `mouth_shape` per frame;
    returns float32 [T, 128, 96, 3] in [-1, 1].
    """

    def __init__(self, gain: float = geometry.LIP_SHAPE_GAIN):
        self.gain = float(gain)
        n = len(geometry.LIPS)
        self.smoothing = geometry.lip_contour_smoothing().astype(np.float32)
        self.lips = _at(geometry.LIPS)
        jaw = [k for indices, _ in geometry.JAW_FOLLOWERS for k in indices]
        self.controls = _at([*geometry.LIPS, *jaw, *geometry.HELD_POINTS])
        self.jaw = _at(jaw)
        self.held = _at(geometry.HELD_POINTS)
        self.jaw_shares = np.concatenate(
            [np.full(len(indices), share) for indices, share in geometry.JAW_FOLLOWERS]
        ).astype(np.float32)[:, None]
        self.upper = geometry.contour_positions(geometry.UPPER_INNER_PAIRS)
        self.lower = geometry.contour_positions(geometry.LOWER_INNER_PAIRS)
        self.corners = geometry.contour_positions(geometry.MOUTH_CORNERS)
        self.lower_lip = geometry.contour_positions(geometry.LOWER_LIP_POINTS)
        self.inner_contour = geometry.contour_positions(geometry.INNER_LIP_CONTOUR)
        self.outer_contour = geometry.contour_positions(geometry.OUTER_LIP_CONTOUR)
        self.lower_edge = geometry.contour_positions(
            (geometry.MOUTH_CORNERS[0], *geometry.LOWER_INNER_PAIRS, geometry.MOUTH_CORNERS[1])
        )
        self.scatter_upper = _one_hot(self.upper, n)
        self.scatter_lower = _one_hot(self.lower, n)
        ys, xs = np.mgrid[0:IMAGE_HEIGHT, 0:IMAGE_WIDTH].astype(np.float32)
        self.pixel_x, self.pixel_y = xs, ys
        step = _FIELD_STEP
        coarse_y, coarse_x = np.mgrid[0 : IMAGE_HEIGHT + step : step, 0 : IMAGE_WIDTH + step : step]
        coarse_x, coarse_y = coarse_x.astype(np.float32), coarse_y.astype(np.float32)
        self.coarse_shape = coarse_x.shape
        self.coarse = np.stack([coarse_x.ravel(), coarse_y.ravel()], axis=-1)
        # Each pixel's place on the coarse grid, for reading the field back.
        self.read_x, self.read_y = xs / _FIELD_STEP, ys / _FIELD_STEP
        # Sample points of each patch pixel for the gap's coverage: 4 x 4, pixel centres at
        # integers, relative to the patch's corner.
        offsets = (np.arange(4, dtype=np.float32) + 0.5) / 4 - 0.5
        grid_y, grid_x = np.meshgrid(offsets, offsets, indexing="ij")
        patch_y, patch_x = np.mgrid[0:_PATCH_ROWS, 0:_PATCH_COLS].astype(np.float32)
        self.sample_x = patch_x[..., None] + grid_x.ravel()
        self.sample_y = patch_y[..., None] + grid_y.ravel()

    def frames(self, still, points, rest, shapes) -> tf.Tensor:
        face = _Face(self, tf.convert_to_tensor(still), tf.convert_to_tensor(points), rest)
        return tf.map_fn(
            face.frame,
            tf.convert_to_tensor(shapes, tf.float32),
            fn_output_signature=tf.TensorSpec([IMAGE_HEIGHT, IMAGE_WIDTH, 3], tf.float32),
        )


class _Face:
    """What one still gives the rig (its axes, mouth, tones, warp controls); `frame(shape)`."""

    def __init__(self, rig: GraphLipRig, still: tf.Tensor, points: tf.Tensor, rest):
        self.rig = rig
        self.image = (still + 1.0) * 127.5  # [0, 255]
        self.points = points
        rest = tf.reshape(tf.convert_to_tensor(rest, tf.float32), [-1, 2])
        self.rest = rest * geometry.LIP_SHAPE_SCALE  # eye-distance units, as the offsets
        right = points[geometry.RIG_POINTS.index(geometry.RIGHT_EYE_OUTER)]
        left = points[geometry.RIG_POINTS.index(geometry.LEFT_EYE_OUTER)]
        self.eye_distance = tf.norm(left - right)
        self.x_axis = (left - right) / self.eye_distance
        self.y_axis = tf.stack([-self.x_axis[1], self.x_axis[0]])
        lips = tf.gather(points, rig.lips)
        self.lip_points = lips
        corners = tf.gather(lips, rig.corners)
        self.width = tf.norm(corners[0] - corners[1])
        self.center = tf.reduce_mean(corners, axis=0)
        upper, lower = tf.gather(lips, rig.upper), tf.gather(lips, rig.lower)
        seam = (upper + lower) / 2
        self.seam = (
            lips
            + tf.matmul(rig.scatter_upper, seam - upper)
            + tf.matmul(rig.scatter_lower, seam - lower)
        )
        self.lens = self._down(lower - upper)
        self.seam_v = tf.reduce_mean(self._down(seam - self.center))
        # The bend limit: each lip point's nearer corner and how far beyond its move it may go.
        across = self._across(lips - self.center)
        corner_across = tf.gather(across, rig.corners)
        nearer = tf.argmin(tf.abs(across[:, None] - corner_across[None]), axis=1)
        self.slope_base = tf.gather(tf.constant(rig.corners, tf.int64), nearer)
        self.slope_reach = geometry.LIP_MAX_SLOPE * tf.abs(
            across - tf.gather(across, self.slope_base)
        )
        self.sources = tf.gather(points, rig.controls)
        self.jaw_points = tf.gather(points, rig.jaw)
        self.held_points = tf.gather(points, rig.held)
        upper_13, lower_14 = geometry.INNER_LIP_GAP
        gap = self._down(lips[lower_14] - lips[upper_13])
        self.open_at_rest = gap > geometry.OPEN_AT_REST * self.width
        self.sigma = 0.35 * self.width
        self._set_box()
        self._set_tones()

    def _down(self, vectors: tf.Tensor) -> tf.Tensor:
        return tf.reduce_sum(vectors * self.y_axis, axis=-1)

    def _across(self, vectors: tf.Tensor) -> tf.Tensor:
        return tf.reduce_sum(vectors * self.x_axis, axis=-1)

    def _set_box(self) -> None:
        """The box the warp may touch; the field fades out toward its edges. Also each pixel's
        place across (u, in half mouth widths) and down (v, pixels) the mouth."""
        rig, width = self.rig, self.width
        cx, cy = self.center[0], self.center[1]
        left, right = cx - 1.7 * width, cx + 1.7 * width
        top, bottom = cy - 1.1 * width, cy + 2.3 * width
        xs, ys = rig.pixel_x, rig.pixel_y
        edge = tf.minimum(tf.minimum(xs - left, right - xs), tf.minimum(ys - top, bottom - ys))
        t = tf.clip_by_value(edge / (0.3 * width), 0.0, 1.0)
        self.fade = t * t * (3 - 2 * t)
        # The patch the gap is drawn in: its corner (row, column), inside the crop.
        self.patch_row = tf.clip_by_value(
            tf.cast(tf.round(cy), tf.int32) - _PATCH_ABOVE, 0, IMAGE_HEIGHT - _PATCH_ROWS
        )
        self.patch_col = tf.clip_by_value(
            tf.cast(tf.round(cx), tf.int32) - _PATCH_COLS // 2, 0, IMAGE_WIDTH - _PATCH_COLS
        )
        self.patch_corner = tf.cast(tf.stack([self.patch_col, self.patch_row]), tf.float32)
        patch_y, patch_x = np.mgrid[0:_PATCH_ROWS, 0:_PATCH_COLS].astype(np.float32)
        rel = tf.stack(
            [patch_x + self.patch_corner[0] - cx, patch_y + self.patch_corner[1] - cy], axis=-1
        )
        self.u = self._across(rel) / (width / 2)
        self.v = self._down(rel)

    def _set_tones(self) -> None:
        """The inside's dark from the lips' median colour, the teeth's light from the cheeks'."""
        rig = self.rig
        lab = rgb_to_lab(self.image)
        outer = tf.gather(self.lip_points, rig.outer_contour)
        lips = _inside_polygon(outer, tf.constant(rig.pixel_x), tf.constant(rig.pixel_y))
        radius = tf.maximum(1.0, tf.floor(0.2 * self.width))
        cheeks = tf.zeros_like(lips)
        for point in geometry.CHEEK_POINTS:
            centre = self.points[geometry.RIG_POINTS.index(point)]
            distance = tf.sqrt((rig.pixel_x - centre[0]) ** 2 + (rig.pixel_y - centre[1]) ** 2)
            cheeks = tf.maximum(cheeks, tf.cast(distance <= radius, tf.float32))
        self.lip_lab = _masked_median(lab, lips, [110.0, 150.0, 140.0])
        self.skin_lab = _masked_median(lab, cheeks, [160.0, 160.0, 160.0])

    def targets(self, shape: tf.Tensor) -> tf.Tensor:
        """Where the 40 lip points go for one head shape [80]: float32 [40, 2]."""
        rig = self.rig
        offsets = rig.gain * (tf.reshape(shape, [-1, 2]) * geometry.LIP_SHAPE_SCALE - self.rest)
        offsets = tf.matmul(rig.smoothing, offsets)
        down = offsets[:, 1] * self.eye_distance
        base = tf.gather(down, self.slope_base)
        down = base + tf.clip_by_value(down - base, -self.slope_reach, self.slope_reach)
        moves = offsets[:, :1] * self.eye_distance * self.x_axis + down[:, None] * self.y_axis
        targets = self.lip_points + moves
        # Lips never pass through each other: a pair that would cross meets halfway.
        gaps = self._down(tf.gather(targets, rig.lower) - tf.gather(targets, rig.upper))
        overlap = tf.minimum(gaps, 0.0)[:, None] * self.y_axis / 2
        return (
            targets + tf.matmul(rig.scatter_upper, overlap) - tf.matmul(rig.scatter_lower, overlap)
        )

    def _kernel(self, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        squared = tf.reduce_sum(tf.square(a[:, None] - b[None]), axis=-1)
        return tf.exp(-squared / (2 * self.sigma**2))

    def warp(self, targets: tf.Tensor) -> tf.Tensor:
        """The still warped so its lips land on `targets`: float32 [128, 96, 3] in [0, 255]."""
        rig = self.rig
        moved = tf.gather(targets - self.lip_points, rig.lower_lip)
        jaw = self.jaw_points + rig.jaw_shares * tf.reduce_mean(moved, axis=0)
        goal = tf.concat([targets, jaw, self.held_points], axis=0)
        system = self._kernel(goal, goal) + _RIDGE * tf.eye(tf.shape(goal)[0])
        coefficients = tf.linalg.solve(system, self.sources - goal)
        field = tf.matmul(self._kernel(tf.constant(rig.coarse), goal), coefficients)
        field = tf.reshape(field, [*rig.coarse_shape, 2])
        shift = _bilinear(field, tf.constant(rig.read_x), tf.constant(rig.read_y))
        map_x = rig.pixel_x + self.fade * shift[..., 0]
        map_y = rig.pixel_y + self.fade * shift[..., 1]
        return _bilinear(self.image, map_x, map_y)

    def gap_polygon(self, targets: tf.Tensor) -> tf.Tensor:
        """The drawn gap's contour [20, 2]: it starts on the seam where the lips meet and grows
        into the lens between the inner contours as they part (`LipRig._gap_polygon`)."""
        rig = self.rig
        parted = (
            self._down(tf.gather(targets, rig.lower) - tf.gather(targets, rig.upper)) - self.lens
        )
        share = tf.clip_by_value(parted / tf.maximum(self.lens, 1e-6), 0.0, 1.0)[:, None]
        lips, seam = self.lip_points, self.seam
        start = (
            seam
            + tf.matmul(rig.scatter_upper, share * tf.gather(lips - seam, rig.upper))
            + tf.matmul(rig.scatter_lower, share * tf.gather(lips - seam, rig.lower))
        )
        moves = targets - lips
        return tf.gather(start + moves, rig.inner_contour)

    def inside(self, targets: tf.Tensor) -> tf.Tensor:
        """The drawn inside of the mouth over the patch, RGB float32 [rows, cols, 3] in
        [0, 255]."""
        width, u, v = self.width, self.u, self.v
        across = tf.abs(u)
        upper_edge = self.seam_v + 0.10 * width - 0.10 * width * u**2
        upper = tf.clip_by_value(upper_edge - v + 0.5, 0.0, 1.0)
        upper *= tf.clip_by_value((1.0 - across) / 0.15, 0.0, 1.0)
        edge = tf.gather(targets, self.rig.lower_edge) - self.center
        lip_u, lip_v = self._across(edge) / (width / 2), self._down(edge)
        lower_edge = _interp(u, lip_u, lip_v) - 0.06 * width
        lower = tf.clip_by_value(v - lower_edge + 0.5, 0.0, 1.0) * (1 - upper)
        lower *= 0.85 * tf.clip_by_value((0.85 - across) / 0.15, 0.0, 1.0)
        side = 1.0 - 0.45 * tf.clip_by_value((across - 0.3) / 0.7, 0.0, 1.0) ** 1.5
        under_lip = tf.clip_by_value((v - (upper_edge - 0.12 * width)) / (0.12 * width), 0.0, 1.0)
        tooth_l = tf.clip_by_value(self.skin_lab[0] + 40, 170.0, 235.0)
        lip = self.lip_lab
        dark = [0.22 * lip[0], 0.6 * lip[1] + 0.4 * 128 + 4, 0.6 * lip[2] + 0.4 * 128 + 2]
        teeth = upper + lower
        lightness = (
            dark[0] * (1 - teeth)
            + tooth_l * side * (0.8 + 0.2 * under_lip) * upper
            + 0.7 * tooth_l * side * lower
        )
        # OpenCV's a*, b* of the teeth (128 = grey).
        a = dark[1] * (1 - teeth) + 129.0 * teeth
        b = dark[2] * (1 - teeth) + 134.0 * teeth
        lab = tf.stack([lightness, a, b], axis=-1)
        return _gaussian_blur(lab_to_rgb(lab), 0.5)

    def frame(self, shape: tf.Tensor) -> tf.Tensor:
        """One frame for one head shape [80]: float32 [128, 96, 3] in [-1, 1]."""
        rig = self.rig
        targets = self.targets(shape)
        warped = self.warp(targets)
        polygon = self.gap_polygon(targets) - self.patch_corner
        coverage = tf.reduce_mean(
            _inside_polygon(polygon, tf.constant(rig.sample_x), tf.constant(rig.sample_y)),
            axis=-1,
        )
        alpha = _gaussian_blur(coverage[..., None], 0.4)
        alpha = tf.where(self.open_at_rest, tf.zeros_like(alpha), alpha)
        rows = [self.patch_row, IMAGE_HEIGHT - _PATCH_ROWS - self.patch_row]
        cols = [self.patch_col, IMAGE_WIDTH - _PATCH_COLS - self.patch_col]
        inside = tf.pad(self.inside(targets) * alpha, [rows, cols, [0, 0]])
        alpha = tf.pad(alpha, [rows, cols, [0, 0]])
        out = warped * (1 - alpha) + inside
        return tf.round(out) / 127.5 - 1.0


def _interp(x: tf.Tensor, xp: tf.Tensor, fp: tf.Tensor) -> tf.Tensor:
    """np.interp in the graph: fp [n] over xp [n] (any order) read at x [...], ends held."""
    order = tf.argsort(xp)
    xp, fp = tf.gather(xp, order), tf.gather(fp, order)
    flat = tf.reshape(x, [-1])
    index = tf.clip_by_value(tf.searchsorted(xp, flat), 1, tf.shape(xp)[0] - 1)
    x0, x1 = tf.gather(xp, index - 1), tf.gather(xp, index)
    f0, f1 = tf.gather(fp, index - 1), tf.gather(fp, index)
    t = tf.clip_by_value((flat - x0) / tf.maximum(x1 - x0, 1e-6), 0.0, 1.0)
    return tf.reshape(f0 + t * (f1 - f0), tf.shape(x))
