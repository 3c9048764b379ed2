"""One clip from video file to `ClipRecord`: decode, find the face, crop, encode. Or skip it, why.

This is the per-clip work the Beam pipeline maps over. A clip is skipped (`ClipSkipped`, with one of
`SKIP_REASONS`) rather than kept when:
    undecodable                 the video cannot be opened or yields no frame
    too short                   fewer than `min_seconds` of video
    no audio                    no sound track (and no sibling .wav), or a silent one
    audio/video length mismatch audio and video durations differ by more than `max_av_mismatch`
    no face                     a face in fewer than `min_face_fraction` of the detected frames
    face too small              the tracked face is narrower than `faces.MIN_FACE_WIDTH` px
    several faces               a second face at least `SECOND_FACE_SCALE` times as wide as the
                                largest one in more than `several_faces_fraction` of the detected
                                frames (an interviewer in shot, a split screen: the audio may
                                belong to either face, so the clip cannot teach lip sync)
Kept clips have exactly `num_frames * sample_rate / fps` audio samples (trimmed or zero-padded by at
most `max_av_mismatch`), so frame i covers samples [i * 640, (i + 1) * 640) at 25 fps / 16 kHz.
Every crop also gets MediaPipe's face mesh: its 40 lip points in the face frame
(`face_geometry.normalized_lips`), the mouth opening and the mesh's face probability, the
mouth-shape targets of training.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator

import cv2
import numpy as np

from lipsync_tf.config import option
from lipsync_tf.data.schema import ClipRecord
from lipsync_tf.errors import InputError, LipsyncError
from lipsync_tf.face_geometry import CROP_WIDTH_SCALE, mouth_opening, normalized_lips
from lipsync_tf.preprocessing import faces
from lipsync_tf.preprocessing import landmarks as face_mesh
from lipsync_tf.preprocessing.layouts import ClipSource
from lipsync_tf.preprocessing.video import (
    decode_audio_track,
    decode_clip_unstacked,
    iter_video_frames,
    probe_video,
    video_start_time,
)
from lipsync_tf.timing import StageTimer

SKIP_REASONS = (
    "undecodable",
    "too short",
    "no audio",
    "audio/video length mismatch",
    "no face",
    "face too small",
    "several faces",
)
IMAGE_FORMATS = ("jpeg", "png")
# A second face counts when it is at least this fraction of the main face's width.
SECOND_FACE_SCALE = 0.6
# Audio quieter than this peak is treated as no audio.
SILENCE_PEAK = 1e-4
# Frames are shrunk so their longer side is at most this before detection (BlazeFace runs at
# 128x128 anyway; shrinking first makes the copy into MediaPipe cheap). Boxes are scaled back.
DETECT_MAX_SIDE = 320


class ClipSkipped(LipsyncError):  # noqa: N818 (name fixed by the interface)
    """A clip that cannot be used for training; `reason` is one of `SKIP_REASONS`."""

    def __init__(self, reason: str, detail: str):
        assert reason in SKIP_REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclasses.dataclass(frozen=True)
class ClipOptions:
    """Knobs of `process_clip`; the fields with help text are `bin/prepare_data` flags."""

    fps: float = option(25.0, "Output frame rate; clips at other rates are resampled.")
    sample_rate: int = 16000
    detect_every: int = option(
        1, "Run face detection on every k-th frame only and interpolate between."
    )
    smoothing_frames: int = 5
    image_format: str = option("jpeg", "How crops are stored.", choices=IMAGE_FORMATS)
    jpeg_quality: int = option(95, "JPEG quality of the stored crops (1-100).")
    min_seconds: float = option(1.0, "Skip clips shorter than this many seconds.")
    max_av_mismatch: float = option(
        0.25, "Skip clips whose audio and video lengths differ by more seconds than this."
    )
    min_face_fraction: float = 0.5
    several_faces_fraction: float = 0.3
    # Clips whose decoded frames would exceed this are decoded twice (detect, then crop) instead
    # of held in memory.
    max_frames_bytes: int = 1 << 30


def encode_frame(rgb: np.ndarray, image_format: str = "jpeg", jpeg_quality: int = 95) -> bytes:
    """RGB uint8 [H, W, 3] → JPEG or PNG bytes."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if image_format == "jpeg":
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    elif image_format == "png":
        ok, data = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    else:
        raise ValueError(f"image_format must be one of {IMAGE_FORMATS}, not {image_format!r}")
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {rgb.shape} frame as {image_format}")
    return data.tobytes()


