"""Face detection (MediaPipe) and the one face crop used everywhere.

Preprocessing, `bin/generate`, `bin/redub` and `bin/evaluate` all crop faces through this module,
so a face the model sees at inference is framed exactly like the faces it was trained on.

The crop is a window of aspect 128:96 (H:W) around the MediaPipe box (`face_geometry.crop_window`:
1.15 box widths wide, moved down a little so the chin and mouth sit well inside).
Over a video, one face track is kept (the largest face first, then the detection closest to the
track), gaps are interpolated and the window is smoothed over time so the crop does not jitter.
"""

from __future__ import annotations

import dataclasses
import sys

import cv2
import numpy as np

from lipsync_tf import config
from lipsync_tf.errors import InputError
from lipsync_tf.face_geometry import FaceBox, crop_window
from lipsync_tf.preprocessing import model_files

# A face whose box is narrower than this many pixels is too small to be useful.
MIN_FACE_WIDTH = 32
# What MediaPipe's tasks import from TensorFlow, if it is installed: one no-op docs decorator
# (`mediapipe/tasks/python/core/optional_dependencies.py`), at the price of importing all of
# TensorFlow and Keras, several seconds of every bin/generate start-up.
_TF_DOCS = "tensorflow.tools.docs"


def _mediapipe_tasks():
    """`mediapipe.tasks.python`, imported without TensorFlow when TensorFlow is not loaded yet:
    MediaPipe then uses its own no-op instead (its fallback when TensorFlow is not installed),
    and TensorFlow imports normally later, for the runners that need it."""
    blocked = "tensorflow" not in sys.modules and _TF_DOCS not in sys.modules
    if blocked:
        sys.modules[_TF_DOCS] = None  # makes `from tensorflow.tools.docs import ...` fail fast
    try:
        from mediapipe.tasks import python as tasks
    finally:
        if blocked and sys.modules.get(_TF_DOCS, "") is None:
            del sys.modules[_TF_DOCS]
    return tasks


class FaceDetector:
    """MediaPipe's short-range BlazeFace detector on RGB uint8 images.

    Use as a context manager (MediaPipe tasks must be closed):

        with FaceDetector() as detector:
            boxes = detector.detect(rgb)  # largest face first
    """

    def __init__(self, min_score: float = 0.5):
        # Imported here: mediapipe is heavy and only preprocessing/inference need it.
        tasks = _mediapipe_tasks()
        from mediapipe.tasks.python import vision

        options = vision.FaceDetectorOptions(
            base_options=tasks.BaseOptions(
                model_asset_path=str(model_files.model_path("face_detection_short_range"))
            ),
            min_detection_confidence=min_score,
        )
        self._detector = vision.FaceDetector.create_from_options(options)

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
            self._detector = None

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        """Faces in `rgb` (uint8 [H, W, 3]), largest first."""
        import mediapipe as mp

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        boxes = []
        for detection in self._detector.detect(image).detections:
            box = detection.bounding_box
            boxes.append(
                FaceBox(
                    float(box.origin_x),
                    float(box.origin_y),
                    float(box.origin_x + box.width),
                    float(box.origin_y + box.height),
                    float(detection.categories[0].score),
                )
            )
        return sorted(boxes, key=lambda b: b.area, reverse=True)


def crop_face(
    rgb: np.ndarray,
    window: FaceBox,
    size: tuple[int, int] = (config.IMAGE_HEIGHT, config.IMAGE_WIDTH),
) -> np.ndarray:
    """Cuts `window` out of `rgb`, resized to `size` (H, W); outside pixels replicate the edge."""
    height, width = size
    scale_x = width / window.width
    scale_y = height / window.height
    if scale_x < 1 and scale_y < 1:
        # warpAffine has no area filter (INTER_AREA falls back to bilinear, which aliases when
        # shrinking a large face several times): area-shrink the window's neighbourhood first,
        # then warp the small remainder of scale and the sub-pixel offset.
        # The smallest whole-pixel region holding the window (inside the image), so a window on
        # whole pixels is area-averaged exactly and the warp is then the identity.
        x0, y0 = max(int(np.floor(window.x0)), 0), max(int(np.floor(window.y0)), 0)
        x1 = min(int(np.ceil(window.x1)), rgb.shape[1])
        y1 = min(int(np.ceil(window.y1)), rgb.shape[0])
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            shrunk_w = max(round((x1 - x0) * scale_x), 1)
            shrunk_h = max(round((y1 - y0) * scale_y), 1)
            small = cv2.resize(
                rgb[y0:y1, x0:x1], (shrunk_w, shrunk_h), interpolation=cv2.INTER_AREA
            )
            fx, fy = shrunk_w / (x1 - x0), shrunk_h / (y1 - y0)
            rgb = small
            window = FaceBox(
                (window.x0 - x0) * fx,
                (window.y0 - y0) * fy,
                (window.x1 - x0) * fx,
                (window.y1 - y0) * fy,
            )
            scale_x, scale_y = width / window.width, height / window.height
    # Affine map from image to crop coordinates; warpAffine handles windows leaving the image.
    matrix = np.array(
        [[scale_x, 0.0, -window.x0 * scale_x], [0.0, scale_y, -window.y0 * scale_y]],
        dtype=np.float64,
    )
    interpolation = cv2.INTER_AREA if scale_x < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(
        rgb, matrix, (width, height), flags=interpolation, borderMode=cv2.BORDER_REPLICATE
    )


