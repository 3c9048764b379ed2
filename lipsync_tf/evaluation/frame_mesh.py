"""Face-mesh points of whole frames at their own resolution, for measuring what bin/generate
writes (bench/mouth_quality.py) and for the README's mouth close-up (docs/frame_strip.py)."""

from __future__ import annotations

import numpy as np

from lipsync_tf import face_geometry as geometry


class FrameMesh:
    """Face-mesh points of whole frames at their own resolution: the face is found, its crop
    window (the project's framing) cut without resizing, the mesh run on it."""

    def __init__(self):
        from lipsync_tf.preprocessing.faces import FaceDetector
        from lipsync_tf.preprocessing.landmarks import FaceMesh

        self.detector = FaceDetector()
        self.mesh = FaceMesh()

    def __call__(self, frame: np.ndarray) -> np.ndarray | None:
        """float32 [468, 2] frame pixels, or None without a trusted face."""
        import cv2

        faces = self.detector.detect(frame)
        if not faces:
            return None
        window = geometry.crop_window(faces[0])
        x0, y0 = int(np.floor(window.x0)), int(np.floor(window.y0))
        x1, y1 = int(np.ceil(window.x1)), int(np.ceil(window.y1))
        height, width = frame.shape[:2]
        pad = max(0, -x0, -y0, x1 - width, y1 - height)
        padded = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        crop = padded[y0 + pad : y1 + pad, x0 + pad : x1 + pad]
        points, score = self.mesh.image(np.ascontiguousarray(crop))
        if score < geometry.MIN_FACE_SCORE:
            return None
        return points[:, :2] + np.array([x0, y0], np.float32)

    def close(self):
        self.detector.close()
