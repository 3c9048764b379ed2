"""bin/generate: one photo + speech -> an mp4 of that face speaking, with the speech muxed in.

`generate_video` runs these stages, each timed (`GenerateReport.seconds`):
  decode      the photo and the speech (every input is checked before the model loads);
  crop        find the face and crop it exactly as preprocessing does;
  load_model  the exported SavedModel or TFLite file (unless a loaded runner is passed in);
and then, chunk by chunk, so memory stays constant for any length (`write_video`):
  generate    the faces, from the model;
  paste       the motion into the full photo: for a model that warps the photo, its flow
              moves the photo's own pixels at the photo's resolution and only the drawn
              inside of the mouth is scaled up (`composite.PhotoCompositor`); other models'
              faces are pasted with a feathered mask (`paste.Paster`) - a separate step
              (`PasteIntoPhoto`);
  encode      H.264 + AAC, under a temporary name that becomes the output's when complete.
Pasting and encoding run on a second thread, a chunk behind the generation, so the encoder works
while the model computes the next chunk.

Unless `--no_provenance` (research use only), the video carries both marks that say it is
synthetic (`lipsync_tf.provenance`): the invisible watermark, added to each frame as it is
encoded (timed as encode), and the signed C2PA manifest, embedded before the file takes its name.
The provenance stage times the rest: checking the signing identity (right after decoding, so a
certificate C2PA refuses fails in a second, before the model loads), hashing the model's files
(once per process) and signing.

This module does not import TensorFlow (MediaPipe and the runners do, when the face is looked
for and the model loads), so a bad file is reported in under a second, not after 8.
"""

from __future__ import annotations

import dataclasses
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from absl import logging
from tqdm import tqdm

from lipsync_tf.audio import level
from lipsync_tf.audio.io import SampleReader, load_waveform, stream_waveform
from lipsync_tf.config import IMAGE_HEIGHT, IMAGE_WIDTH, AudioFeatureConfig, ModelConfig, option
from lipsync_tf.errors import ConfigError, InputError
from lipsync_tf.face_geometry import crop_window
from lipsync_tf.files import check_output
from lipsync_tf.inference.composite import PhotoCompositor
from lipsync_tf.inference.lip_rig import LIP_SHAPE_GAIN, MAX_LIP_SHAPE_GAIN, LipRig, rest_shape
from lipsync_tf.inference.media import (
    AUDIO_RATE,
    MAX_OUTPUT_PIXELS,
    Mp4Writer,
    even_crop,
    fit_pixels,
    load_image,
)
from lipsync_tf.inference.paste import Paster, paste_region
from lipsync_tf.preprocessing.faces import FaceDetector, crop_face, find_single_face
from lipsync_tf.provenance.marks import MARKED, OutputMarks, ProvenanceOptions, output_marks
from lipsync_tf.timing import StageTimer

if TYPE_CHECKING:
    from lipsync_tf.inference.runners import ChunkRunner

DEFAULT_MODEL = "exported_models/lipsync"
# `runners.BACKENDS`, spelled out so that defining the flags does not import TensorFlow.
BACKENDS = ("savedmodel", "tflite", "tflite_dynamic_range", "tflite_int8")
AUTO_BACKEND = "auto"  # `runners.default_backend`
# `--mouth_motion`: the decoder's layers, or the photo's lips moved to the head's lip shape;
# auto: lip_shape wherever it can run (`choose_motion`).
AUTO_MOTION, LAYERS, LIP_SHAPE = "auto", "layers", "lip_shape"
# What the exported models hear (the serving contract): 16 kHz speech, 25 video frames a second.
SPEECH = AudioFeatureConfig()


