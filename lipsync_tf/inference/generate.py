"""bin/generate: one photo + speech -> an mp4 of that face speaking, with the speech muxed in.

Steps (each timed, see `GenerateReport`): decode the photo and the speech, find and crop the face
exactly as preprocessing does, generate frames chunk by chunk from the exported model (constant
memory for any length), paste each face back into the full photo with a feathered mask (only
the lower face for a model that blends with the still: the rest is the photo), encode H.264 +
AAC. Pasting and encoding run on a second thread, a chunk behind the generation, so the encoder
works while the model computes the next chunk.
"""

from __future__ import annotations

import dataclasses
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from absl import logging
from tqdm import tqdm

from lipsync_tf.audio import level
from lipsync_tf.audio.io import load_waveform
from lipsync_tf.errors import InputError
from lipsync_tf.face_geometry import crop_window
from lipsync_tf.inference.media import (
    AUDIO_RATE,
    MAX_OUTPUT_PIXELS,
    Mp4Writer,
    audio_for_frames,
    check_writable,
    even_crop,
    fit_pixels,
    load_image,
)
from lipsync_tf.inference.paste import Paster, paste_region
from lipsync_tf.inference.runners import ChunkRunner, make_runner
from lipsync_tf.preprocessing.faces import FaceDetector, crop_face, find_single_face

DEFAULT_MODEL = "exported_models/lipsync"


@dataclasses.dataclass
class GenerateReport:
    """What was made and where the time went.

    `seconds`: busy time of each step (load_model, decode, crop, generate, paste, encode);
    generation overlaps pasting and encoding, so they add up to more than `wall_seconds`, the
    time the whole call took.
    """

    output: Path
    frames: int
    width: int
    height: int
    audio_seconds: float
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    wall_seconds: float = 0.0


def load_speech(
    path: str | Path, samples_per_frame: int, sample_rate: int = 16000, normalize: bool = True
):
    """The model's 16 kHz waveform, its speech brought to the level the model was trained at
    (`audio.level`) unless `normalize` is False; rejects audio shorter than one video frame and
    silence."""
    waveform = load_waveform(path, sample_rate)
    if len(waveform) < samples_per_frame:
        raise InputError(
            f"audio file {path} is {1000 * len(waveform) / sample_rate:.0f} ms long, shorter than "
            f"one video frame ({1000 * samples_per_frame / sample_rate:.0f} ms); give longer "
            "speech."
        )
    peak = level.peak_dbfs(waveform)
    if peak < level.SILENCE_PEAK_DBFS:
        loudest = "all zeros" if math.isinf(peak) else f"its loudest sample is {peak:.0f} dBFS"
        raise InputError(
            f"audio file {path} is silent ({loudest}); there is no speech to animate: check "
            "the file, or the recording level."
        )
    if normalize:
        waveform, _ = level.normalize_level(waveform)
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
    overlap: bool = True,
    normalize_audio: bool = True,
    max_output_pixels: int | None = MAX_OUTPUT_PIXELS,
) -> GenerateReport:
    """Writes `output` (H.264 + AAC mp4, 25 fps); see the module docstring.

    `runner` overrides `model`/`backend` (benchmarks pass a Keras runner; the web demo passes the
    runner it keeps loaded). `on_chunk(frames_done, total_frames)` is called after each chunk of
    frames is written, `warn` with notices such as "several faces" (see `crop_photo`).
    `overlap=False` pastes and encodes on the calling thread, after each chunk (benchmarks).
    `normalize_audio=False` gives the model the speech at its recorded level (`load_speech`).
    A photo with more than `max_output_pixels` pixels is scaled down to that many first (the
    video's size; 0 or None keeps the photo's size), see `media.MAX_OUTPUT_PIXELS`.
    """
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    output = check_writable(output)
    begin = time.perf_counter()
    if runner is None:
        runner = make_runner(model, backend)
    seconds["load_model"] = time.perf_counter() - begin

    begin = time.perf_counter()
    photo = fit_pixels(load_image(image), max_output_pixels)
    waveform = load_speech(
        audio, runner.samples_per_frame, runner.config.audio.sample_rate, normalize_audio
    )
    mux_audio = load_waveform(audio, AUDIO_RATE)
    seconds["decode"] = time.perf_counter() - begin

    begin = time.perf_counter()
    window, face = crop_photo(photo, str(image), face_index, warn)
    seconds["crop"] = time.perf_counter() - begin

    fps = runner.config.audio.fps
    background = even_crop(photo) if paste_back else None
    region = paste_region(runner.config)
    paster = Paster(background.shape, window, region) if paste_back else None
    height, width = background.shape[:2] if paste_back else face.shape[:2]

    def compose(start, frames):
        for frame in frames:
            yield paster.paste(background, frame) if paster else frame

    report = write_video(
        output, (width, height), fps, runner, face, waveform, seed, mux_audio, compose,
        seconds, "generating", progress, on_chunk, overlap,
    )  # fmt: skip
    report.wall_seconds = time.perf_counter() - started
    return report


