"""Runs (or resumes) a training job in a model directory.

`train(...)` builds the GAN inside the distribution strategy's scope, restores the latest full
checkpoint in `model_dir` if there is one (step, weights, both optimizers), and calls `fit` with
epochs of `checkpoint_every` steps so each epoch ends with a checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import keras

from lipsync_tf import model_dir as model_dir_lib
from lipsync_tf.config import DataConfig, ModelConfig, TrainConfig
from lipsync_tf.data import reader
from lipsync_tf.errors import ConfigError, LipsyncError
from lipsync_tf.training import callbacks as callbacks_lib
from lipsync_tf.training.gan import TalkingFaceGAN
from lipsync_tf.training.strategy import make_strategy


class TrainingDivergedError(LipsyncError):
    """A loss became NaN or infinite."""


@dataclasses.dataclass
class TrainResult:
    step: int
    seconds: float
    frames_per_second: float
    last_logs: dict[str, float]
    validation: list[dict]


def resolved_config(model: ModelConfig, data: DataConfig, train: TrainConfig) -> dict[str, Any]:
    return {
        "model": model.to_dict(),
        "data": dataclasses.asdict(data),
        "train": dataclasses.asdict(train),
    }


def _saved_config(model_dir: str) -> dict[str, Any] | None:
    """The config.json an earlier run wrote in `model_dir`, or None."""
    path = Path(model_dir) / model_dir_lib.CONFIG_NAME
    return json.loads(path.read_text()) if path.is_file() else None


def _check_same_model(saved: dict[str, Any] | None, model_dir: str, model: ModelConfig) -> None:
    if saved is None:
        return
    if ModelConfig.from_dict(saved["model"]) != model:
        raise ConfigError(
            f"{model_dir} holds a model with a different architecture (see its config.json); "
            "resume with the same config or use a new --model_dir."
        )


def load_experts(train: TrainConfig) -> dict:
    """The frozen experts `train` names (None for those it does not use)."""
    from lipsync_tf.training.experts import load_expert

    experts = {"lip_reader": None, "sync_expert": None}
    if train.lip_reader_weight > 0:
        if not train.lip_reader:
            raise ConfigError("--lip_reader_weight needs --lip_reader (a bin/train_expert file).")
        experts["lip_reader"] = load_expert(train.lip_reader, "lip_reader")
    if train.sync_weight > 0:
        if not train.sync_expert:
            raise ConfigError("--sync_weight needs --sync_expert (a bin/train_expert file).")
        experts["sync_expert"] = load_expert(train.sync_expert, "sync")
    return experts


def build_gan(model: ModelConfig, train: TrainConfig) -> TalkingFaceGAN:
    """The compiled GAN with optimizer slots built (call inside a strategy scope)."""
    if (train.mouth_head_weight or train.teacher_forcing) and not model.mouth_head:
        raise ConfigError(
            "--mouth_head_weight and --teacher_forcing need a model config with mouth_head: true."
        )
    if train.pretrain_mouth_steps and not model.mouth_head:
        raise ConfigError("--pretrain_mouth_steps needs a model config with mouth_head: true.")
    if train.mask_weight and not model.blend_mask:
        raise ConfigError("--mask_weight needs a model config with blend_mask: true.")
    gan = TalkingFaceGAN.from_configs(model, train, **load_experts(train))
    gan.build()
    gan.compile(
        g_optimizer=keras.optimizers.Adam(
            train.g_learning_rate, beta_1=train.beta_1, beta_2=train.beta_2, name="g_adam"
        ),
        d_optimizer=keras.optimizers.Adam(
            train.d_learning_rate, beta_1=train.beta_1, beta_2=train.beta_2, name="d_adam"
        ),
    )
    gan.build_optimizers()
    return gan


def restore_latest(gan: TalkingFaceGAN, model_dir: str) -> int:
    """Loads the newest full checkpoint; returns its step (0 when starting fresh)."""
    steps = model_dir_lib.checkpoint_steps(model_dir, "state")
    if not steps:
        return 0
    gan.load_weights(str(model_dir_lib.checkpoint_path(model_dir, steps[-1], "state")))
    return int(gan.step.numpy())


def init_generator(gan: TalkingFaceGAN, path: str) -> None:
    """Loads a generator-N.weights.h5 into a fresh run's generator (discriminators start anew)."""
    if not Path(path).is_file():
        raise ConfigError(f"--init_generator {path} does not exist; pass a generator-N.weights.h5.")
    try:
        gan.generator.load_weights(path)
    except ValueError as error:
        raise ConfigError(
            f"--init_generator {path} does not fit this model config ({error}); use a checkpoint "
            "trained with the same --model_config."
        ) from None


