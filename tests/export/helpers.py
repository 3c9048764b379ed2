"""A tiny freshly initialised model_dir and its export, shared by the export and inference tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import pytest

from lipsync_tf.config import ModelConfig
from lipsync_tf.model_dir import build_generator, save_generator_checkpoint

TRAINING_STEP = 7


def lip_sync_config() -> ModelConfig:
    """The tiny model with the shipped model's options: mouth head, speech at every decoder
    stage, blend mask over the mouth alone, warp (configs/models/cpu_mouth.json at a tiny
    size)."""
    return dataclasses.replace(
        ModelConfig.tiny(), mouth_head=True, decoder_condition_channels=3, blend_mask=True,
        warp_still=True, mask_region="mouth",
    )  # fmt: skip


def make_model_dir(path: Path, config: ModelConfig | None = None, seed: int = 0) -> Path:
    """config.json + a generator checkpoint of a freshly initialised (tiny) model.

    Seeded here: the session-wide exports below are built before the per-test seed fixture
    runs, so without it their weights (and the int8 file's drift, which thresholds are set
    against) would depend on which tests ran first."""
    config = config or ModelConfig.tiny()
    keras.utils.set_random_seed(seed)
    generator = build_generator(config)
    save_generator_checkpoint(path, generator, {"model": config.to_dict()}, TRAINING_STEP)
    return path


def exported_tiny(
    tmp_path_factory: pytest.TempPathFactory, options: bool = False
) -> tuple[Path, Path]:
    """(model_dir, export_dir) with version 1 and both .tflite files; built once per session.
    `options`: the tiny model with the lip-sync options (`lip_sync_config`)."""
    from lipsync_tf.export.saved_model import export_model

    name = "tiny_lip_sync" if options else "tiny"
    root = tmp_path_factory.getbasetemp() / f"{name}_export"
    model_dir, export_dir = root / "model_dir", root / "exported_models" / name
    if not (export_dir / "1" / "saved_model.pb").is_file():
        make_model_dir(model_dir, lip_sync_config() if options else None)
        export_model(model_dir, export_dir, write_tflite=True)
    return model_dir, export_dir


def exported_int8(tmp_path_factory: pytest.TempPathFactory, clips: Path) -> tuple[Path, Path]:
    """(model_dir, export_dir) of the tiny lip-sync model with all three .tflite files, the
    int8 one calibrated on two of the real `clips`; built once per session."""
    from lipsync_tf.export.saved_model import export_model

    root = tmp_path_factory.getbasetemp() / "int8_export"
    model_dir, export_dir = root / "model_dir", root / "exported_models" / "int8"
    if not (export_dir / "generator_chunk_int8.tflite").is_file():
        make_model_dir(model_dir, lip_sync_config())
        export_model(
            model_dir, export_dir, write_tflite=True, calibration_data=clips, calibration_clips=2
        )
    return model_dir, export_dir