class ChunkWriter:
    """Writes chunks of frames on a second thread while the caller generates the next ones.

    `write(start, frames)` runs for each `put` chunk, in order, on one background thread (so it
    may keep state, e.g. a video decoder); at most `depth` chunks wait, so memory stays bounded
    whatever the length. `finished()` gives the ends of the chunks written since it was last
    asked, for progress reports on the caller's thread. A failure in `write` is raised in the
    caller at the next `put` or on leaving the `with` block. With `overlap=False` everything
    runs on the caller's thread (for comparison in benchmarks).
    """

    def __init__(self, write: Callable[[int, object], None], overlap: bool = True, depth: int = 2):
        self._write, self._overlap = write, overlap
        self._pending: queue.Queue = queue.Queue(maxsize=depth)
        self._done: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="chunk-writer", daemon=True)

    def __enter__(self) -> ChunkWriter:
        if self._overlap:
            self._thread.start()
        return self

    def _run(self) -> None:
        while (item := self._pending.get()) is not None:
            if self._error is not None:
                continue  # keep draining so that `put` never blocks on a dead writer
            try:
                self._write(*item)
                self._done.put(item[0] + len(item[1]))
            except BaseException as error:
                self._error = error

    def put(self, start: int, frames) -> None:
        self._raise_error()
        if not self._overlap:
            self._write(start, frames)
            self._done.put(start + len(frames))
            return
        self._pending.put((start, frames))

    def finished(self) -> list[int]:
        ends = []
        while not self._done.empty():
            ends.append(self._done.get())
        return ends

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def __exit__(self, exc_type, *exc) -> None:
        if self._overlap:
            self._pending.put(None)
            self._thread.join()
        if exc_type is None:
            self._raise_error()


def write_video(
    output, size, fps, runner, face, waveform, seed, mux_audio, compose, seconds, desc,
    progress, on_chunk=None, overlap=True,
) -> GenerateReport:  # fmt: skip
    """Runs the model chunk by chunk and streams frames plus muxed audio into `output`.

    `compose(start, frames)` turns each chunk of generated 128x96 faces into output frames
    (paste-back, or the crops as they are), one at a time; it runs on the writer thread
    (`ChunkWriter`, unless `overlap` is False) together with the H.264 encoder. Busy time goes to
    seconds["generate"/"paste"/"encode"] ("paste" is the time spent in `compose`).
    `on_chunk(frames_done, total)`, if given, follows the chunks as they are written, on the
    caller's thread.
    """
    width, height = size
    total = runner.num_frames(len(waveform))
    audio_per_frame = AUDIO_RATE // fps
    seconds["generate"] = seconds["paste"] = seconds["encode"] = 0.0
    bar = tqdm(total=total, unit="frame", desc=desc, disable=not progress)
    done = 0

    def report_progress(ends: Iterable[int]) -> None:
        nonlocal done
        for end in ends:
            bar.update(end - done)
            done = end
            if on_chunk is not None:
                on_chunk(end, total)

    with Mp4Writer(output, width, height, fps=fps) as writer:

        def write(start, frames):
            composed = compose(start, frames)
            while True:
                begin = time.perf_counter()
                frame = next(composed, None)
                seconds["paste"] += time.perf_counter() - begin
                if frame is None:
                    break
                begin = time.perf_counter()
                writer.write_frame(frame)
                seconds["encode"] += time.perf_counter() - begin
            begin = time.perf_counter()
            stop = start + len(frames)
            writer.write_audio(audio_for_frames(mux_audio, start, stop, total, audio_per_frame))
            seconds["encode"] += time.perf_counter() - begin

        with ChunkWriter(write, overlap) as chunk_writer:
            begin = time.perf_counter()
            chunks = runner.iter_chunks(runner.encode_face(face), waveform, seed)
            seconds["generate"] += time.perf_counter() - begin
            while True:
                begin = time.perf_counter()
                item = next(chunks, None)
                seconds["generate"] += time.perf_counter() - begin
                if item is None:
                    break
                chunk_writer.put(*item)
                report_progress(chunk_writer.finished())
        report_progress(chunk_writer.finished())
        bar.close()
        begin = time.perf_counter()
    seconds["encode"] += time.perf_counter() - begin  # flushing the encoders, closing the file
    return GenerateReport(
        output=output,
        frames=total,
        width=width,
        height=height,
        audio_seconds=len(mux_audio) / AUDIO_RATE,
        seconds=seconds,
    )
