"""bin/redub: a video of a speaker + new speech -> the same video with the mouth saying it.

`redub_video` runs these stages, each timed like `generate_video`'s:
  decode      the new speech;
  track       pass 1 over the video, one frame in memory at a time: detect the face in every
              frame and follow one smoothed track of crop windows (`track_faces`, as
              preprocessing does); the speaker's identity is the crop of the first frame with a
              face;
  load_model  the exported model;
and then, chunk by chunk (pass 2): generate the faces, paste each into its source frame at
that frame's window (head motion and background kept; `PasteIntoVideo`), encode. The video is
looped (or trimmed) to the length of the new audio, whose sound replaces the original. Both
provenance marks are written as by `generate_video`; the C2PA manifest records an edit of the
source video (its parent ingredient).

Where the face is lost, nothing is drawn: a face missing from more than `MAX_MISSED_FRAMES`
frames in a row (it left the picture, the shot cut away, the screen went black) leaves those
frames as they were, and the redrawn mouth fades out over `FADE_FRAMES` frames before the gap
and back in after it, so it neither floats where the face was nor pops.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from absl import logging
from tqdm import tqdm

from lipsync_tf.errors import InputError
from lipsync_tf.files import check_input_file, check_output
from lipsync_tf.inference.composite import PhotoCompositor
from lipsync_tf.inference.generate import (
    SPEECH,
    GeneratedChunk,
    GenerateReport,
    InferenceOptions,
    OutputVideo,
    Speech,
    check_model_hears_speech,
    check_provenance,
    generated_chunks,
    load_runner,
    name_model,
    write_video,
)
from lipsync_tf.inference.media import even_crop
from lipsync_tf.inference.paste import Paster, paste_region
from lipsync_tf.preprocessing.faces import (
    MIN_FACE_WIDTH,
    FaceDetector,
    crop_face,
    track_faces,
    window_from_array,
)
from lipsync_tf.preprocessing.video import iter_video_frames
from lipsync_tf.provenance.marks import MARKED, ProvenanceOptions
from lipsync_tf.timing import StageTimer

if TYPE_CHECKING:
    from lipsync_tf.inference.runners import ChunkRunner

# A face missing from at most this many frames in a row (80 ms at 25 fps) is a detector miss
# (motion blur, a hand passing): its window is interpolated and the mouth pasted as usual. From
# 3 frames on, the face is taken to be gone and those frames pass through untouched.
MAX_MISSED_FRAMES = 2
# Frames over which the redrawn mouth fades out before such a gap, and back in after it.
FADE_FRAMES = 4


def fade_weights(present: np.ndarray, fade_frames: int = FADE_FRAMES) -> np.ndarray:
    """How much of the pasted face each frame shows, float32 [frames] in [0, 1]: 0 where no
    face is `present`, rising over `fade_frames` frames on each side of such a gap to 1."""
    present = np.asarray(present, bool)
    if present.all():
        return np.ones(len(present), np.float32)
    # Distance of each frame to the nearest frame without a face, in both directions.
    index = np.arange(len(present))
    absent = np.flatnonzero(~present)
    before = np.searchsorted(absent, index, side="right") - 1
    distance = np.full(len(present), np.inf)
    has_before = before >= 0
    distance[has_before] = index[has_before] - absent[before[has_before]]
    after = np.minimum(before + 1, len(absent) - 1)
    distance = np.minimum(distance, np.where(absent[after] >= index, absent[after] - index, np.inf))
    return np.clip(distance / (fade_frames + 1), 0.0, 1.0).astype(np.float32)


@dataclasses.dataclass
class VideoFaces:
    """Pass 1's result: per source frame the crop window float32 [frames, 4] and the weight
    of the pasted face (`fade_weights`), plus the speaker's face uint8 [128, 96, 3]."""

    windows: np.ndarray
    weights: np.ndarray
    identity: np.ndarray

    @property
    def frames(self) -> int:
        return len(self.windows)


