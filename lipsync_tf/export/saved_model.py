"""Export a trained generator as a TF Serving SavedModel (+ optional TFLite) with a model card.

    exported_models/NAME/
      1/                      one numeric folder per export (TF Serving loads the highest)
        saved_model.pb variables/ fingerprint.pb   the SavedModel (signatures in signatures.py)
        config.json           copied from the model_dir
        export_info.json      chunk length, audio context, packed identity/state sizes
        MODEL_CARD.md         what the model is, training data, steps, metrics
      generator_chunk.tflite                 --tflite: the chunk path, float32
      generator_chunk_dynamic_range.tflite   --tflite: the same, dynamic-range quantised
      generator_chunk_int8.tflite            --tflite --calibration_data: full-integer int8
      tflite_info.json                       which version the .tflite files were made from

A version folder is built under a temporary name in the same directory and renamed into place,
so TF Serving (which polls the folder) never sees a half-written model and nothing is overwritten.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
from absl import logging

from lipsync_tf import cpu
from lipsync_tf.config import ModelConfig
from lipsync_tf.errors import ConfigError, InputError
from lipsync_tf.export import calibration, tflite
from lipsync_tf.export.contract import (
    CHUNK_FRAMES,
    EXPORT_INFO_NAME,
    LAYERS_SIGNATURE,
    MODEL_CARD_NAME,
    NOISE_BLOCK_FRAMES,
    TFLITE_INFO_NAME,
)
from lipsync_tf.export.signatures import GeneratorSignatures
from lipsync_tf.model_dir import restore_generator, write_json_atomically

CONV_DTYPES = ("float32", "bfloat16")


@dataclasses.dataclass
class ExportResult:
    version_dir: Path
    version: int
    step: int
    tflite_sizes: dict[str, int]


def _next_version(export_dir: Path, requested: int | None) -> int:
    taken = {int(child.name) for child in export_dir.iterdir() if child.name.isdigit()}
    if requested is None:
        return max(taken, default=0) + 1
    if requested < 1:
        raise InputError(f"--version must be a positive integer, got {requested}.")
    if requested in taken:
        raise InputError(
            f"{export_dir / str(requested)} already exists; exports are never overwritten, "
            "pick another --version or leave it out to use the next free one."
        )
    return requested


def export_info(signatures: GeneratorSignatures, step: int) -> dict[str, Any]:
    """What a chunked client needs besides the signatures (also written to export_info.json)."""
    left, right = signatures.context_samples
    audio = signatures.config.audio
    return {
        "step": step,
        "sample_rate": audio.sample_rate,
        "fps": audio.fps,
        "samples_per_frame": signatures.samples_per_frame,
        "chunk_frames": CHUNK_FRAMES,
        "noise_block_frames": NOISE_BLOCK_FRAMES,
        "noise_dim": signatures.config.noise_dim,
        "noise_std": signatures.config.noise_std,
        "audio_context_left": left,
        "audio_context_right": right,
        "identity_size": signatures.identity_size,
        "state_size": signatures.state_size,
    }


def _section(values: dict[str, Any], key: str) -> str:
    section = values.get(key)
    if not section:
        return "unknown"
    if isinstance(section, dict):
        return "\n".join(f"- `{name}`: {value}" for name, value in sorted(section.items()))
    return str(section)


def _metrics_note(values: dict[str, Any], step: int) -> str:
    """Says when training's latest validation is not of the exported step (--step N)."""
    measured = (values.get("metrics") or {}).get("validation_step")
    if measured is None or measured == step:
        return ""
    return f"\n(Training's latest validation, at step {measured}; not of the exported step {step}.)"