@dataclasses.dataclass(frozen=True)
class InferenceOptions:
    """The knobs `bin/generate` and `bin/redub` share; each field is a flag of both."""

    model: str = option(
        DEFAULT_MODEL, "exported_models/NAME (highest version) or exported_models/NAME/N."
    )
    backend: str = option(
        AUTO_BACKEND,
        "Run the SavedModel, or the (quantised) TFLite file beside it. auto: the float TFLite "
        "file where the export has one (the SavedModel's frames, and no TensorFlow to start: "
        "the faster on AVX2 and AVX-512 CPUs alike), else the SavedModel; the summary line "
        "says which ran. docs/speed.md says what each does.",
        choices=(AUTO_BACKEND, *BACKENDS),
    )
    seed: int = option(
        0, "Noise seed: the same seed gives the same frames (x264 may encode them a level apart)."
    )
    normalize_audio: bool = option(
        True,
        "Bring the speech to the level the model was trained at (-16 dBFS) before the model "
        "hears it; the video keeps the audio as recorded. --nonormalize_audio: as recorded.",
    )
    overwrite: bool = option(
        False,
        "Replace --output if it exists. Without it an existing file is refused, also one that "
        "appears while the run works; an input, or a read-only file, is never replaced.",
    )
    progress: bool = option(True, "Show a progress bar.")


@dataclasses.dataclass(frozen=True)
class GenerateOptions(InferenceOptions):
    """`bin/generate`'s knobs; each field is one of its flags."""

    face_index: int | None = option(None, "Which face to use when there are several (0 = largest).")
    paste_back: bool = option(
        True, "Blend the face back into the full photo (else output the crop)."
    )
    mouth_motion: str = option(
        AUTO_MOTION,
        "How the mouth moves in the photo. lip_shape: the photo's own lips moved to the lip "
        "shape the model hears, and only the gap between them drawn, with teeth; needs a model "
        "with a mouth head (version 2 or later). layers: the model's displacement field, mask "
        "and drawn inside (its decoder's own motion; no teeth). auto: lip_shape where it can "
        "run, else layers; the summary line says which ran. docs/generate.md compares them.",
        choices=(AUTO_MOTION, LAYERS, LIP_SHAPE),
    )
    lip_shape_gain: float = option(
        LIP_SHAPE_GAIN,
        "With --mouth_motion lip_shape: how far the lips move, times the lip shape the model "
        "hears (the default matches real mouths' movement on the training speakers); 0-10.",
    )
    max_output_pixels: int = option(
        MAX_OUTPUT_PIXELS,
        "Scale a larger photo down to this many pixels (width x height), keeping its shape, "
        "before everything else; the video has that size. The default, the area of 1080p, plays "
        "in every player and encodes about 4x faster than a 12-megapixel photo at full size. 0: "
        "the photo's own size.",
    )

    def __post_init__(self) -> None:
        if not 0 <= self.lip_shape_gain <= MAX_LIP_SHAPE_GAIN:
            raise ConfigError(
                f"--lip_shape_gain must be within 0-{MAX_LIP_SHAPE_GAIN:g}, not "
                f"{self.lip_shape_gain:g}."
            )
        if self.max_output_pixels is not None and self.max_output_pixels < 0:
            raise ConfigError(
                f"--max_output_pixels must be 0 (the photo's size) or more, not "
                f"{self.max_output_pixels}."
            )


@dataclasses.dataclass
class GenerateReport:
    """What was made and where the time went.

    `seconds`: busy time of each stage (decode, crop, load_model, generate, paste, encode,
    provenance unless it is off);
    generation overlaps pasting and encoding, so they add up to more than `wall_seconds`, the
    time the whole call took. `passed_through`: frames written as they were, without a face
    pasted (bin/redub, where the face is lost).
    """

    output: Path
    frames: int
    width: int
    height: int
    audio_seconds: float
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    wall_seconds: float = 0.0
    passed_through: int = 0
    backend: str = ""
    mouth_motion: str = ""


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