def detect_scaled(detector: faces.FaceDetector, rgb: np.ndarray) -> list[faces.FaceBox]:
    """Faces in `rgb`, detected on a copy shrunk to `DETECT_MAX_SIDE`, in `rgb`'s pixels."""
    scale = DETECT_MAX_SIDE / max(rgb.shape[:2])
    if scale >= 1.0:
        return detector.detect(rgb)
    small = cv2.resize(
        rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), cv2.INTER_AREA
    )
    return [
        faces.FaceBox(box.x0 / scale, box.y0 / scale, box.x1 / scale, box.y1 / scale, box.score)
        for box in detector.detect(small)
    ]


def _check_faces(
    detections: list[list[faces.FaceBox] | None], options: ClipOptions, name: str
) -> faces.FaceTrack:
    checked = [d for d in detections if d is not None]
    with_face = [d for d in checked if d]
    if len(with_face) < options.min_face_fraction * len(checked):
        raise ClipSkipped(
            "no face", f"{name}: a face in {len(with_face)} of {len(checked)} checked frames"
        )
    crowded = sum(
        1 for d in with_face if len(d) > 1 and d[1].width >= SECOND_FACE_SCALE * d[0].width
    )
    if crowded > options.several_faces_fraction * len(checked):
        raise ClipSkipped(
            "several faces", f"{name}: a second large face in {crowded} of {len(checked)} frames"
        )
    track = faces.track_faces(detections, options.smoothing_frames)
    if track is None:  # cannot happen after the checks above; kept for safety
        raise ClipSkipped("no face", f"{name}: no face in any frame")
    window_width = float(np.median(track.windows[:, 2] - track.windows[:, 0]))
    if window_width / CROP_WIDTH_SCALE < faces.MIN_FACE_WIDTH:
        raise ClipSkipped(
            "face too small",
            f"{name}: the face is about {window_width / CROP_WIDTH_SCALE:.0f} px wide "
            f"(need {faces.MIN_FACE_WIDTH})",
        )
    return track


def _fit_audio(audio: np.ndarray | None, num_frames: int, options: ClipOptions, name: str):
    if audio is None or audio.size == 0 or float(np.abs(audio).max()) < SILENCE_PEAK:
        raise ClipSkipped("no audio", f"{name}: no sound track, or a silent one")
    video_seconds = num_frames / options.fps
    audio_seconds = audio.shape[0] / options.sample_rate
    if abs(audio_seconds - video_seconds) > options.max_av_mismatch:
        raise ClipSkipped(
            "audio/video length mismatch",
            f"{name}: video {video_seconds:.2f} s, audio {audio_seconds:.2f} s",
        )
    wanted = round(video_seconds * options.sample_rate)
    if audio.shape[0] >= wanted:
        return np.ascontiguousarray(audio[:wanted], dtype=np.float32)
    return np.concatenate([audio, np.zeros(wanted - audio.shape[0], np.float32)])