def _export_lines(model: ModelConfig, values: dict[str, Any]) -> str:
    """Card lines for what `bin/export` changed from the trained model, if anything."""
    lines = ""
    if model.mouth_gain != 1.0:
        lines += (
            f"\n- Mouth gain: {model.mouth_gain:g} (the decoder draws {model.mouth_gain:g}x the "
            "mouth shape its head hears; set by `bin/export --mouth_gain`)"
        )
    conv_dtype = values.get("export", {}).get("conv_dtype", "float32")
    if conv_dtype != "float32":
        lines += (
            f"\n- Convolutions multiply in {conv_dtype} (`bin/export --conv_dtype`); "
            "fast only on CPUs with AVX512-BF16 or AMX"
        )
    locator = values.get("export", {}).get("lip_locator")
    if locator:
        lines += (
            f"\n- serving_default and serve_box move the photo's own lips to the heard shape "
            f"(lip locator {locator}; `bin/export --lip_locator`, docs/serving.md): better at "
            "the project's framing, much worse on crops 1.4x looser"
        )
    return lines


def model_card(name: str, version: int, model_dir: Path, values: dict[str, Any], step: int) -> str:
    """A short Markdown model card; sections absent from config.json read "unknown"."""
    model = ModelConfig.from_dict(values["model"])
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    export_lines = _export_lines(model, values)
    return f"""# {name}, version {version}

Speech-driven talking-face generator (lipsync_tf; "Speech Driven Video Generation from Facial
Images"): one face photo + 16 kHz speech -> 128x96 RGB frames at {model.audio.fps} fps.

- Exported: {created} from `{model_dir}`
- Training steps: {step}
- Generator: identity filters {list(model.identity_filters)}, audio GRU
  {list(model.audio_gru_units)}, decoder filters {list(model.decoder_filters)}{export_lines}

## Training data
{_section(values, "data")}

## Training configuration
{_section(values, "train")}

## Metrics
{_section(values, "metrics")}{_metrics_note(values, step)}

## Signatures
- `serving_default`: face uint8 [H, W, 3], audio float32 [samples] (mono 16 kHz), seed int64
  -> frames uint8 [T, 128, 96, 3], T = ceil(samples / 640).
- `encode_face`: face -> identity; `generate_chunk`: identity, audio (chunk with context), state,
  seed, start_frame -> frames, state. Sizes and audio context in `export_info.json`.

## Intended use and limits
Research and demos of lip-synced animation of a consenting person's photo. Not for
impersonation: never make a real person appear to say what they did not say, or pass the output
off as real footage. Output shows a synthetic face; label generated videos as such (`bin/generate`,
`bin/redub` and `bin/demo` mark every video with a signed C2PA manifest and a watermark;
`bin/verify` reads both). Quality depends on how close the photo is to the training data
(frontal, well-lit faces).
"""