@dataclasses.dataclass
class Speech:
    """One recording, twice: what the model hears (`load_speech`, decoded whole, before the
    model loads, so a bad file is reported at once) and what the video plays (`sound()`: float32
    mono at `AUDIO_RATE`, as recorded, decoded again while the video is written, so a long
    recording is never held at 48 kHz)."""

    path: Path
    heard: np.ndarray

    @classmethod
    def load(cls, path: str | Path, normalize: bool = True) -> Speech:
        audio = SPEECH
        heard = load_speech(path, audio.samples_per_video_frame, audio.sample_rate, normalize)
        return cls(Path(path), heard)

    def sound(self) -> SampleReader:
        return SampleReader(stream_waveform(self.path, AUDIO_RATE))


def check_model_hears_speech(config: ModelConfig) -> None:
    """Inputs are decoded before the model loads, at the serving contract's rates (`SPEECH`);
    every exported model uses them, and one that does not is refused in words."""
    audio = config.audio
    if (audio.sample_rate, audio.fps) != (SPEECH.sample_rate, SPEECH.fps):
        raise ConfigError(
            f"the model hears {audio.sample_rate} Hz speech at {audio.fps} fps; bin/generate and "
            f"bin/redub run models made for {SPEECH.sample_rate} Hz at {SPEECH.fps} fps."
        )


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


@dataclasses.dataclass(frozen=True)
class GeneratedChunk:
    """One chunk of the model's output: the 128x96 faces uint8 [n, 128, 96, 3] and, for a model
    that warps the photo, the layers they were made of (flow, mask, drawn; see
    `runners.ChunkRunner.iter_outputs`), else None. Faces are None when only the layers were
    asked for (`generated_chunks(..., faces=False)`)."""

    faces: np.ndarray | None
    layers: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    mouth_shape: np.ndarray | None = None  # float32 [n, 80], a model with a mouth head

    def __len__(self) -> int:
        return len(self.faces if self.faces is not None else self.layers[0])

    @classmethod
    def from_outputs(cls, outputs: dict[str, np.ndarray]) -> GeneratedChunk:
        layers = None
        if "flow" in outputs:
            layers = (outputs["flow"], outputs["mask"], outputs["drawn"])
        return cls(outputs.get("frames"), layers, outputs.get("mouth_shape"))

    def frame_layers(self, index: int):
        """(flow, mask, drawn) of one frame of the chunk."""
        flow, mask, drawn = self.layers
        return flow[index], mask[index], drawn[index]


class Compose(Protocol):
    """The paste stage: turns a chunk of generated faces into output frames.

    `size` is (width, height) of the frames; `compose(start, chunk)` yields one frame per face of
    the `GeneratedChunk`, for frames start, start + 1, ... It runs on the writer thread.
    """

    size: tuple[int, int]

    def __call__(self, start: int, chunk: GeneratedChunk) -> Iterator[np.ndarray]: ...


class FaceCrops:
    """The generated 128x96 faces as they are (`--nopaste_back`)."""

    size = (IMAGE_WIDTH, IMAGE_HEIGHT)

    def __call__(self, start: int, chunk: GeneratedChunk) -> Iterator[np.ndarray]:
        yield from chunk.faces


class PasteIntoPhoto:
    """Each frame's motion made in the photo at its crop window: with the model's layers at
    the photo's resolution (`composite.PhotoCompositor`), else by blending the 128x96 face in
    (`paste.Paster`)."""

    def __init__(self, photo: np.ndarray, window, config: ModelConfig):
        self.background = even_crop(photo)
        self.paster = Paster(self.background.shape, window, paste_region(config))
        self.compositor = PhotoCompositor(self.background.shape, window)
        height, width = self.background.shape[:2]
        self.size = (width, height)

    def __call__(self, start: int, chunk: GeneratedChunk) -> Iterator[np.ndarray]:
        for index in range(len(chunk)):
            if chunk.layers is None:
                yield self.paster.paste(self.background, chunk.faces[index])
            else:
                yield self.compositor.compose(self.background, *chunk.frame_layers(index))


