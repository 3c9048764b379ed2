"""Blending a generated 128x96 face back into the full-resolution picture it was cropped from."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from lipsync_tf.config import ModelConfig
from lipsync_tf.face_geometry import FaceBox, face_paste_mask, lower_face_paste_mask


def paste_region(config: ModelConfig) -> Callable[[int, int], np.ndarray]:
    """The mask to paste a model's faces with. A model that blends with the still changes only
    the lower face, so only that is pasted and the photo keeps its own, sharper, eyes; other
    models redraw the whole face."""
    return lower_face_paste_mask if config.blend_mask else face_paste_mask


class Paster:
    """Pastes generated faces at one crop window of a picture of size `image_shape`.

    The window may extend past the picture's edges (faces near a border); only its part inside
    the picture is blended. `region(height, width)` gives the blend weights over the window
    (default: the whole face, feathered).
    """

    def __init__(
        self,
        image_shape: tuple[int, ...],
        window: FaceBox,
        region: Callable[[int, int], np.ndarray] = face_paste_mask,
    ):
        image_h, image_w = image_shape[:2]
        x0, y0 = round(window.x0), round(window.y0)
        self.size = (max(round(window.width), 1), max(round(window.height), 1))
        w, h = self.size
        # Intersection of the window with the picture, in picture and in window coordinates.
        self.ix0, self.iy0 = max(x0, 0), max(y0, 0)
        self.ix1, self.iy1 = min(x0 + w, image_w), min(y0 + h, image_h)
        self.wx0, self.wy0 = self.ix0 - x0, self.iy0 - y0
        mask = region(h, w)[
            self.wy0 : self.wy0 + self.iy1 - self.iy0, self.wx0 : self.wx0 + self.ix1 - self.ix0
        ]
        # Only the bounding box of the nonzero weights is blended: a lower-face region is about
        # a third of the window, and on a large photo the blend is most of the paste's time.
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        self.empty = rows.size == 0
        if not self.empty:
            top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
            mask = mask[top:bottom, left:right]
            self.iy0, self.ix0 = self.iy0 + top, self.ix0 + left
            self.iy1, self.ix1 = self.iy0 + bottom - top, self.ix0 + right - left
            self.wy0, self.wx0 = self.wy0 + top, self.wx0 + left
        # cv2.blendLinear takes both weights as float32 [h, w] and blends uint8 in one SIMD pass.
        self.mask = np.ascontiguousarray(mask, np.float32)
        self.inverse_mask = 1.0 - self.mask

    def paste(self, image: np.ndarray, face: np.ndarray) -> np.ndarray:
        """image uint8 [H, W, 3] (not modified), face uint8 [128, 96, 3] -> blended copy."""
        out = image.copy()
        if self.empty:
            return out
        w, h = self.size
        interpolation = cv2.INTER_AREA if w < face.shape[1] else cv2.INTER_LINEAR
        resized = cv2.resize(face, (w, h), interpolation=interpolation)
        part = resized[
            self.wy0 : self.wy0 + self.iy1 - self.iy0, self.wx0 : self.wx0 + self.ix1 - self.ix0
        ]
        region = out[self.iy0 : self.iy1, self.ix0 : self.ix1]
        out[self.iy0 : self.iy1, self.ix0 : self.ix1] = cv2.blendLinear(
            np.ascontiguousarray(part), np.ascontiguousarray(region), self.mask, self.inverse_mask
        )
        return out


def paste_back(
    image: np.ndarray,
    face: np.ndarray,
    window: FaceBox,
    region: Callable[[int, int], np.ndarray] = face_paste_mask,
) -> np.ndarray:
    """One-off `Paster(image.shape, window, region).paste(image, face)`."""
    return Paster(image.shape, window, region).paste(image, face)