def export_model(
    model_dir: str | Path,
    export_dir: str | Path,
    version: int | None = None,
    write_tflite: bool = False,
    step: int | None = None,
    calibration_data: str | Path | None = None,
    calibration_clips: int = 8,
    mouth_gain: float | None = None,
    conv_dtype: str = "float32",
    warn: Callable[[str], None] = logging.warning,
    lip_locator: str | Path | None = None,
) -> ExportResult:
    """Rebuilds the generator from `model_dir` (its latest checkpoint, or the one of `step`) and
    writes `export_dir/<version>/` (module doc). With `write_tflite` and `calibration_data` (a
    folder of real clips) the int8 TFLite file is written too, calibrated on up to
    `calibration_clips` of them. `mouth_gain` replaces the model config's
    (`ModelConfig.mouth_gain`) in the export. `conv_dtype` "bfloat16" makes the SavedModel's
    convolutions and per-frame dense layers multiply in bfloat16 (`Generator.use_conv_dtype`);
    TFLite files stay float32 (and quantised). On a CPU without native bfloat16, `warn` says
    so in one line (`cpu.bfloat16_notice`): the export may be meant for another machine.
    `lip_locator` (a `bin/train_expert --kind lip_locator` file): serving_default and serve_box
    move the still's own lips to the heard shape (`signatures` module doc)."""
    if conv_dtype not in CONV_DTYPES:
        raise ConfigError(f"conv_dtype must be one of {CONV_DTYPES}, got {conv_dtype!r}.")
    if conv_dtype == "bfloat16":
        notice = cpu.bfloat16_notice("this export (--conv_dtype bfloat16)")
        if notice:
            warn(notice)
    model_dir, export_dir = Path(model_dir), Path(export_dir)
    generator, values, step = restore_generator(model_dir, step)
    if mouth_gain is not None:
        values = {**values, "model": {**values["model"], "mouth_gain": float(mouth_gain)}}
    config = ModelConfig.from_dict(values["model"])
    generator.mouth_gain = config.mouth_gain
    if conv_dtype != "float32":
        values = {**values, "export": {"conv_dtype": conv_dtype}}
    generator.use_conv_dtype(conv_dtype)
    locator = _load_lip_locator(lip_locator, generator) if lip_locator else None
    if locator is not None:
        values = {**values, "export": {**values.get("export", {}), "lip_locator": str(lip_locator)}}
    signatures = GeneratorSignatures(generator, config, lip_locator=locator)
    try:
        export_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot create export folder {export_dir}: {error.strerror}.") from error
    number = _next_version(export_dir, version)
    staging = export_dir / f".tmp-{number}-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    try:
        archive = keras.export.ExportArchive()
        archive.track(generator)
        if locator is not None:
            archive.track(locator)
        for endpoint, spec in signatures.input_signatures().items():
            function = {
                "serving_default": signatures.serve,
                "serve_box": signatures.serve_box,
                "encode_face": signatures.encode_face,
                "encode_face_box": signatures.encode_face_box,
                "generate_chunk": signatures.generate_chunk,
                LAYERS_SIGNATURE: signatures.generate_layers,
            }[endpoint]
            archive.add_endpoint(endpoint, function, input_signature=spec)
        archive.write_out(str(staging), verbose=False)
        write_json_atomically(staging / "config.json", values)
        write_json_atomically(staging / EXPORT_INFO_NAME, export_info(signatures, step))
        card = model_card(export_dir.name, number, model_dir, values, step)
        (staging / MODEL_CARD_NAME).write_text(card)
        final = export_dir / str(number)
        if final.exists():
            raise InputError(f"{final} appeared while exporting; run bin/export again.")
        os.rename(staging, final)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    generator.use_conv_dtype("float32")
    sizes: dict[str, int] = {}
    if write_tflite:
        sizes = _write_tflite(
            signatures, export_dir, number, step, calibration_data, calibration_clips
        )
    return ExportResult(version_dir=final, version=number, step=step, tflite_sizes=sizes)


def _load_lip_locator(path: str | Path, generator) -> keras.Model:
    """The lip locator at `path`, checked to be one and to have a mouth head to follow."""
    from lipsync_tf.models.lip_locator import LipLocator

    if not Path(path).is_file():
        raise InputError(
            f"lip locator {path} does not exist; train it with bin/train_expert --kind lip_locator."
        )
    if not generator.use_mouth_head:
        raise ConfigError("--lip_locator needs a model with a mouth head (ModelConfig.mouth_head).")
    locator = keras.saving.load_model(str(path), compile=False)
    if not isinstance(locator, LipLocator):
        raise ConfigError(f"{path} holds a {type(locator).__name__}, not a LipLocator.")
    locator.trainable = False
    return locator


def _write_tflite(
    signatures: GeneratorSignatures,
    export_dir: Path,
    number: int,
    step: int,
    calibration_data: str | Path | None,
    calibration_clips: int,
) -> dict[str, int]:
    """The TFLite files beside the version folders (int8 only with `calibration_data`) and
    their `tflite_info.json`; returns each file's size in bytes."""
    representative, clips = None, []
    if calibration_data is not None:
        samples, clips = calibration.calibration_samples(
            signatures, calibration_data, calibration_clips
        )
        representative = lambda: iter(samples)  # noqa: E731 (the converter wants a callable)
    sizes = tflite.write_tflite_models(signatures, export_dir, representative)
    info = {**export_info(signatures, step), "version": number, "sizes_bytes": sizes}
    if clips:
        info["int8_calibration_clips"] = clips
    write_json_atomically(export_dir / TFLITE_INFO_NAME, info)
    return sizes