class MoveLipsInPhoto:
    """Each frame made by moving the photo's own lips to the lip shape the model hears
    (`--mouth_motion lip_shape`, `lip_rig.LipRig`)."""

    def __init__(self, photo: np.ndarray, rig: LipRig):
        self.background = even_crop(photo)
        self.rig = rig
        height, width = self.background.shape[:2]
        self.size = (width, height)

    def __call__(self, start: int, chunk: GeneratedChunk) -> Iterator[np.ndarray]:
        for shape in chunk.mouth_shape:
            yield self.rig.compose(self.background, shape)


def generated_chunks(
    runner: ChunkRunner, face: np.ndarray, waveform: np.ndarray, seed: int, faces: bool = True
) -> Iterator[tuple[int, GeneratedChunk]]:
    """The model's faces speaking `waveform`, chunk by chunk: (start frame, `GeneratedChunk`).
    Lazy, so encoding the identity counts as generation time. `faces=False`: a model that
    exports its layers gives those alone (what compositing in the photo reads), not its 128x96
    faces, which saves about a quarter of the float TFLite file's time."""
    identity = runner.encode_face(face)
    for start, outputs in runner.iter_outputs(identity, waveform, seed, with_frames=faces):
        yield start, GeneratedChunk.from_outputs(outputs)


def generate_video(
    image: str | Path,
    audio: str | Path,
    output: str | Path,
    options: GenerateOptions = GenerateOptions(),
    *,
    provenance: ProvenanceOptions = MARKED,
    runner: ChunkRunner | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
    warn: Callable[[str], None] = logging.warning,
    overlap: bool = True,
) -> GenerateReport:
    """Writes `output` (H.264 + AAC mp4, 25 fps): the face in `image` saying `audio`.

    `runner` replaces loading `options.model` (benchmarks pass a Keras runner; the web demo the
    runner it keeps loaded). `on_chunk(frames_done, total_frames)` is called after each chunk of
    frames is written, `warn` with notices such as "several faces" (see `crop_photo`).
    `overlap=False` pastes and encodes on the calling thread, after each chunk (benchmarks).
    `provenance`: the signed C2PA manifest and the watermark (`lipsync_tf.provenance`), on by
    default; a bad signing certificate fails before the model loads.
    """
    timer, started = StageTimer(), time.perf_counter()
    output = check_output(output, inputs=(image, audio), overwrite=options.overwrite)
    with timer.stage("decode"):
        photo = fit_pixels(load_image(image), options.max_output_pixels)
        speech = Speech.load(audio, options.normalize_audio)
    marks = check_provenance(provenance, output, timer)
    with timer.stage("crop"):
        window, face = crop_photo(photo, str(image), options.face_index, warn)
    with timer.stage("load_model"):
        runner = runner or load_runner(options, warn)
    check_model_hears_speech(runner.config)
    name_model(marks, runner, timer)
    compose, motion = choose_motion(runner, photo, window, face, options, warn)
    video = OutputVideo(
        output, runner.config.audio.fps, runner.num_frames(len(speech.heard)), speech.sound(),
        options.overwrite, marks,
    )  # fmt: skip
    # Pasted back, a warping model's frames are made from its layers in the photo (not its faces).
    chunks = generated_chunks(runner, face, speech.heard, options.seed, not options.paste_back)
    report = write_video(
        video, chunks, compose, timer, desc="generating", progress=options.progress,
        on_chunk=on_chunk, overlap=overlap,
    )  # fmt: skip
    report.wall_seconds = time.perf_counter() - started
    report.backend, report.mouth_motion = runner.backend, motion
    return report


