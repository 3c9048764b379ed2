"""Chunked generation through one of three backends with the same interface.

- `SavedModelRunner`: the exported SavedModel's `encode_face` / `generate_chunk` signatures (the
  artifact TF Serving loads).
- `TfliteRunner`: an exported `.tflite` (float, dynamic-range or int8) under LiteRT.
- `KerasRunner`: the in-memory Keras generator (benchmarks and parity tests).

`make_runner(model, "auto")` (bin/generate's default) picks the fastest backend that gives the
SavedModel's frames (`default_backend`): the float TFLite file, when the export has one. It
never imports TensorFlow (LiteRT runs the file, NumPy draws the noise), which saves seconds of
every `bin/generate` start-up.

All three turn a whole 16 kHz waveform into frames `CHUNK_FRAMES` at a time, carrying the recurrent
state, so memory does not grow with the length of the recording. The first two need only the
exported files, not the model code; `KerasRunner` imports that when it is built.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from absl import logging

from lipsync_tf import cpu
from lipsync_tf.audio.windows import AudioWindows
from lipsync_tf.config import ModelConfig
from lipsync_tf.errors import InputError
from lipsync_tf.export.contract import (
    CHUNK_FRAMES,
    EXPORT_INFO_NAME,
    LAYERS_SIGNATURE,
    TFLITE_FILES,
    TFLITE_INFO_NAME,
    TFLITE_NAME,
    noise_for_frames_numpy,
    numeric_versions,
    read_json,
)

if TYPE_CHECKING:
    from lipsync_tf.models.generator import Generator

BACKENDS = ("savedmodel", *TFLITE_FILES)
AUTO = "auto"
# What a chunk may give besides the frames and the state (export/signatures.py): a warping
# model's layers, and a mouth head's lip shapes.
EXTRA_OUTPUTS = ("flow", "mask", "drawn", "mouth_shape")


def _tf():
    """TensorFlow, imported when a SavedModel or Keras runner needs it: the TFLite backend runs
    without it (LiteRT, NumPy noise), which saves its import at every start-up."""
    import tensorflow as tf

    return tf


def resolve_saved_model(path: str | Path) -> Path:
    """`exported_models/NAME/N` as given, or the highest version in `exported_models/NAME`."""
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        return path
    versions = numeric_versions(path)
    if not versions:
        raise InputError(f"no SavedModel in {path}; run bin/export (or pass --model).")
    return path / str(versions[-1])


class ChunkRunner:
    """Common chunk loop; subclasses implement `encode_face` and `_run_chunk`."""

    config: ModelConfig
    backend = ""  # the --backend name it runs
    backend_reason = ""  # why `make_runner` chose it for "auto", else ""

    def __init__(self, config: ModelConfig):
        self.config = config
        self.windows = AudioWindows(config.audio)
        self.samples_per_frame = config.audio.samples_per_video_frame

    def num_frames(self, num_samples: int) -> int:
        return self.windows.num_frames(num_samples)

    def encode_face(self, face: np.ndarray):
        """face uint8 [128, 96, 3] -> the identity, passed as it is to `iter_chunks` (the packed
        float32 [identity_size] vector; TFLite: its parts by name)."""
        raise NotImplementedError

    def _run_chunk(self, identity, waveform, state, seed, start, stop, with_frames=True):
        """One chunk -> (its outputs {name: array}, frames first, the next state).
        `with_frames=False` (only asked of a runner with `has_layers`): the layers without the
        128x96 frames, which the runner then need not make."""
        raise NotImplementedError

    def _chunk_function(self, with_frames: bool):
        """The backend's chunk call: with the frames, or (`_layers`) the layers alone."""
        return self._chunk if with_frames else self._layers

    def _wanted(self, with_frames: bool) -> tuple[str, ...]:
        """The outputs `_run_chunk` returns besides the state."""
        return ("frames", *self._outputs) if with_frames else tuple(self._outputs)

    @property
    def has_layers(self) -> bool:
        """Whether each frame comes with its layers (flow, mask, drawn): a model that warps the
        photo, which `inference.composite` can then move at the photo's own resolution."""
        return False

    @property
    def has_mouth_head(self) -> bool:
        """Whether each frame comes with the lip shape the model hears (`mouth_shape`), which
        `inference.lip_rig` can move the photo's own lips to."""
        return "mouth_shape" in self._outputs

    def initial_state(self) -> np.ndarray:
        units = sum(self.config.audio_gru_units) + sum(self.config.noise_gru_units)
        return np.zeros([units], np.float32)

    def iter_chunks(
        self,
        identity,
        waveform: np.ndarray,
        seed: int,
        chunk_frames: int = CHUNK_FRAMES,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yields (start_frame, frames uint8 [n, 128, 96, 3]) for ceil(samples / 640) frames."""
        for start, outputs in self.iter_outputs(identity, waveform, seed, chunk_frames):
            yield start, outputs["frames"]

    def iter_outputs(
        self,
        identity,
        waveform: np.ndarray,
        seed: int,
        chunk_frames: int = CHUNK_FRAMES,
        with_frames: bool = True,
    ) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """Yields (start_frame, {"frames": uint8 [n, 128, 96, 3]}, with `has_layers` also "flow"
        float32 [n, 128, 96, 2], "mask" float32 [n, 128, 96, 1] and "drawn" uint8
        [n, 128, 96, 3], with a mouth head "mouth_shape" float32 [n, 80]) for
        ceil(samples / 640) frames. `with_frames=False` with `has_layers`: no "frames" (a client
        compositing the layers at the photo's resolution), about a quarter less compute on the
        shipped model."""
        with_frames = with_frames or not self.has_layers
        total = self.num_frames(len(waveform))
        state = self.initial_state()
        batch = np.asarray(waveform, np.float32)[None]  # a view: long speech is not copied
        for start in range(0, total, chunk_frames):
            stop = min(start + chunk_frames, total)
            outputs, state = self._run_chunk(identity, batch, state, seed, start, stop, with_frames)
            yield start, outputs


class SavedModelRunner(ChunkRunner):
    """Runs an exported SavedModel version folder (any chunk length).

    A model exported with `--conv_dtype bfloat16` is announced through `warn`, once, on a CPU
    without native bfloat16, where it runs several times slower than float32.
    """

    backend = "savedmodel"

    def __init__(self, model_path: str | Path, warn: Callable[[str], None] = logging.warning):
        self.version_dir = resolve_saved_model(model_path)
        values = read_json(self.version_dir / "config.json")
        super().__init__(ModelConfig.from_dict(values["model"]))
        self.conv_dtype = saved_model_conv_dtype(self.version_dir)
        if self.conv_dtype != "float32":
            notice = cpu.bfloat16_notice(f"the model {self.version_dir}")
            if notice:
                warn(notice)
        self.info = read_json(self.version_dir / EXPORT_INFO_NAME)
        self.loaded = _tf().saved_model.load(str(self.version_dir))
        self._encode = self.loaded.signatures["encode_face"]
        self._chunk = self.loaded.signatures["generate_chunk"]
        self._outputs = [name for name in EXTRA_OUTPUTS if name in self._chunk.structured_outputs]
        self._layers = self.loaded.signatures.get(LAYERS_SIGNATURE)
        if self._layers is None:  # exported before 2026-12-07 (the shipped versions 1 to 3)
            tf = _tf()

            @tf.function(reduce_retracing=True)
            def layers(**inputs):  # TensorFlow prunes the warp and blend only "frames" needs
                return {k: v for k, v in self._chunk(**inputs).items() if k != "frames"}

            self._layers = layers

    @property
    def has_layers(self) -> bool:
        return "flow" in self._outputs

    def encode_face(self, face):
        tf = _tf()
        return self._encode(face=tf.constant(face, tf.uint8))["identity"].numpy()

    def _run_chunk(self, identity, waveform, state, seed, start, stop, with_frames=True):
        tf = _tf()
        audio = self.windows.context_slice(waveform, start, stop)[0]
        out = self._chunk_function(with_frames)(
            identity=tf.constant(identity),
            audio=tf.constant(audio),
            state=tf.constant(state),
            seed=tf.constant(seed, tf.int64),
            start_frame=tf.constant(start, tf.int64),
        )
        outputs = {name: out[name].numpy() for name in self._wanted(with_frames)}
        return outputs, out["state"].numpy()


class TfliteRunner(ChunkRunner):
    """Runs one of the `generator_chunk*.tflite` files next to the SavedModel versions (LiteRT).

    backend: "tflite" (float), "tflite_dynamic_range" or "tflite_int8".
    """

    def __init__(self, model_path: str | Path, backend: str = "tflite", num_threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter

        root = Path(model_path)
        asked = None
        if (root / "saved_model.pb").is_file():
            root, asked = root.parent, root.name
        path = root / TFLITE_FILES[backend]
        if not path.is_file():
            how = (
                "bin/export --tflite --calibration_data CLIPS"
                if backend == "tflite_int8"
                else ("bin/export --tflite")
            )
            raise InputError(f"no TFLite model {path}; run {how}.")
        self.path = path
        self.backend = backend
        self.info = read_json(root / TFLITE_INFO_NAME)
        if asked is not None and asked != str(self.info["version"]):
            raise InputError(
                f"the TFLite files in {root} are version {self.info['version']}'s, not "
                f"{asked}'s; run version {asked} with --backend savedmodel."
            )
        version_dir = root / str(self.info["version"])
        super().__init__(ModelConfig.from_dict(read_json(version_dir / "config.json")["model"]))
        self.interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        self._encode = self.interpreter.get_signature_runner("encode_face")
        self._chunk = self.interpreter.get_signature_runner("generate_chunk")
        listed = self.interpreter.get_signature_list()
        chunk_outputs = listed["generate_chunk"]["outputs"]
        self._outputs = [name for name in EXTRA_OUTPUTS if name in chunk_outputs]
        # Files exported before 2026-12-07 have no generate_layers: their chunk makes frames too.
        self._layers = self._chunk
        if LAYERS_SIGNATURE in listed:
            self._layers = self.interpreter.get_signature_runner(LAYERS_SIGNATURE)

    @property
    def has_layers(self) -> bool:
        return "flow" in self._outputs

    def encode_face(self, face):
        """The identity's parts by name (the TFLite form, see export/tflite.py)."""
        return self._encode(face=np.ascontiguousarray(face, np.uint8))

    def _run_chunk(self, identity, waveform, state, seed, start, stop, with_frames=True):
        # Fixed-length model: pad the last chunk with silence and drop the extra frames.
        audio = self.windows.context_slice(waveform, start, start + CHUNK_FRAMES)[0]
        noise = noise_for_frames_numpy(seed, start, CHUNK_FRAMES, self.config)
        out = self._chunk_function(with_frames)(**identity, audio=audio, state=state, noise=noise)
        outputs = {name: out[name][: stop - start] for name in self._wanted(with_frames)}
        return outputs, out["state"]


class KerasRunner(ChunkRunner):
    """The Keras generator itself, through the same graph functions the export uses."""

    backend = "keras"

    def __init__(self, generator: Generator, config: ModelConfig):
        from lipsync_tf.export.signatures import GeneratorSignatures  # builds on Keras

        tf = _tf()
        super().__init__(config)
        self.signatures = GeneratorSignatures(generator, config)
        specs = self.signatures.input_signatures()
        self._encode = tf.function(
            self.signatures.encode_face, input_signature=specs["encode_face"]
        )
        self._chunk = tf.function(
            self.signatures.generate_chunk, input_signature=specs["generate_chunk"]
        )
        self._layers = tf.function(
            functools.partial(self.signatures.generate_chunk, with_frames=False),
            input_signature=specs["generate_chunk"],
        )

    @property
    def has_layers(self) -> bool:
        return self.signatures.exports_layers

    @property
    def has_mouth_head(self) -> bool:
        return self.signatures.generator.mouth_head is not None

    def encode_face(self, face):
        tf = _tf()
        return self._encode(tf.constant(face, tf.uint8))["identity"].numpy()

    def _run_chunk(self, identity, waveform, state, seed, start, stop, with_frames=True):
        tf = _tf()
        audio = self.windows.context_slice(waveform, start, stop)[0]
        out = self._chunk_function(with_frames)(
            tf.constant(identity),
            tf.constant(audio),
            tf.constant(state),
            tf.constant(seed, tf.int64),
            tf.constant(start, tf.int64),
        )
        outputs = {name: value.numpy() for name, value in out.items() if name != "state"}
        return outputs, out["state"].numpy()


def saved_model_conv_dtype(version_dir: Path) -> str:
    """What the SavedModel's convolutions multiply in (`bin/export --conv_dtype`)."""
    values = read_json(Path(version_dir) / "config.json")
    return values.get("export", {}).get("conv_dtype", "float32")


def default_backend(model_path: str | Path) -> tuple[str, str]:
    """(backend, why): the fastest backend that gives the SavedModel's frames.

    The float TFLite file where the export has one, on every CPU: it gives the SavedModel's
    frames (0.00 levels apart on the shipped model) and needs no TensorFlow, whose import and
    the SavedModel's load take longer than a minute of speech takes to generate: measured in
    fresh processes on a minute of speech, the float file was the faster with AVX2 and with
    AVX-512 (docs/speed.md). A bfloat16 SavedModel is several times slower still on a CPU
    without native bfloat16. Quantised files are never chosen: their frames drift.
    """
    version_dir = resolve_saved_model(model_path)
    if not (version_dir.parent / TFLITE_NAME).is_file():
        return "savedmodel", "the export has no float TFLite file"
    tflite_version = str(read_json(version_dir.parent / TFLITE_INFO_NAME)["version"])
    if tflite_version != version_dir.name:
        return "savedmodel", f"the TFLite files beside it are version {tflite_version}'s"
    return "tflite", "the float TFLite file: the SavedModel's frames, without TensorFlow"


def make_runner(
    model_path: str | Path, backend: str = AUTO, warn: Callable[[str], None] = logging.warning
) -> ChunkRunner:
    """The runner for `--backend` ("auto": `default_backend`); raises InputError when the
    files it needs are missing. `warn` receives one-line notices (a bfloat16 model on a CPU
    that emulates bfloat16)."""
    reason = ""
    if backend == AUTO:
        backend, reason = default_backend(model_path)
    if backend == "savedmodel":
        runner = SavedModelRunner(model_path, warn)
    elif backend in TFLITE_FILES:
        runner = TfliteRunner(model_path, backend)
    else:
        choices = ", ".join((AUTO, *BACKENDS))
        raise InputError(f"unknown backend {backend!r}; choose one of {choices}.")
    runner.backend_reason = reason
    return runner
