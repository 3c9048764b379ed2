"""bin/generate: one photo + speech -> an mp4 of that face speaking, with the speech muxed in.

Steps (each timed, see `GenerateReport`): find and crop the face exactly as preprocessing does,
generate frames chunk by chunk from the exported model (constant memory for any length), paste
each face back into the full photo with a feathered mask (only the lower face for a model that
blends with the still: the rest is the photo), encode H.264 + AAC.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from absl import logging
from tqdm import tqdm

from lipsync_tf.audio.io import load_waveform
from lipsync_tf.errors import InputError
from lipsync_tf.inference.media import (
    AUDIO_RATE,
    Mp4Writer,
    audio_for_frames,
    check_writable,
    even_crop,
    load_image,
)
from lipsync_tf.inference.paste import Paster, paste_region
from lipsync_tf.inference.runners import ChunkRunner, make_runner
from lipsync_tf.preprocessing.faces import FaceDetector, crop_face, crop_window, find_single_face

DEFAULT_MODEL = "exported_models/lipsync"


@dataclasses.dataclass
class GenerateReport:
    """What was made and where the time went (seconds)."""

    output: Path
    frames: int
    width: int
    height: int
    audio_seconds: float
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)


def load_speech(path: str | Path, samples_per_frame: int, sample_rate: int = 16000):
    """The model's 16 kHz waveform; rejects audio shorter than one video frame."""
    waveform = load_waveform(path, sample_rate)
    if len(waveform) < samples_per_frame:
        raise InputError(
            f"audio file {path} is {1000 * len(waveform) / sample_rate:.0f} ms long, shorter than "
            f"one video frame ({1000 * samples_per_frame / sample_rate:.0f} ms); give longer "
            "speech."
        )
    return waveform


def crop_photo(
    rgb, name: str, face_index: int | None = None, warn: Callable[[str], None] = logging.warning
):
    """Finds the face to animate -> (crop window, face uint8 [128, 96, 3]).

    `warn` receives the one-line notice given when several faces were found (the log by default;
    the web demo shows it on the page).
    """
    with FaceDetector() as detector:
        box, num_faces = find_single_face(rgb, detector, face_index, name)
    if num_faces > 1 and face_index is None:
        warn(f"{name} has {num_faces} faces; using the largest (choose another with --face_index).")
    window = crop_window(box)
    return window, crop_face(rgb, window)


def generate_video(
    image: str | Path,
    audio: str | Path,
    output: str | Path,
    model: str | Path = DEFAULT_MODEL,
    paste_back: bool = True,
    seed: int = 0,
    backend: str = "savedmodel",
    face_index: int | None = None,
    runner: ChunkRunner | None = None,
    progress: bool = True,
    on_chunk: Callable[[int, int], None] | None = None,
    warn: Callable[[str], None] = logging.warning,
) -> GenerateReport:
    """Writes `output` (H.264 + AAC mp4, 25 fps); see the module docstring.

    `runner` overrides `model`/`backend` (benchmarks pass a Keras runner; the web demo passes the
    runner it keeps loaded). `on_chunk(frames_done, total_frames)` is called after each chunk of
    frames is written, `warn` with notices such as "several faces" (see `crop_photo`).
    """
    seconds: dict[str, float] = {}
    output = check_writable(output)
    begin = time.perf_counter()
    if runner is None:
        runner = make_runner(model, backend)
    seconds["load_model"] = time.perf_counter() - begin

    begin = time.perf_counter()
    photo = load_image(image)
    window, face = crop_photo(photo, str(image), face_index, warn)
    seconds["crop"] = time.perf_counter() - begin

    begin = time.perf_counter()
    waveform = load_speech(audio, runner.samples_per_frame, runner.config.audio.sample_rate)
    mux_audio = load_waveform(audio, AUDIO_RATE)
    seconds["load_audio"] = time.perf_counter() - begin

    fps = runner.config.audio.fps
    background = even_crop(photo) if paste_back else None
    region = paste_region(runner.config)
    paster = Paster(background.shape, window, region) if paste_back else None
    height, width = background.shape[:2] if paste_back else face.shape[:2]

    def write_frames(writer, start, frames):
        for frame in frames:
            writer.write_frame(paster.paste(background, frame) if paster else frame)

    return write_video(
        output, (width, height), fps, runner, face, waveform, seed, mux_audio, write_frames,
        seconds, "generating", progress, on_chunk,
    )  # fmt: skip


def write_video(
    output, size, fps, runner, face, waveform, seed, mux_audio, write_frames, seconds, desc,
    progress, on_chunk=None,
) -> GenerateReport:  # fmt: skip
    """Runs the model chunk by chunk and streams frames plus muxed audio into `output`.

    `write_frames(writer, start, frames)` turns each chunk of generated 128x96 faces into output
    frames (paste-back, or the crops as they are). Time goes to seconds["generate"/"encode"].
    `on_chunk(frames_done, total)`, if given, follows the chunks as they are written.
    """
    width, height = size
    total = runner.num_frames(len(waveform))
    audio_per_frame = AUDIO_RATE // fps
    seconds["generate"] = seconds["encode"] = 0.0
    with Mp4Writer(output, width, height, fps=fps) as writer:
        begin = time.perf_counter()
        chunks = runner.iter_chunks(runner.encode_face(face), waveform, seed)
        seconds["generate"] += time.perf_counter() - begin
        bar = tqdm(total=total, unit="frame", desc=desc, disable=not progress)
        while True:
            begin = time.perf_counter()
            item = next(chunks, None)
            seconds["generate"] += time.perf_counter() - begin
            if item is None:
                break
            start, frames = item
            begin = time.perf_counter()
            write_frames(writer, start, frames)
            stop = start + len(frames)
            writer.write_audio(audio_for_frames(mux_audio, start, stop, total, audio_per_frame))
            seconds["encode"] += time.perf_counter() - begin
            bar.update(len(frames))
            if on_chunk is not None:
                on_chunk(stop, total)
        bar.close()
        begin = time.perf_counter()
    seconds["encode"] += time.perf_counter() - begin
    return GenerateReport(
        output=output,
        frames=total,
        width=width,
        height=height,
        audio_seconds=len(mux_audio) / AUDIO_RATE,
        seconds=seconds,
    )
