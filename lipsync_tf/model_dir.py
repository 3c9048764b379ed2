"""The model directory contract: what training writes and what export/inference read back.

    model_dir/
      config.json            {"model": ModelConfig.to_dict(), "data": {...}, "train": {...}, ...}
      checkpoints/state-00001200.weights.h5      full training state at step 1200 (generator,
                                                 both discriminators, both optimizers, step)
      checkpoints/generator-00001200.weights.h5  the generator's weights alone at that step

Keras weight files rather than `tf.train.Checkpoint`: Keras 3 layers held in lists are invisible to
TF's object-graph checkpoints, which silently saved a handful of variables. Each file is written
under a temporary name and renamed, so a crash never leaves a half-written checkpoint.

A generator can always be rebuilt from its directory alone: `restore_generator(model_dir)`.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from lipsync_tf.config import IMAGE_CHANNELS, IMAGE_HEIGHT, IMAGE_WIDTH, ModelConfig
from lipsync_tf.errors import ConfigError, InputError
from lipsync_tf.models.generator import Generator

CONFIG_NAME = "config.json"
CHECKPOINT_SUBDIR = "checkpoints"


def write_json_atomically(path: str | Path, values: dict[str, Any]) -> None:
    """Writes JSON to a temp file beside `path`, then renames it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w") as stream:
        json.dump(values, stream, indent=2, sort_keys=True)
        stream.write("\n")
    os.chmod(temp, 0o644)  # mkstemp creates 0600; config files are meant to be shared.
    os.replace(temp, path)


def write_config(model_dir: str | Path, values: dict[str, Any]) -> None:
    if "model" not in values:
        raise ConfigError("a model_dir config needs a 'model' section (ModelConfig.to_dict()).")
    write_json_atomically(Path(model_dir) / CONFIG_NAME, values)


def read_config(model_dir: str | Path) -> dict[str, Any]:
    path = Path(model_dir) / CONFIG_NAME
    if not path.is_file():
        raise InputError(f"{model_dir} has no {CONFIG_NAME}; point at a directory bin/train wrote.")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path} is not valid JSON: {error}") from error


def model_config(model_dir: str | Path) -> ModelConfig:
    return ModelConfig.from_dict(read_config(model_dir)["model"])


def checkpoint_dir(model_dir: str | Path) -> Path:
    return Path(model_dir) / CHECKPOINT_SUBDIR


def checkpoint_steps(model_dir: str | Path, kind: str = "generator") -> list[int]:
    """Steps with a complete checkpoint of `kind` ("generator" or "state"), oldest first."""
    directory = checkpoint_dir(model_dir)
    if not directory.is_dir():
        return []
    steps = []
    for path in directory.glob(f"{kind}-*.weights.h5"):
        number = path.name[len(kind) + 1 : -len(".weights.h5")]
        if number.isdigit():
            steps.append(int(number))
    return sorted(steps)


def checkpoint_path(model_dir: str | Path, step: int, kind: str = "generator") -> Path:
    return checkpoint_dir(model_dir) / f"{kind}-{step:08d}.weights.h5"


def save_weights_atomically(model, path: str | Path) -> None:
    """`model.save_weights` to a temporary name in the same directory, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    model.save_weights(str(temp))
    os.replace(temp, path)


def remove_leftovers(model_dir: str | Path) -> list[Path]:
    """Deletes what a writer killed mid-write leaves behind; returns the deleted paths.

    Temporary checkpoint and config files (never read: their names do not match) and the
    cluster handshake's check file. Call it only from the one process that writes `model_dir`.
    """
    model_dir = Path(model_dir)
    leftovers = [
        *checkpoint_dir(model_dir).glob(".tmp-*"),
        *model_dir.glob(f".{CONFIG_NAME}.*.tmp"),
        *model_dir.glob(".cluster-check-*"),
    ]
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers


def build_generator(config: ModelConfig, seed: int | None = None) -> Generator:
    """A generator with every variable created (needed before restoring a checkpoint)."""
    generator = Generator.from_model_config(config, seed=seed)
    generator.build(
        {
            "still": (None, IMAGE_HEIGHT, IMAGE_WIDTH, IMAGE_CHANNELS),
            "audio": (None, None, config.audio.window_frames, config.audio.n_mfcc),
        }
    )
    return generator


def restore_generator(
    model_dir: str | Path, step: int | None = None
) -> tuple[Generator, dict[str, Any], int]:
    """Rebuilds the generator from `config.json` and loads the latest (or given) step's weights.

    Returns (generator, config dict, training step of the checkpoint).
    """
    values = read_config(model_dir)
    generator = build_generator(ModelConfig.from_dict(values["model"]))
    if step is None:
        steps = checkpoint_steps(model_dir)
        if not steps:
            raise InputError(
                f"{model_dir} has no generator checkpoint under {CHECKPOINT_SUBDIR}/; train first."
            )
        step = steps[-1]
    path = checkpoint_path(model_dir, step)
    if not path.is_file():
        raise InputError(f"{path} does not exist; available steps: {checkpoint_steps(model_dir)}.")
    generator.load_weights(str(path))
    return generator, values, step


def save_generator_checkpoint(
    model_dir: str | Path, generator: Generator, values: dict[str, Any], step: int = 0
) -> Path:
    """Writes config.json and a generator-only checkpoint (tests, and models not yet trained)."""
    write_config(model_dir, values)
    path = checkpoint_path(model_dir, step)
    save_weights_atomically(generator, path)
    return path
