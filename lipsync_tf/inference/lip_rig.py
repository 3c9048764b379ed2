"""The photo's own lips moved to the lip shape the model hears, at the photo's resolution.

`bin/generate --mouth_motion lip_shape`. A model with a mouth head returns, per frame, the lip
shape it hears (`mouth_shape`: the 40 lip points in the face frame of
`face_geometry.normalized_lips`, minus the speaker's mean, over LIP_SHAPE_SCALE). `LipRig`
finds the photo's own 40 lip points with the face mesh and, per frame:

1. moves them by the head's shape (less its shape on silence, the photo's rest pose) times
   `LIP_SHAPE_GAIN`, smoothed along each lip contour and bent no more steeply than
   `_MAX_SLOPE` from the mouth's corners; the chin follows the lower lip, the nose and cheeks
   stay;
2. warps the photo with a smooth field through those points (Gaussian radial basis functions),
   read with bicubic taps at the photo's resolution, so lips and skin keep its pixels;
3. draws only the gap that opens between the inner lips: a dark inside in the lips' own tone,
   the upper teeth fixed to the head (their edge a little below where the photo's lips meet, on
   the arc teeth make) and the lower teeth moving with the jaw, lit like the photo's cheeks.

Unlike the decoder's layers (`composite.PhotoCompositor`), nothing is drawn over the lips, and
the mouth opens as far as the head hears it. NumPy and OpenCV only.
"""

from __future__ import annotations

import cv2
import numpy as np

from lipsync_tf import face_geometry as geometry
from lipsync_tf.errors import InputError

LIP_SHAPE_GAIN = geometry.LIP_SHAPE_GAIN
MAX_LIP_SHAPE_GAIN = geometry.MAX_LIP_SHAPE_GAIN
_MAX_SLOPE = geometry.LIP_MAX_SLOPE
_OPEN_AT_REST = geometry.OPEN_AT_REST
_LIPS = list(geometry.LIPS)
_UPPER_INNER, _LOWER_INNER = geometry.UPPER_INNER_PAIRS, geometry.LOWER_INNER_PAIRS
_CORNERS = geometry.MOUTH_CORNERS
_LOWER_LIP = geometry.LOWER_LIP_POINTS
_JAW = geometry.JAW_FOLLOWERS
_HELD = geometry.HELD_POINTS
# Offsets [40, 2] smoothed along each lip contour (`geometry.lip_contour_smoothing`).
_SMOOTHING = geometry.lip_contour_smoothing()