def choose_motion(runner: ChunkRunner, photo, window, face, options, warn) -> tuple[Compose, str]:
    """The paste stage and the `--mouth_motion` it runs.

    auto runs lip_shape for a model with a mouth head pasting into the photo, else layers
    (also when the face mesh cannot place the photo's lips, with a notice through `warn`);
    lip_shape asked for where it cannot run is an InputError."""
    if not options.paste_back and options.mouth_motion != LIP_SHAPE:
        return FaceCrops(), LAYERS
    wanted = options.mouth_motion
    if wanted == AUTO_MOTION and not runner.has_mouth_head:
        wanted = LAYERS
    if wanted != LAYERS:
        try:
            return lip_shape_compose(runner, photo, window, face, options), LIP_SHAPE
        except InputError:
            if options.mouth_motion == LIP_SHAPE:
                raise
            warn("the face mesh cannot place this photo's lips; the mouth moves by the layers.")
    return PasteIntoPhoto(photo, window, runner.config), LAYERS


def lip_shape_compose(runner: ChunkRunner, photo, window, face, options) -> MoveLipsInPhoto:
    """The paste stage of `--mouth_motion lip_shape`, or InputError where it cannot work."""
    if not options.paste_back:
        raise InputError(
            "--mouth_motion lip_shape moves the lips in the photo itself; drop --nopaste_back, "
            "or use --mouth_motion layers for the 128x96 crops."
        )
    if not runner.has_mouth_head:
        raise InputError(
            f"{options.model} has no mouth head to hear the lip shape (version 1); use "
            "--mouth_motion layers, or a later version."
        )
    rest = rest_shape(runner, runner.encode_face(face), options.seed)
    rig = LipRig.from_photo(even_crop(photo), window, rest, options.lip_shape_gain)
    return MoveLipsInPhoto(photo, rig)


def load_runner(
    options: InferenceOptions, warn: Callable[[str], None] = logging.warning
) -> ChunkRunner:
    """The model `options` names, loaded (`runners` imports TensorFlow, hence the late import);
    `warn` receives its notices (a bfloat16 model on a CPU that emulates bfloat16)."""
    from lipsync_tf.inference.runners import make_runner

    return make_runner(options.model, options.backend, warn)


def check_provenance(
    provenance: ProvenanceOptions, output: Path, timer: StageTimer, source=None
) -> OutputMarks | None:
    """The output's marks with their signing identity made or checked (`output_marks`), in the
    provenance stage; None when provenance is off. `source`: the video a redub edits."""
    if not provenance.enabled:
        return None
    with timer.stage("provenance"):
        return output_marks(provenance, output, source)


def name_model(marks: OutputMarks | None, runner: ChunkRunner, timer: StageTimer) -> None:
    """Tells the marks which model makes the video (hashing its files, once per process)."""
    if marks is not None:
        with timer.stage("provenance"):
            marks.set_model(runner)


class ChunkWriter:
    """Writes chunks of frames on a second thread while the caller generates the next ones.

    `write(start, frames)` runs for each `put` chunk, in order, on one background thread (so it
    may keep state, e.g. a video decoder); at most `depth` chunks wait, so memory stays bounded
    whatever the length. `finished()` gives the ends of the chunks written since it was last
    asked, for progress reports on the caller's thread. A failure in `write` is raised in the
    caller at the next `put` or on leaving the `with` block. Leaving it by an exception (Ctrl-C
    included) skips the chunks still waiting, and the thread has always stopped when the block
    is left, so the file it writes can be deleted safely. With `overlap=False` everything runs
    on the caller's thread (for comparison in benchmarks).
    """

    def __init__(self, write: Callable[[int, object], None], overlap: bool = True, depth: int = 2):
        self._write, self._overlap = write, overlap
        self._pending: queue.Queue = queue.Queue(maxsize=depth)
        self._done: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._closing = threading.Event()  # no more chunks will come
        self._cancelled = False  # the output is being discarded: skip what waits
        self._thread = threading.Thread(target=self._run, name="chunk-writer", daemon=True)

    def __enter__(self) -> ChunkWriter:
        if self._overlap:
            self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            try:
                item = self._pending.get(timeout=0.05)
            except queue.Empty:
                if self._closing.is_set():
                    return
                continue
            if self._error is not None or self._cancelled:
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
            self._cancelled = exc_type is not None
            self._closing.set()
            interrupted = None
            while self._thread.is_alive():
                try:
                    self._thread.join()
                except BaseException as error:  # a signal while waiting: stop soon, still wait
                    self._cancelled, interrupted = True, interrupted or error
            if interrupted is not None:
                raise interrupted
        if exc_type is None:
            self._raise_error()


