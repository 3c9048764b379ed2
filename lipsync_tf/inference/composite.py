"""The model's motion at the photo's own resolution.

A warping generator makes each 128x96 frame as `mask * drawn + (1 - mask) * warp(still, flow)`
(`models/generator.py`): the still's pixels moved by a displacement field, and drawn pixels only
where the mask is open (for a `mask_region: mouth` model, the inside of the mouth). Scaling that
128x96 frame up to the photo would give everything below the nose the resolution of a 96-pixel
drawing. `PhotoCompositor` instead applies the same equation in the photo: the field and the mask
are scaled up to the face's crop window, the photo's own pixels move by the field, and only the
drawn pixels are scaled up. Outside the region the field may touch (`face_geometry`'s
lower-face prior), the photo is left as it is, pixel for pixel.

NumPy and OpenCV only: usable by any client of the exported model's layer outputs
(`generate_chunk`'s flow, mask and drawn; see docs/serving.md).
"""

from __future__ import annotations

import cv2
import numpy as np

from lipsync_tf.config import IMAGE_HEIGHT, IMAGE_WIDTH
from lipsync_tf.face_geometry import FaceBox, lower_face_prior

# [1, 2, 1] / 4: zero response at the period-2 pattern a stride-2 transposed conv leaves.
_BINOMIAL = np.array([0.25, 0.5, 0.25], np.float32)


class PhotoCompositor:
    """Composes frames for one crop window of a picture of shape `image_shape`.

    `region` [128, 96] (crop pixels) is where the model's flow and mask may be nonzero (default:
    the lower-face prior, which bounds a warping generator's flow); only its bounding box in the
    picture is recomputed per frame. The window may extend past the picture's edges.

    The photo is moved with bicubic taps (`interpolation`): a bilinear read halfway between two
    pixels averages them, which blurred the moving lips to 0.63x a real video's sharpness on the
    held-out clips, against 0.75x bicubic (bench/mouth_quality.py, docs/training_log.md). The
    model's own 128x96 frames warp bilinearly in the graph; pass cv2.INTER_LINEAR to remake
    them exactly.

    The drawn pixels and the mask come out of a stride-2 transposed convolution, which leaves
    a pattern of alternate rows and columns in them; scaled up to the photo, it became dark
    stripes across an open mouth. `smooth_drawn` (on by default) filters both layers with
    [1, 2, 1] / 4 along rows and columns at the crop's resolution, which removes exactly that
    period-2 pattern and little else, and scales the smoothed mask back to the mask's own peak
    (filtered alone, a mouth open by a row or two came out half as dark); pass False, with
    cv2.INTER_LINEAR, to remake the graph's frames.
    """

    def __init__(
        self,
        image_shape: tuple[int, ...],
        window: FaceBox,
        region: np.ndarray | None = None,
        interpolation: int = cv2.INTER_CUBIC,
        smooth_drawn: bool = True,
    ):
        self.interpolation = interpolation
        self.smooth_drawn = smooth_drawn
        image_h, image_w = image_shape[:2]
        if region is None:
            region = lower_face_prior()[..., 0]
        rows = np.flatnonzero(region.any(axis=1))
        cols = np.flatnonzero(region.any(axis=0))
        self.scale_x = window.width / IMAGE_WIDTH
        self.scale_y = window.height / IMAGE_HEIGHT
        self.empty = rows.size == 0
        if self.empty:
            return
        # The region's bounding box in picture pixels (one crop pixel of margin for the
        # bilinear taps), clipped to the picture.
        x0 = int(np.floor(window.x0 + (cols[0] - 1) * self.scale_x))
        x1 = int(np.ceil(window.x0 + (cols[-1] + 2) * self.scale_x))
        y0 = int(np.floor(window.y0 + (rows[0] - 1) * self.scale_y))
        y1 = int(np.ceil(window.y0 + (rows[-1] + 2) * self.scale_y))
        self.x0, self.x1 = max(x0, 0), min(x1, image_w)
        self.y0, self.y1 = max(y0, 0), min(y1, image_h)
        if self.x1 <= self.x0 or self.y1 <= self.y0:
            self.empty = True
            return
        xs = np.arange(self.x0, self.x1, dtype=np.float32)
        ys = np.arange(self.y0, self.y1, dtype=np.float32)
        self.grid_x, self.grid_y = np.meshgrid(xs, ys)
        # Where each picture pixel centre falls in the crop (pixel centres at integers).
        self.crop_x = ((self.grid_x + 0.5 - window.x0) / self.scale_x - 0.5).astype(np.float32)
        self.crop_y = ((self.grid_y + 0.5 - window.y0) / self.scale_y - 0.5).astype(np.float32)

    def _upsample(self, layer: np.ndarray, border: int) -> np.ndarray:
        """A [128, 96, c] crop-space layer read at every pixel of the box (bilinear)."""
        return cv2.remap(
            np.ascontiguousarray(layer),
            self.crop_x,
            self.crop_y,
            cv2.INTER_LINEAR,
            borderMode=border,
            borderValue=0,
        )

    def _layer(self, layer: np.ndarray) -> np.ndarray:
        """A drawn-side layer (drawn pixels or mask) as the compositor scales it up."""
        if not self.smooth_drawn:
            return layer
        return cv2.sepFilter2D(layer, -1, _BINOMIAL, _BINOMIAL, borderType=cv2.BORDER_REPLICATE)

    def _mask(self, mask: np.ndarray) -> np.ndarray:
        """The mask as the compositor scales it up: smoothed like the drawn pixels, then brought
        back to its own peak, so a mouth open by a row or two stays as dark as drawn."""
        if not self.smooth_drawn:
            return mask
        smooth = self._layer(mask)
        peak = smooth.max()
        return smooth * (mask.max() / peak) if peak > 0 else smooth

    def compose(
        self, image: np.ndarray, flow: np.ndarray, mask: np.ndarray, drawn: np.ndarray
    ) -> np.ndarray:
        """image uint8 [H, W, 3] (not modified); one frame's layers: flow float32 [128, 96, 2]
        (x, y crop pixels), mask float32 [128, 96, 1] in [0, 1], drawn uint8 [128, 96, 3].
        Returns the composed picture, uint8 [H, W, 3]."""
        out = image.copy()
        if self.empty:
            return out
        displacement = self._upsample(flow.astype(np.float32), cv2.BORDER_CONSTANT)
        map_x = self.grid_x + displacement[..., 0] * self.scale_x
        map_y = self.grid_y + displacement[..., 1] * self.scale_y
        warped = cv2.remap(image, map_x, map_y, self.interpolation, borderMode=cv2.BORDER_REPLICATE)
        weight = self._upsample(self._mask(mask[..., 0].astype(np.float32)), cv2.BORDER_CONSTANT)
        weight = np.clip(weight, 0.0, 1.0)
        painted = self._upsample(self._layer(drawn), cv2.BORDER_REPLICATE)
        out[self.y0 : self.y1, self.x0 : self.x1] = cv2.blendLinear(
            painted, warped, np.ascontiguousarray(weight), np.ascontiguousarray(1.0 - weight)
        )
        return out
