"""A tiny freshly initialised model_dir and its export, shared by the export and inference tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from lipsync_tf.config import ModelConfig
from lipsync_tf.model_dir import build_generator, save_generator_checkpoint

TRAINING_STEP = 7


def make_model_dir(path: Path, config: ModelConfig | None = None) -> Path:
    """config.json + a generator checkpoint of a freshly initialised (tiny) model."""
    config = config or ModelConfig.tiny()
    generator = build_generator(config)
    save_generator_checkpoint(path, generator, {"model": config.to_dict()}, TRAINING_STEP)
    return path


def exported_tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(model_dir, export_dir) with version 1 and both .tflite files; built once per session."""
    from lipsync_tf.export.saved_model import export_model

    root = tmp_path_factory.getbasetemp() / "tiny_export"
    model_dir, export_dir = root / "model_dir", root / "exported_models" / "tiny"
    if not (export_dir / "1" / "saved_model.pb").is_file():
        make_model_dir(model_dir)
        export_model(model_dir, export_dir, write_tflite=True)
    return model_dir, export_dir


def lip_sync_tiny() -> ModelConfig:
    """The tiny model with every lip-sync option the shipped model uses."""
    import dataclasses

    return dataclasses.replace(
        ModelConfig.tiny(), mouth_head=True, decoder_condition_channels=3, blend_mask=True,
        warp_still=True,
    )  # fmt: skip


def exported_lip_sync_tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """`exported_tiny` for `lip_sync_tiny()`."""
    from lipsync_tf.export.saved_model import export_model

    root = tmp_path_factory.getbasetemp() / "tiny_lip_sync_export"
    model_dir, export_dir = root / "model_dir", root / "exported_models" / "tiny_lip_sync"
    if not (export_dir / "1" / "saved_model.pb").is_file():
        make_model_dir(model_dir, lip_sync_tiny())
        export_model(model_dir, export_dir, write_tflite=True)
    return model_dir, export_dir
