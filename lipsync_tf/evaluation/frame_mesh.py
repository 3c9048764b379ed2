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
        faces = self.detector.detect(frame)
        if not faces:
            return None
        return self.mesh.in_window(frame, geometry.crop_window(faces[0]))

    def close(self):
        self.detector.close()
