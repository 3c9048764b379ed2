"""bin/redub: a video of a speaker + new speech -> the same video with the mouth saying it.

Two passes over the video, one frame in memory at a time: (1) detect the face in every frame and
smooth one track of crop windows (`track_faces`, as preprocessing does); (2) for each output frame
paste the generated face back into its source frame at that frame's window, keeping the original
head motion and background. The speaker's identity is the crop of the first frame with a face.
The video is looped (or trimmed) to the length of the new audio, whose sound replaces the original.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from absl import logging
from tqdm import tqdm

from lipsync_tf.audio.io import load_waveform
from lipsync_tf.errors import InputError
from lipsync_tf.inference.generate import DEFAULT_MODEL, GenerateReport, load_speech, write_video
from lipsync_tf.inference.media import AUDIO_RATE, check_writable, even_crop
from lipsync_tf.inference.paste import Paster, paste_region
from lipsync_tf.inference.runners import ChunkRunner, make_runner
from lipsync_tf.preprocessing.faces import (
    MIN_FACE_WIDTH,
    FaceDetector,
    crop_face,
    track_faces,
    window_from_array,
)
from lipsync_tf.preprocessing.video import iter_video_frames


def _looped_frames(path: str | Path, fps: int) -> Iterator[np.ndarray]:
    """The video's frames at `fps`, starting over at the end (forever)."""
    while True:
        yield from iter_video_frames(path, fps)


def track_video(path: str | Path, fps: int, progress: bool = True):
    """Pass 1: (FaceTrack, number of frames, identity face uint8 [128, 96, 3])."""
    detections, first_face_frame, widest = [], None, 0.0
    with FaceDetector() as detector:
        for rgb in tqdm(
            iter_video_frames(path, fps), desc="tracking", unit="frame", disable=not progress
        ):
            faces = detector.detect(rgb)
            detections.append(faces)
            if faces:
                widest = max(widest, faces[0].width)
                if first_face_frame is None:
                    first_face_frame = (len(detections) - 1, rgb.copy())
    track = track_faces(detections)
    if track is None or first_face_frame is None:
        raise InputError(f"No face found in any frame of {path}; use a video of a visible speaker.")
    if widest < MIN_FACE_WIDTH:
        raise InputError(
            f"The face in {path} is at most {widest:.0f} px wide; use a video where the face is "
            f"at least {MIN_FACE_WIDTH} px wide."
        )
    if track.max_faces > 1:
        logging.warning("%s shows up to %d faces; following the largest.", path, track.max_faces)
    index, rgb = first_face_frame
    identity_face = crop_face(rgb, window_from_array(track.windows[index]))
    return track, len(detections), identity_face


def redub_video(
    video: str | Path,
    audio: str | Path,
    output: str | Path,
    model: str | Path = DEFAULT_MODEL,
    seed: int = 0,
    backend: str = "savedmodel",
    runner: ChunkRunner | None = None,
    progress: bool = True,
    normalize_audio: bool = True,
) -> GenerateReport:
    """Writes `output`: `video` re-dubbed to `audio` (H.264 + AAC, 25 fps); see module doc.
    `normalize_audio=False` gives the model the speech at its recorded level (`load_speech`)."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    output = check_writable(output)
    if not Path(video).is_file():
        raise InputError(f"video file {video} does not exist; check the path.")
    begin = time.perf_counter()
    if runner is None:
        runner = make_runner(model, backend)
    seconds["load_model"] = time.perf_counter() - begin
    fps = runner.config.audio.fps

    begin = time.perf_counter()
    waveform = load_speech(
        audio, runner.samples_per_frame, runner.config.audio.sample_rate, normalize_audio
    )
    mux_audio = load_waveform(audio, AUDIO_RATE)
    seconds["load_audio"] = time.perf_counter() - begin

    begin = time.perf_counter()
    track, num_source, identity_face = track_video(video, fps, progress)
    seconds["crop"] = time.perf_counter() - begin

    source_frames = _looped_frames(video, fps)
    first = even_crop(next(source_frames))
    height, width = first.shape[:2]
    source = first
    region = paste_region(runner.config)

    def compose(start, frames):
        nonlocal source
        for offset, face in enumerate(frames):
            if start + offset > 0:
                source = even_crop(next(source_frames))
            window = window_from_array(track.windows[(start + offset) % num_source])
            yield Paster(source.shape, window, region).paste(source, face)

    report = write_video(
        output, (width, height), fps, runner, identity_face, waveform, seed, mux_audio,
        compose, seconds, "redubbing", progress,
    )  # fmt: skip
    report.wall_seconds = time.perf_counter() - started
    return report
