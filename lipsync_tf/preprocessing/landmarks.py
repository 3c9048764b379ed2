"""MediaPipe face-mesh landmarks (468 points) on face crops, run directly with LiteRT, and the
mouth-shape measures built on them (normalised lip landmarks, mouth opening).

The Tasks `FaceLandmarker` cannot be used offline with the model files we ship (a hand-made
`.task` pairing the 0.10.21 468-point model with the newer graph misplaces every point; see
DEPENDENCIES.md), so `FaceMesh` runs `face_landmark.tflite` itself: the crop is padded to a square
with replicated edges (for a 128x96 face crop that is a square about 1.5x the detector box, the
framing the model was trained on), resized to 192x192, scaled to [0, 1], and the points are mapped
back to crop pixels.

Index sets follow MediaPipe's face-mesh topology (`FaceLandmarksConnections` in mediapipe).
"""

from __future__ import annotations

import cv2
import numpy as np

from lipsync_tf.preprocessing import model_files

NUM_LANDMARKS = 468
INPUT_SIZE = 192

# The 40 points of FACE_LANDMARKS_LIPS (outer and inner lip contours).
LIPS = (
    0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181,
    185, 191, 267, 269, 270, 291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405,
    409, 415,
)  # fmt: skip
UPPER_INNER_LIP = 13
LOWER_INNER_LIP = 14
FOREHEAD = 10
CHIN = 152
# Outer eye corners, for the inter-ocular distance.
RIGHT_EYE_OUTER = 33
LEFT_EYE_OUTER = 263
# Eye-aspect-ratio points per eye: corner, upper lid x2, corner, lower lid x2 (p1..p6 of
# Soukupova & Cech 2016, EAR = (|p2-p6| + |p3-p5|) / (2 |p1-p4|)).
RIGHT_EYE_EAR = (33, 160, 158, 133, 153, 144)
LEFT_EYE_EAR = (362, 385, 387, 263, 373, 380)


# Below this face-presence probability a crop's points are not trusted.
MIN_FACE_SCORE = 0.5


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

    def video(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks per frame: uint8 [T, H, W, 3] -> float32 [T, 468, 3], float32 [T] scores."""
        results = [self.image(frame) for frame in frames]
        if not results:
            return np.zeros((0, NUM_LANDMARKS, 3), np.float32), np.zeros((0,), np.float32)
        points = np.stack([points for points, _ in results])
        scores = np.array([score for _, score in results], np.float32)
        return points, scores
