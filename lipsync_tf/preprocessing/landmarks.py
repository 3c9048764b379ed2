"""MediaPipe face-mesh landmarks (468 points) on face crops, run directly with LiteRT. The
mouth-shape measures built on them (normalised lip landmarks, mouth opening) and the mesh's
index sets are in `face_geometry`.

The Tasks `FaceLandmarker` cannot be used offline with the model files we ship (a hand-made
`.task` pairing the 0.10.21 468-point model with the newer graph misplaces every point; see
DEPENDENCIES.md), so `FaceMesh` runs `face_landmark.tflite` itself: the crop is padded to a square
with replicated edges (for a 128x96 face crop that is a square about 1.5x the detector box, the
framing the model was trained on), resized to 192x192, scaled to [0, 1], and the points are mapped
back to crop pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from lipsync_tf.face_geometry import MIN_FACE_SCORE, NUM_LANDMARKS
from lipsync_tf.preprocessing import model_files

INPUT_SIZE = 192


def _sigmoid(value: float) -> float:
    return float(1.0 / (1.0 + np.exp(-value)))


class FaceMesh:
    """Face-mesh landmarks on face crops (RGB uint8), one interpreter reused for every frame.

        mesh = FaceMesh()
        points, scores = mesh.video(frames)  # [T, 468, 3] crop pixels, [T] face probability

    `points[..., :2]` are (x, y) in pixels of the crop; `[..., 2]` is relative depth in the same
    scale. `scores` is the model's face-presence probability: below ~0.5 the crop does not look
    like a face to the model and its points should not be trusted.
    """

    def __init__(self, num_threads: int = 1):
        # Imported here so importing the metrics does not load LiteRT.
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(
            model_path=str(model_files.model_path("face_landmark")), num_threads=num_threads
        )
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = self._interpreter.get_output_details()
        # The landmark tensor has 1404 = 468 * 3 values; the face flag has one.
        by_size = {int(np.prod(detail["shape"])): detail["index"] for detail in outputs}
        self._points_output = by_size[NUM_LANDMARKS * 3]
        self._flag_output = by_size[1]

    def image(self, rgb: np.ndarray) -> tuple[np.ndarray, float]:
        """Landmarks of the face filling `rgb` (uint8 [H, W, 3]).

        Returns float32 [468, 3] points in pixels of `rgb` and the face-presence probability.
        """
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an RGB image [H, W, 3], got shape {rgb.shape}")
        height, width = rgb.shape[:2]
        side = max(height, width)
        top = (side - height) // 2
        left = (side - width) // 2
        square = cv2.copyMakeBorder(
            np.ascontiguousarray(rgb),
            top,
            side - height - top,
            left,
            side - width - left,
            cv2.BORDER_REPLICATE,
        )
        interpolation = cv2.INTER_AREA if side > INPUT_SIZE else cv2.INTER_LINEAR
        resized = cv2.resize(square, (INPUT_SIZE, INPUT_SIZE), interpolation=interpolation)
        tensor = (resized.astype(np.float32) / 255.0)[None]
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        points = self._interpreter.get_tensor(self._points_output).reshape(NUM_LANDMARKS, 3)
        flag = float(self._interpreter.get_tensor(self._flag_output).reshape(()))
        scale = side / INPUT_SIZE
        points = points * scale
        points[:, 0] -= left
        points[:, 1] -= top
        return points.astype(np.float32), _sigmoid(flag)

    def in_window(self, rgb: np.ndarray, window) -> np.ndarray | None:
        """Points of the face in `window` (a `face_geometry.FaceBox`, the project's crop window)
        of a whole picture, at the picture's own resolution: the window is cut out without
        resizing (edges replicated past the picture) and the mesh run on it. float32 [468, 2]
        picture pixels, or None when the face-presence probability is below MIN_FACE_SCORE."""
        x0, y0 = int(np.floor(window.x0)), int(np.floor(window.y0))
        x1, y1 = int(np.ceil(window.x1)), int(np.ceil(window.y1))
        height, width = rgb.shape[:2]
        pad = max(0, -x0, -y0, x1 - width, y1 - height)
        padded = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        crop = padded[y0 + pad : y1 + pad, x0 + pad : x1 + pad]
        points, score = self.image(np.ascontiguousarray(crop))
        if score < MIN_FACE_SCORE:
            return None
        return points[:, :2] + np.array([x0, y0], np.float32)

    def video(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks per frame: uint8 [T, H, W, 3] -> float32 [T, 468, 3], float32 [T] scores."""
        results = [self.image(frame) for frame in frames]
        if not results:
            return np.zeros((0, NUM_LANDMARKS, 3), np.float32), np.zeros((0,), np.float32)
        points = np.stack([points for points, _ in results])
        scores = np.array([score for _, score in results], np.float32)
        return points, scores