def process_clip(
    source: ClipSource,
    detector: faces.FaceDetector,
    options: ClipOptions | None = None,
    timer: StageTimer | None = None,
    mesh: face_mesh.FaceMesh | None = None,
) -> ClipRecord:
    """Decodes `source`, tracks its one face, crops 128x96 frames, encodes them and measures
    each crop's lips with the face mesh.

    Returns the `ClipRecord` to write; raises `ClipSkipped` (with `.reason`) for an unusable clip.
    `timer`, when given, accumulates seconds in stages decode, detect, crop_encode and
    landmarks. `mesh` is reused across clips when given (one is made otherwise).
    """
    options = options or ClipOptions()
    timer = timer or StageTimer()
    mesh = mesh or face_mesh.FaceMesh()
    name = source.path
    decoded = _decode_if_small(source, options, timer)
    if decoded is not None:

        def frames() -> Iterator[np.ndarray]:
            return iter(decoded.frames)

    else:  # long clip: stream it twice rather than hold every frame

        def frames() -> Iterator[np.ndarray]:
            return timer.timed_iter("decode", iter_video_frames(source.path, options.fps))

    detections, source_size = _detect_faces(frames, detector, options, timer)
    num_frames = len(detections)
    if num_frames == 0:
        raise ClipSkipped("undecodable", f"{name}: no frames")
    if num_frames < options.min_seconds * options.fps:
        raise ClipSkipped(
            "too short", f"{name}: {num_frames / options.fps:.2f} s < {options.min_seconds} s"
        )
    audio = decoded.audio if decoded is not None else _decode_audio(source, options, timer)
    audio = _fit_audio(audio, num_frames, options, name)
    track = _check_faces(detections, options, name)
    encoded, points, scores = _crop_encode_and_measure(
        frames(), track, num_frames, mesh, options, timer
    )
    if len(encoded) != num_frames:  # the second decoding pass of a long clip came up short
        raise ClipSkipped("undecodable", f"{name}: {len(encoded)} of {num_frames} frames re-read")
    return ClipRecord(
        clip_id=source.clip_id,
        speaker_id=source.speaker_id,
        source_path=source.path,
        fps=float(options.fps),
        frames=encoded,
        image_format=options.image_format,
        sample_rate=options.sample_rate,
        audio=audio,
        crop_boxes=track.windows,
        source_size=tuple(int(v) for v in source_size),
        lip_landmarks=normalized_lips(np.stack(points)),
        mouth_opening=mouth_opening(np.stack(points)).astype(np.float32),
        landmark_scores=np.asarray(scores, np.float32),
    )


@contextlib.contextmanager
def _undecodable():
    """Turns a decoding failure into the clip's skip reason."""
    try:
        yield
    except InputError as error:
        raise ClipSkipped("undecodable", str(error)) from error


def _decode_if_small(source: ClipSource, options: ClipOptions, timer: StageTimer):
    """The clip's frames and audio decoded at once, or None when its frames would exceed
    `options.max_frames_bytes` (it is then streamed)."""
    with _undecodable(), timer.stage("decode"):
        info = probe_video(source.path, options.fps)
        frame_bytes = info.num_frames * info.size[0] * info.size[1] * 3
        if frame_bytes > options.max_frames_bytes:
            return None
        return decode_clip_unstacked(
            source.path, options.fps, options.sample_rate, source.audio_path
        )


def _detect_faces(
    frames: Callable[[], Iterator[np.ndarray]],
    detector: faces.FaceDetector,
    options: ClipOptions,
    timer: StageTimer,
) -> tuple[list[list[faces.FaceBox] | None], tuple[int, int] | None]:
    """Faces of every `detect_every`-th frame and of the last (None for the frames between),
    and the source frames' (height, width)."""
    with _undecodable():
        detections: list[list[faces.FaceBox] | None] = []
        source_size = last = None
        for index, rgb in enumerate(frames()):
            source_size, last = rgb.shape[:2], rgb
            with timer.stage("detect"):
                detections.append(
                    detect_scaled(detector, rgb) if index % options.detect_every == 0 else None
                )
        if detections and detections[-1] is None:
            # Detect the last frame too so the track is interpolated, not extrapolated, there.
            with timer.stage("detect"):
                detections[-1] = detect_scaled(detector, last)
    return detections, source_size


def _decode_audio(source: ClipSource, options: ClipOptions, timer: StageTimer) -> np.ndarray:
    """The sound track of a streamed clip, from the video's start time on."""
    with _undecodable(), timer.stage("decode"):
        start = video_start_time(source.path)
        return decode_audio_track(source.path, start, options.sample_rate, source.audio_path)


def _crop_encode_and_measure(
    frames: Iterator[np.ndarray],
    track: faces.FaceTrack,
    num_frames: int,
    mesh: face_mesh.FaceMesh,
    options: ClipOptions,
    timer: StageTimer,
) -> tuple[list[bytes], list[np.ndarray], list[float]]:
    """Each of the first `num_frames` frames cropped along `track` and encoded, with the crop's
    face-mesh points and score. Fewer when the frames run out first."""
    encoded, points, scores = [], [], []
    for index, rgb in enumerate(frames):
        if index >= num_frames:
            break
        with timer.stage("crop_encode"):
            crop = faces.crop_face(rgb, faces.window_from_array(track.windows[index]))
            encoded.append(encode_frame(crop, options.image_format, options.jpeg_quality))
        with timer.stage("landmarks"):
            crop_points, score = mesh.image(crop)
            points.append(crop_points)
            scores.append(score)
    return encoded, points, scores