class LipRig:
    """Moves the lips of one photo; `compose(image, mouth_shape)` makes one frame.

    Args:
        photo: uint8 [H, W, 3] the picture whose lips move (its tones colour the inside).
        points: float [468, 2] the photo's face-mesh points, in its pixels.
        rest_shape: float [80] the head's `mouth_shape` on silence for this photo (`rest_shape`).
        gain: how far the head's shape moves the lips (`LIP_SHAPE_GAIN`).
    """

    def __init__(self, photo: np.ndarray, points, rest_shape, gain: float = LIP_SHAPE_GAIN):
        p = np.asarray(points, np.float64)[:, :2]
        self.points = p
        self.rest = _lip_offsets(rest_shape)
        self.gain = gain
        right, left = p[geometry.RIGHT_EYE_OUTER], p[geometry.LEFT_EYE_OUTER]
        self.eye_distance = float(np.linalg.norm(left - right))
        self.x_axis = (left - right) / self.eye_distance
        self.y_axis = np.array([-self.x_axis[1], self.x_axis[0]])  # down the face
        self.mouth_width = float(np.linalg.norm(p[_CORNERS[0]] - p[_CORNERS[1]]))
        self.center = p[list(_CORNERS)].mean(axis=0)
        self._upper_ids = [_LIPS.index(k) for k in _UPPER_INNER]
        self._lower_ids = [_LIPS.index(k) for k in _LOWER_INNER]
        self._lower_lip_ids = [_LIPS.index(k) for k in _LOWER_LIP]
        self._inner_ids = [_LIPS.index(k) for k in geometry.INNER_LIP_CONTOUR]
        # Where the lips meet: each facing pair of inner points at its midpoint.
        self.seam_points = p.copy()
        for up, low in zip(_UPPER_INNER, _LOWER_INNER, strict=True):
            self.seam_points[[up, low]] = (p[up] + p[low]) / 2
        # The lens between each facing pair (pixels down the face), the seam's mean depth.
        self._lens = (p[list(_LOWER_INNER)] - p[list(_UPPER_INNER)]) @ self.y_axis
        self._seam_v = float(
            np.mean((self.seam_points[list(_UPPER_INNER)] - self.center) @ self.y_axis)
        )
        # The bend limit (`_limit_slope`): each lip point's nearer corner, and how far it may
        # move beyond that corner's move.
        corners = [_LIPS.index(k) for k in _CORNERS]
        across = (p[_LIPS] - self.center) @ self.x_axis
        nearer = np.argmin(np.abs(across[:, None] - across[corners][None]), axis=1)
        self._slope_base = np.array(corners)[nearer]
        self._slope_reach = _MAX_SLOPE * np.abs(across - across[self._slope_base])
        # The warp's controls that do not depend on the frame: where the lips, the jaw and
        # the held points are in the photo, and the jaw's shares of the lower lip's move.
        jaw = [k for indices, _ in _JAW for k in indices]
        self._controls = p[[*_LIPS, *jaw, *_HELD]]
        self._jaw_points = p[jaw]
        self._jaw_shares = np.concatenate(
            [np.full(len(indices), share) for indices, share in _JAW]
        )[:, None]
        # A photo that shows its own open mouth (inner lips apart by a tenth of the mouth's
        # width) keeps it: its teeth and tongue are moved by the warp, nothing is drawn.
        lens = (p[geometry.LOWER_INNER_LIP] - p[geometry.UPPER_INNER_LIP]) @ self.y_axis
        self.open_at_rest = bool(lens > _OPEN_AT_REST * self.mouth_width)
        width = self.mouth_width
        self.sigma = 0.35 * width
        self._set_tones(photo)

        # The box the warp may touch, clipped to the picture; the field fades out toward its
        # edges so the box never shows.
        cx, cy = self.center
        left, right, top, bottom = (
            cx - 1.7 * width,
            cx + 1.7 * width,
            cy - 1.1 * width,
            cy + 2.3 * width,
        )
        height_px, width_px = photo.shape[:2]
        self.x0, self.x1 = int(max(0, left)), int(min(width_px, right))
        self.y0, self.y1 = int(max(0, top)), int(min(height_px, bottom))
        self.empty = self.x1 - self.x0 < 4 or self.y1 - self.y0 < 4
        if self.empty:
            return
        ys, xs = np.mgrid[self.y0 : self.y1, self.x0 : self.x1].astype(np.float32)
        self.grid_x, self.grid_y = xs, ys
        edge = np.minimum.reduce([xs - left, right - xs, ys - top, bottom - ys])
        self.fade = geometry.smoothstep(np.clip(edge / (0.3 * width), 0.0, 1.0)).astype(np.float32)
        # The field is evaluated on a coarse grid and read back bilinearly: it is smooth.
        step = max(2.0, width / 10)
        coarse_x, coarse_y = np.meshgrid(
            np.arange(self.x0, self.x1 + step, step), np.arange(self.y0, self.y1 + step, step)
        )
        self.coarse = np.stack([coarse_x.ravel(), coarse_y.ravel()], axis=-1)
        self.coarse_shape = coarse_x.shape
        self.read_x = ((xs - self.x0) / step).astype(np.float32)
        self.read_y = ((ys - self.y0) / step).astype(np.float32)
        # Where each pixel sits across and down the mouth: u in half mouth widths from the
        # centre (across), v in pixels (down the face).
        rel_x, rel_y = xs - cx, ys - cy
        self.u = ((rel_x * self.x_axis[0] + rel_y * self.x_axis[1]) / (width / 2)).astype(
            np.float32
        )
        self.v = (rel_x * self.y_axis[0] + rel_y * self.y_axis[1]).astype(np.float32)

    @classmethod
    def from_photo(cls, photo: np.ndarray, window, rest_shape, gain: float = LIP_SHAPE_GAIN):
        """The rig of the face in `window` of `photo`; InputError when the face mesh finds no
        trusted face there."""
        from lipsync_tf.preprocessing.landmarks import FaceMesh

        points = FaceMesh().in_window(photo, window)
        if points is None:
            raise InputError(
                "the face mesh cannot place the lips of this photo's face; use --mouth_motion "
                "layers (the model's own motion)."
            )
        return cls(photo, points, rest_shape, gain)

    # --- per photo ------------------------------------------------------------------------

    def _set_tones(self, photo: np.ndarray) -> None:
        """The inside's dark from the lips' median CIELAB (OpenCV's 8-bit scale), the teeth's
        light from the cheeks'."""
        lab = cv2.cvtColor(photo, cv2.COLOR_RGB2LAB)
        lips = np.zeros(photo.shape[:2], np.uint8)
        cv2.fillPoly(lips, [self.points[list(geometry.OUTER_LIP_CONTOUR)].astype(np.int32)], 1)
        cheeks = np.zeros_like(lips)
        radius = max(1, int(0.2 * self.mouth_width))
        for point in geometry.CHEEK_POINTS:
            cv2.circle(cheeks, tuple(int(v) for v in self.points[point]), radius, 1, -1)
        self.lip_lab = np.median(lab[lips > 0], axis=0) if lips.any() else np.array([110, 150, 140])
        self.skin_lab = np.median(lab[cheeks > 0], axis=0) if cheeks.any() else np.full(3, 160)

    # --- per frame ------------------------------------------------------------------------

    def lip_targets(self, mouth_shape) -> np.ndarray:
        """Where the photo's 40 lip points go for one frame's head shape: float64 [40, 2]."""
        offsets = _along_contours(self.gain * (_lip_offsets(mouth_shape) - self.rest))
        down = self._limit_slope(offsets[:, 1] * self.eye_distance)
        moves = np.outer(offsets[:, 0] * self.eye_distance, self.x_axis)
        targets = self.points[_LIPS] + moves + np.outer(down, self.y_axis)
        # Lips never pass through each other: a pair that would cross meets halfway.
        upper, lower = self._upper_ids, self._lower_ids
        gaps = (targets[lower] - targets[upper]) @ self.y_axis
        overlap = np.minimum(gaps, 0.0)[:, None] * self.y_axis / 2
        targets[upper] += overlap
        targets[lower] -= overlap
        return targets

    def _limit_slope(self, down: np.ndarray) -> np.ndarray:
        """Vertical moves [40] (pixels) with no lip point moving more than MAX_SLOPE times its
        distance across the face from the nearer mouth corner beyond that corner's move: lips
        bend, they do not fold, and a steep step by the corner showed as a dark wedge."""
        base = down[self._slope_base]
        return base + np.clip(down - base, -self._slope_reach, self._slope_reach)

    def _field(self, targets: np.ndarray):
        """Backward map of the box (picture pixel each box pixel reads), float32 [h, w] x2."""
        lower = (targets - self.points[_LIPS])[self._lower_lip_ids].mean(axis=0)
        source = self._controls
        jaw = self._jaw_points + self._jaw_shares * lower
        goal = np.concatenate([targets, jaw, self.points[list(_HELD)]])
        # Gaussian RBF through the controls at their new places; the values are where each
        # reads from. The ridge keeps nearby controls (the lips' two contours) from fighting.
        coefficients = np.linalg.solve(
            self._kernel(goal, goal) + 0.05 * np.eye(len(goal)), source - goal
        )
        field = (self._kernel(self.coarse, goal) @ coefficients).astype(np.float32)
        field = field.reshape(*self.coarse_shape, 2)
        dx = cv2.remap(field[..., 0], self.read_x, self.read_y, cv2.INTER_LINEAR)
        dy = cv2.remap(field[..., 1], self.read_x, self.read_y, cv2.INTER_LINEAR)
        return self.grid_x + self.fade * dx, self.grid_y + self.fade * dy

    def _kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        squared = (a**2).sum(axis=1)[:, None] + (b**2).sum(axis=1)[None] - 2 * a @ b.T
        return np.exp(-np.maximum(squared, 0.0) / (2 * self.sigma**2))

    def _gap_polygon(self, targets: np.ndarray) -> np.ndarray:
        """The drawn gap's contour [20, 2] picture pixels.

        The face mesh's inner contours of closed lips are a thin lens along their seam, not a
        gap, and stretched by the warp that lens is a dark smear. So for each facing pair of
        inner points the drawn gap starts on the seam and grows into the lens as the lips part,
        covering it whole once they have parted by its own width: nothing is drawn at rest, and
        a parted mouth is drawn edge to edge."""
        order = list(geometry.INNER_LIP_CONTOUR)
        moves = targets[self._inner_ids] - self.points[order]
        start = self.seam_points.copy()
        upper, lower = list(_UPPER_INNER), list(_LOWER_INNER)
        parted = (targets[self._lower_ids] - targets[self._upper_ids]) @ self.y_axis - self._lens
        share = np.clip(parted / np.maximum(self._lens, 1e-6), 0.0, 1.0)[:, None]
        start[upper] += share * (self.points[upper] - self.seam_points[upper])
        start[lower] += share * (self.points[lower] - self.seam_points[lower])
        return start[order] + moves

    def _patch(self, polygon: np.ndarray) -> tuple[slice, slice] | None:
        """The box rows and columns the drawn gap can reach (its blur included), or None."""
        margin = 2 + 3 * max(0.5, self.mouth_width / 110)
        (x0, y0), (x1, y1) = polygon.min(axis=0) - margin, polygon.max(axis=0) + margin
        height, width = self.grid_x.shape
        c0, c1 = max(0, int(x0) - self.x0), min(width, int(np.ceil(x1)) - self.x0)
        r0, r1 = max(0, int(y0) - self.y0), min(height, int(np.ceil(y1)) - self.y0)
        return (slice(r0, r1), slice(c0, c1)) if r1 > r0 and c1 > c0 else None

    def _coverage(self, polygon: np.ndarray, patch: tuple[slice, slice]) -> np.ndarray:
        """Coverage [h, w] in [0, 1] of `polygon` over the patch, from 4x4 samples a pixel.

        The samples are eroded by one (a quarter pixel), so a gap that has not opened (the
        contours on the seam, a polygon of no area that rasterising would still draw as a
        line) covers nothing."""
        rows, cols = patch
        scale = 4
        height, width = rows.stop - rows.start, cols.stop - cols.start
        canvas = np.zeros((height * scale, width * scale), np.uint8)
        # Sample j of the canvas has its centre at (j + 0.5) / scale - 0.5 patch pixels.
        shift = (scale - 1) / (2 * scale)
        corner = [self.x0 + cols.start - shift, self.y0 + rows.start - shift]
        points = np.round((polygon - corner) * scale).astype(np.int32)
        cv2.fillPoly(canvas, [points], 255)
        canvas = cv2.erode(canvas, np.ones((3, 3), np.uint8))
        coverage = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA)
        return coverage.astype(np.float32) / 255.0

    def _inside(self, targets: np.ndarray, patch: tuple[slice, slice]) -> np.ndarray:
        """The drawn inside of the mouth over the patch, RGB float32 [h, w, 3]."""
        width, u, v = self.mouth_width, self.u[patch], self.v[patch]
        across = np.abs(u)
        # Upper teeth: fixed to the head, their edge on the arc front teeth make.
        upper_edge = self._seam_v + 0.10 * width - 0.10 * width * u**2
        upper = np.clip(upper_edge - v + 0.5, 0, 1) * np.clip((1.0 - across) / 0.15, 0, 1)
        # Lower teeth: moving with the jaw, just above the moved lower lip.
        lower_lip = targets[[_LIPS.index(k) for k in (_CORNERS[0], *_LOWER_INNER, _CORNERS[1])]]
        rel = lower_lip - self.center
        lip_u, lip_v = (rel @ self.x_axis) / (width / 2), rel @ self.y_axis
        order = np.argsort(lip_u)
        lower_edge = np.interp(u, lip_u[order], lip_v[order]) - 0.06 * width
        lower = np.clip(v - lower_edge + 0.5, 0, 1) * (1 - upper)
        lower *= 0.85 * np.clip((0.85 - across) / 0.15, 0, 1)
        # Light: less toward the corners and under the upper lip; the front teeth's gaps show
        # where the mouth is wide enough (60 pixels or more) for them to be seen.
        side = 1.0 - 0.45 * np.clip((across - 0.3) / 0.7, 0, 1) ** 1.5
        under_lip = np.clip((v - (upper_edge - 0.12 * width)) / (0.12 * width), 0, 1)
        gaps = np.zeros_like(u)
        if width >= 60:
            line = max(0.6, width / 120) / (width / 2)
            for centre in (0.0, -0.22, 0.22, -0.42, 0.42):
                gaps = np.maximum(gaps, np.exp(-((u - centre) ** 2) / (2 * line**2)))
        tooth_l = float(np.clip(self.skin_lab[0] + 40, 170, 235))
        dark = np.array(
            [0.22 * self.lip_lab[0], 0.6 * self.lip_lab[1] + 0.4 * 128 + 4,
             0.6 * self.lip_lab[2] + 0.4 * 128 + 2], np.float32,
        )  # fmt: skip
        lab = np.empty((*u.shape, 3), np.float32)
        lab[..., 0] = (
            dark[0] * (1 - upper - lower)
            + tooth_l * side * (0.8 + 0.2 * under_lip) * (1 - 0.12 * gaps) * upper
            + 0.7 * tooth_l * side * lower
        )
        for channel, tooth in ((1, 129.0), (2, 134.0)):  # OpenCV's a*, b* (128 = grey)
            lab[..., channel] = dark[channel] * (1 - upper - lower) + tooth * (upper + lower)
        rgb = cv2.cvtColor(np.clip(lab + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
        return cv2.GaussianBlur(rgb.astype(np.float32), (0, 0), max(0.5, width / 110))

    def compose(self, image: np.ndarray, mouth_shape) -> np.ndarray:
        """image uint8 [H, W, 3] (not modified), mouth_shape float [80] -> the frame."""
        out = image.copy()
        if self.empty:
            return out
        targets = self.lip_targets(mouth_shape)
        map_x, map_y = self._field(targets)
        box = cv2.remap(image, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        polygon = self._gap_polygon(targets)
        patch = None if self.open_at_rest else self._patch(polygon)
        if patch is not None:
            coverage = self._coverage(polygon, patch)
            if coverage.any():
                sigma = max(0.4, self.mouth_width / 160)
                alpha = cv2.GaussianBlur(coverage, (0, 0), sigma)[..., None]
                drawn = box[patch].astype(np.float32) * (1 - alpha)
                drawn += self._inside(targets, patch) * alpha
                box[patch] = np.clip(drawn + 0.5, 0, 255).astype(np.uint8)
        out[self.y0 : self.y1, self.x0 : self.x1] = box
        return out


def _along_contours(offsets: np.ndarray) -> np.ndarray:
    """Offsets [40, 2] smoothed along the outer and the inner lip contour. The head's points
    each carry their own error, which the gain multiplies; near the corners, where the face
    mesh's points crowd, a lone point moved by much more than its neighbours tore a dark wedge
    into a small mouth."""
    return _SMOOTHING @ offsets


def _lip_offsets(mouth_shape) -> np.ndarray:
    """A head output float [80] -> the 40 lip points' offsets in eye-distance units [40, 2]."""
    shape = np.asarray(mouth_shape, np.float64).reshape(len(_LIPS), 2)
    return shape * geometry.LIP_SHAPE_SCALE


def rest_shape(runner, identity, seed: int = 0) -> np.ndarray:
    """The head's `mouth_shape` float32 [80] on a second of silence: the photo's rest pose,
    which the lips are moved away from (the mean of the last 15 frames, after the GRUs settle)."""
    silence = np.zeros(runner.samples_per_frame * 25, np.float32)
    shapes = [
        outputs["mouth_shape"]
        for _, outputs in runner.iter_outputs(identity, silence, seed, with_frames=False)
    ]
    return np.concatenate(shapes)[-15:].mean(axis=0).astype(np.float32)