def track_video(
    path: str | Path, fps: int, progress: bool = True, warn: Callable[[str], None] = logging.warning
) -> VideoFaces:
    """Pass 1: finds the speaker's face in every frame (see the module docstring)."""
    detections, first_face_frame, widest = [], None, 0.0
    with (
        FaceDetector() as detector,
        tqdm(desc="tracking", unit="frame", disable=not progress) as bar,
    ):
        for rgb in iter_video_frames(path, fps):
            faces = detector.detect(rgb)
            detections.append(faces)
            if faces:
                widest = max(widest, faces[0].width)
                if first_face_frame is None:
                    first_face_frame = (len(detections) - 1, rgb.copy())
            bar.update()
    track = track_faces(detections, max_gap=MAX_MISSED_FRAMES)
    if track is None or first_face_frame is None:
        raise InputError(f"No face found in any frame of {path}; use a video of a visible speaker.")
    if widest < MIN_FACE_WIDTH:
        raise InputError(
            f"The face in {path} is at most {widest:.0f} px wide; use a video where the face is "
            f"at least {MIN_FACE_WIDTH} px wide."
        )
    if track.max_faces > 1:
        warn(f"{path} shows up to {track.max_faces} faces; following the largest.")
    index, rgb = first_face_frame
    identity = crop_face(rgb, window_from_array(track.windows[index]))
    return VideoFaces(track.windows, fade_weights(track.present), identity)


def check_video(path: str | Path, fps: int) -> None:
    """Decodes the video's first frame, so an unplayable file is reported before any heavy
    work (`InputError` from `iter_video_frames`)."""
    frames = iter_video_frames(path, fps)
    try:
        next(frames)
    finally:
        frames.close()


def _looped_frames(path: str | Path, fps: int) -> Iterator[np.ndarray]:
    """The video's frames at `fps`, starting over at the end (forever)."""
    while True:
        yield from iter_video_frames(path, fps)


class PasteIntoVideo:
    """The paste stage of a redub: each generated frame's motion made in the next frame of the
    (looped) video at that frame's window (`PasteIntoPhoto`'s way), faded by its weight; frames
    without a face are written as they are and counted in `passed_through`."""

    def __init__(self, video: str | Path, faces: VideoFaces, region, fps: int):
        self.faces, self.region = faces, region
        self.source = _looped_frames(video, fps)
        self.first = even_crop(next(self.source))
        height, width = self.first.shape[:2]
        self.size = (width, height)
        self.passed_through = 0

    def __call__(self, start: int, chunk: GeneratedChunk) -> Iterator[np.ndarray]:
        for index in range(start, start + len(chunk)):
            frame = self.first if index == 0 else even_crop(next(self.source))
            weight = float(self.faces.weights[index % self.faces.frames])
            if weight == 0.0:
                self.passed_through += 1
                yield frame
                continue
            window = window_from_array(self.faces.windows[index % self.faces.frames])
            if chunk.layers is None:
                face = chunk.faces[index - start]
                pasted = Paster(frame.shape, window, self.region).paste(frame, face)
            else:
                layers = chunk.frame_layers(index - start)
                pasted = PhotoCompositor(frame.shape, window).compose(frame, *layers)
            yield pasted if weight == 1.0 else cv2.addWeighted(pasted, weight, frame, 1 - weight, 0)


def redub_video(
    video: str | Path,
    audio: str | Path,
    output: str | Path,
    options: InferenceOptions = InferenceOptions(),  # noqa: B008 (frozen: safe to share)
    *,
    provenance: ProvenanceOptions = MARKED,
    runner: ChunkRunner | None = None,
    warn: Callable[[str], None] = logging.warning,
) -> GenerateReport:
    """Writes `output`: `video` re-dubbed to `audio` (H.264 + AAC, 25 fps); see the module
    docstring. `report.passed_through` counts the output frames left as they were.
    `provenance`: as for `generate_video`; the manifest names `video` as the edited parent."""
    timer, started = StageTimer(), time.perf_counter()
    output = check_output(output, inputs=(video, audio), overwrite=options.overwrite)
    check_input_file(video, "video file")
    with timer.stage("decode"):
        speech = Speech.load(audio, options.normalize_audio)
        check_video(video, SPEECH.fps)
    marks = check_provenance(provenance, output, timer, source=video)
    with timer.stage("track"):
        faces = track_video(video, SPEECH.fps, options.progress, warn)
    with timer.stage("load_model"):
        runner = runner or load_runner(options, warn)
    check_model_hears_speech(runner.config)
    name_model(marks, runner, timer)
    fps = SPEECH.fps
    compose = PasteIntoVideo(video, faces, paste_region(runner.config), fps)
    output_video = OutputVideo(
        output, fps, runner.num_frames(len(speech.heard)), speech.sound(), options.overwrite,
        marks,
    )  # fmt: skip
    # With layers only those are composited: the 128x96 faces are not made.
    chunks = generated_chunks(runner, faces.identity, speech.heard, options.seed, faces=False)
    report = write_video(
        output_video, chunks, compose, timer, desc="redubbing", progress=options.progress
    )
    report.passed_through = compose.passed_through
    report.wall_seconds = time.perf_counter() - started
    report.backend = runner.backend
    return report