def _iou(a: FaceBox, b: FaceBox) -> float:
    ix = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = ix * iy
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


@dataclasses.dataclass
class FaceTrack:
    """Per-frame detections reduced to one smoothed crop window per frame.

    Attributes:
        windows: float32 [frames, 4] crop windows (x0, y0, x1, y1) in source pixels.
        detected: bool [frames], whether the frame had its own detection (else interpolated).
        max_faces: the largest number of faces seen in one frame.
        present: bool [frames], whether the face is taken to be in the frame: detected, or in
            a gap of at most `max_gap` frames between detections (all frames without max_gap).
    """

    windows: np.ndarray
    detected: np.ndarray
    max_faces: int
    present: np.ndarray


def runs(flags: np.ndarray) -> list[tuple[int, int, bool]]:
    """(start, stop, value) of each run of equal values in a 1-D array, in order."""
    edges = np.flatnonzero(np.diff(flags)) + 1
    starts, stops = np.r_[0, edges], np.r_[edges, len(flags)]
    return [(int(a), int(b), bool(flags[a])) for a, b in zip(starts, stops, strict=True)]


def fill_short_gaps(detected: np.ndarray, max_gap: int | None) -> np.ndarray:
    """`detected` with every run of at most `max_gap` missing frames filled in (every run when
    `max_gap` is None): a face missed that briefly is still there."""
    present = np.array(detected, bool)
    for start, stop, value in runs(present):
        if not value and (max_gap is None or stop - start <= max_gap):
            present[start:stop] = True
    return present


def track_faces(
    detections: list[list[FaceBox] | None], smoothing_frames: int = 5, max_gap: int | None = None
) -> FaceTrack | None:
    """Follows one face through per-frame detections and smooths its crop window.

    `detections[i]` lists the faces found in frame i (largest first), or is None for a frame that
    was not run through the detector (detect-every-k mode); both kinds of gaps are interpolated.
    With `max_gap`, a gap longer than that many frames marks the face absent (`present`) and
    splits the track: each side is smoothed on its own, so where the face was before the gap
    does not drag the window after it. Returns None when no frame had a face.
    """
    num_frames = len(detections)
    boxes: list[FaceBox | None] = [None] * num_frames
    previous = None
    for index, faces in enumerate(detections):
        if not faces:
            continue
        if previous is None:
            chosen = faces[0]
        else:
            chosen = max(faces, key=lambda face: _iou(face, previous))
            if _iou(chosen, previous) == 0.0:
                chosen = faces[0]
        boxes[index] = previous = chosen
    known = np.array([box is not None for box in boxes])
    if not known.any():
        return None
    params = np.zeros((num_frames, 3), np.float64)  # centre x, centre y, width of the window
    for index, box in enumerate(boxes):
        if box is not None:
            window = crop_window(box)
            params[index] = (*window.center, window.width)
    frame_index = np.arange(num_frames)
    for column in range(3):
        params[:, column] = np.interp(frame_index, frame_index[known], params[known, column])
    present = fill_short_gaps(known, max_gap)
    if smoothing_frames > 1:
        for start, stop, _ in runs(present):
            params[start:stop] = _smoothed(params[start:stop], smoothing_frames)
    half_w = params[:, 2] / 2
    half_h = half_w * config.IMAGE_HEIGHT / config.IMAGE_WIDTH
    windows = np.stack(
        [
            params[:, 0] - half_w,
            params[:, 1] - half_h,
            params[:, 0] + half_w,
            params[:, 1] + half_h,
        ],
        axis=1,
    ).astype(np.float32)
    max_faces = max((len(faces) for faces in detections if faces), default=0)
    return FaceTrack(windows=windows, detected=known, max_faces=max_faces, present=present)


def _smoothed(params: np.ndarray, frames: int) -> np.ndarray:
    """Moving average over `frames` frames of each column, the ends held (same length)."""
    if len(params) < 2:
        return params
    kernel = np.ones(frames) / frames
    pad = frames // 2
    padded = np.pad(params, ((pad, frames - 1 - pad), (0, 0)), mode="edge")
    return np.stack(
        [np.convolve(padded[:, c], kernel, mode="valid") for c in range(params.shape[1])], axis=1
    )


def window_from_array(row: np.ndarray) -> FaceBox:
    return FaceBox(*(float(v) for v in row[:4]))


def find_single_face(
    rgb: np.ndarray, detector: FaceDetector, face_index: int | None = None, name: str = "image"
) -> tuple[FaceBox, int]:
    """The face to animate in a still photo, and how many faces were found.

    With several faces and no `face_index`, the largest is used (callers say so to the user).
    Raises `InputError` when there is no usable face.
    """
    faces = detector.detect(rgb)
    if not faces:
        raise InputError(f"No face found in {name}; use a photo with one clearly visible face.")
    if face_index is not None:
        if not 0 <= face_index < len(faces):
            raise InputError(
                f"--face_index {face_index} is out of range: {name} has {len(faces)} face(s) "
                "(0 is the largest)."
            )
        face = faces[face_index]
    else:
        face = faces[0]
    if face.width < MIN_FACE_WIDTH:
        raise InputError(
            f"The face in {name} is only {face.width:.0f} px wide; use a photo where the face is "
            f"at least {MIN_FACE_WIDTH} px wide."
        )
    return face, len(faces)