def train(
    model: ModelConfig,
    data: DataConfig,
    train_config: TrainConfig,
    model_dir: str,
    num_cpu_replicas: int = 0,
    verbose: int = 1,
    log=print,
    strategy=None,
) -> TrainResult:
    if train_config.train_steps < 1:
        raise ConfigError(f"train_steps must be positive, got {train_config.train_steps}.")
    every = min(train_config.checkpoint_every, train_config.train_steps)
    if train_config.train_steps % every:
        raise ConfigError(
            f"train_steps ({train_config.train_steps}) must be a multiple of checkpoint_every "
            f"({every}) so that the run ends on a checkpoint."
        )
    saved = _saved_config(model_dir)
    _check_same_model(saved, model_dir, model)
    strategy = strategy or make_strategy(num_cpu_replicas)
    replicas = strategy.num_replicas_in_sync
    if data.batch_size % replicas:
        raise ConfigError(
            f"batch_size {data.batch_size} does not split evenly over {replicas} replicas."
        )
    # Same seed, same initial weights: a run is reproducible from its config.json.
    keras.utils.set_random_seed(train_config.seed)
    with strategy.scope():
        gan = build_gan(model, train_config)
        start_step = restore_latest(gan, model_dir)
        # The checkpoint holds the optimizers' learning rates too; this run's flags win, so a run
        # can resume with lower ones (as the divergence message advises) and config.json is true.
        gan.g_optimizer.learning_rate = train_config.g_learning_rate
        gan.d_optimizer.learning_rate = train_config.d_learning_rate
    if start_step >= train_config.train_steps:
        log(f"{model_dir} is already trained to step {start_step}; nothing to do.")
        return TrainResult(start_step, 0.0, 0.0, {}, [])
    log(f"Training on {replicas} replica(s).")
    if start_step:
        log(f"Resuming from step {start_step} in {model_dir}.")
    elif train_config.init_generator:
        init_generator(gan, train_config.init_generator)
        log(f"Starting from the generator in {train_config.init_generator}.")
    elif train_config.pretrain_mouth_steps:
        from lipsync_tf.training.pretrain import pretrain_mouth_head

        pretrain_mouth_head(
            gan.generator,
            data,
            model.audio,
            train_config.pretrain_mouth_steps,
            train_config.pretrain_batch_size,
            train_config.g_learning_rate,
            strategy,
            log,
        )

    sampling = reader.SamplingSpec(
        noise_dim=model.noise_dim,
        noise_std=model.noise_std,
        frame_samples=train_config.frame_samples,
    )
    dataset = reader.training_dataset(data, model.audio, sampling, skip_batches=start_step)
    validation = reader.validation_dataset(data, model.audio, sampling)
    sample_batch = next(iter(reader.training_dataset(data, model.audio, sampling).take(1)))
    # Written once the data is known to be readable, so a run that cannot start leaves nothing.
    # "metrics" holds the latest validation (the model card reads it); a resumed run keeps the
    # previous run's until its own first validation.
    values = resolved_config(model, data, train_config)
    if saved and "metrics" in saved:
        values["metrics"] = saved["metrics"]
    model_dir_lib.write_config(model_dir, values)
    guard = callbacks_lib.NonFiniteGuard()

    def record_metrics(step: int, metrics: dict[str, float]) -> None:
        if guard.diverged_at is None:
            values["metrics"] = {"validation_step": step} | {
                f"validation_{name}": value for name, value in metrics.items()
            }
            model_dir_lib.write_config(model_dir, values)

    log_dir = str(Path(model_dir) / "logs")
    validator = callbacks_lib.ValidationAndSamples(
        log_dir,
        train_config.validation_every,
        validation,
        sample_batch,
        train_config.validation_batches,
        log=log,
        on_result=record_metrics,
    )
    frames_per_step = data.batch_size * data.window_frames
    callbacks = [
        guard,
        callbacks_lib.CheckpointSaver(model_dir, train_config.keep_checkpoints, guard),
        callbacks_lib.ScalarLogger(log_dir, train_config.summary_every, frames_per_step),
        validator,
    ]
    started = time.perf_counter()
    history = gan.fit(
        dataset,
        epochs=train_config.train_steps // every,
        initial_epoch=start_step // every,
        steps_per_epoch=every,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # the dataset shuffles itself (seeded)
    )
    seconds = time.perf_counter() - started
    if guard.diverged_at is not None:
        good = model_dir_lib.checkpoint_steps(model_dir, "state")
        raise TrainingDivergedError(
            f"loss became non-finite at step {guard.diverged_at} ({guard.bad_losses}); the last "
            f"good checkpoint (step {good[-1] if good else 'none'}) is kept in {model_dir}; "
            "lower the learning rates or the L1 weight and resume."
        )
    step = int(gan.step.numpy())
    done = step - start_step
    last_logs = {k: float(v[-1]) for k, v in history.history.items()}
    return TrainResult(
        step=step,
        seconds=seconds,
        frames_per_second=done * frames_per_step / max(seconds, 1e-9),
        last_logs=last_logs,
        validation=validator.history,
    )