@dataclasses.dataclass(frozen=True)
class OutputVideo:
    """What `write_video` writes: where (replacing a file there only if `overwrite`), at how
    many frames a second, how many frames, the sound (float32 mono at `AUDIO_RATE`, read in
    step with the frames; the last chunk takes all that is left) and the provenance `marks`
    (None: none)."""

    path: Path
    fps: int
    frames: int
    sound: SampleReader
    overwrite: bool = False
    marks: OutputMarks | None = None


class Progress:
    """A progress bar (unless `show` is False) and the `on_chunk(done, total)` callback,
    following the ends of the chunks written, in order."""

    def __init__(self, total: int, desc: str, show: bool, on_chunk=None):
        self.total, self.on_chunk, self.done = total, on_chunk, 0
        self.bar = tqdm(total=total, unit="frame", desc=desc, disable=not show)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()  # also on failure, so a message starts on a line of its own

    def update(self, ends: Iterable[int]) -> None:
        for end in ends:
            self.bar.update(end - self.done)
            self.done = end
            if self.on_chunk is not None:
                self.on_chunk(end, self.total)


def write_video(
    video: OutputVideo,
    chunks: Iterator[tuple[int, GeneratedChunk]],
    compose: Compose,
    timer: StageTimer,
    *,
    desc: str,
    progress: bool = True,
    on_chunk: Callable[[int, int], None] | None = None,
    overlap: bool = True,
) -> GenerateReport:
    """Streams the generated `chunks`, composed into frames, plus the sound into `video.path`.

    `compose` (the paste stage) runs on the writer thread (`ChunkWriter`, unless `overlap` is
    False) together with the H.264 encoder. Busy time goes to the timer's stages generate,
    paste (time spent in `compose`) and encode. `video.marks` watermark each frame (counted as
    encoding) and sign the file before it takes its name (counted as provenance).
    `on_chunk(frames_done, total)`, if given, follows the chunks as they are written, on the
    caller's thread.
    """
    width, height = compose.size
    for stage in ("generate", "paste", "encode"):  # the report lists them in this order
        timer.seconds.setdefault(stage, 0.0)
    per_frame = AUDIO_RATE // video.fps  # samples of sound
    hooks = video.marks.writer_hooks() if video.marks is not None else {}

    with (
        Progress(video.frames, desc, progress, on_chunk) as bar,
        Mp4Writer(
            video.path, width, height, fps=video.fps, overwrite=video.overwrite, **hooks
        ) as writer,
    ):

        def write(start: int, chunk: GeneratedChunk) -> None:
            for frame in timer.timed_iter("paste", compose(start, chunk)):
                with timer.stage("encode"):
                    writer.write_frame(frame)
            last = start + len(chunk) == video.frames
            with timer.stage("encode"):
                writer.write_audio(video.sound.read(None if last else len(chunk) * per_frame))

        with ChunkWriter(write, overlap) as chunk_writer:
            for start, chunk in timer.timed_iter("generate", chunks):
                chunk_writer.put(start, chunk)
                bar.update(chunk_writer.finished())
        bar.update(chunk_writer.finished())
        with timer.stage("encode"):
            writer.close()  # flushes the encoders, signs (marks); the file takes its name
    if video.marks is not None:  # the signature was made inside close(): not encoding time
        timer.seconds["encode"] -= video.marks.sign_seconds
        timer.seconds["provenance"] = (
            timer.seconds.get("provenance", 0.0) + video.marks.sign_seconds
        )
    return GenerateReport(
        output=video.path,
        frames=video.frames,
        width=width,
        height=height,
        audio_seconds=video.sound.samples_read / AUDIO_RATE,
        seconds=timer.seconds,
    )
