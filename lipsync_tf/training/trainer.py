"""Runs (or resumes) a training job in a model directory.

`train(...)` builds the GAN inside the distribution strategy's scope, restores the latest full
checkpoint in `model_dir` if there is one (step, weights, both optimizers), and calls `fit` with
epochs of `checkpoint_every` steps so each epoch ends with a checkpoint.

With TF_CONFIG (several workers, training/cluster.py) every worker runs this same function: the
workers agree on their flags and on the checkpoint to resume from before any variable exists,
every worker saves (saving may read values that need all workers), but only the chief writes
`model_dir`; the others write to a scratch directory they delete at exit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from lipsync_tf import model_dir as model_dir_lib
from lipsync_tf.config import DataConfig, ModelConfig, TrainConfig
from lipsync_tf.data import reader
from lipsync_tf.errors import ConfigError, LipsyncError
from lipsync_tf.training import callbacks as callbacks_lib
from lipsync_tf.training import cluster as cluster_lib
from lipsync_tf.training import losses
from lipsync_tf.training.gan import TalkingFaceGAN
from lipsync_tf.training.strategy import DEFAULT_PEER_TIMEOUT, make_strategy


class TrainingDivergedError(LipsyncError):
    """A loss became NaN or infinite."""


class PeerLostError(LipsyncError):
    """Another worker of a multi-worker run stopped answering."""


# What a collective raises on the survivors when a peer dies or stops sending heartbeats.
_PEER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.AbortedError,
    tf.errors.DeadlineExceededError,
    tf.errors.CancelledError,
)


@dataclasses.dataclass
class TrainResult:
    step: int
    seconds: float
    frames_per_second: float
    last_logs: dict[str, float]
    validation: list[dict]
    # sha256 of the generator's weights: equal on every worker of a run, and between runs that
    # trained the same steps the same way.
    generator_sha256: str = ""


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
    """The frozen experts that weighted losses run (None for those no loss uses)."""
    from lipsync_tf.training.experts import load_expert

    kinds = {"lip_reader": "lip_reader", "sync_expert": "sync"}
    experts = dict.fromkeys(kinds)
    for loss in losses.active_losses(train):
        if loss.expert:
            experts[loss.expert] = load_expert(getattr(train, loss.expert), kinds[loss.expert])
    return experts


def build_gan(model: ModelConfig, train: TrainConfig) -> TalkingFaceGAN:
    """The compiled GAN with optimizer slots built (call inside a strategy scope)."""
    losses.check_losses(model, train)
    if train.teacher_forcing and not model.mouth_head:
        raise ConfigError("--teacher_forcing needs a model config with mouth_head: true.")
    if train.pretrain_mouth_steps and not model.mouth_head:
        raise ConfigError("--pretrain_mouth_steps needs a model config with mouth_head: true.")
    gan = TalkingFaceGAN.from_configs(model, train, **load_experts(train))
    gan.build()

    def adam(rate, name):
        return keras.optimizers.Adam(rate, beta_1=train.beta_1, beta_2=train.beta_2, name=name)

    gan.compile(
        g_optimizer=adam(train.g_learning_rate, "g_adam"),
        d_optimizer=adam(train.d_learning_rate, "d_adam"),
        mouth_optimizer=(
            adam(train.mouth_d_learning_rate, "mouth_d_adam")
            if train.mouth_d_learning_rate > 0
            else None
        ),
    )
    gan.build_optimizers()
    return gan


def weights_sha256(model) -> str:
    """Hex sha256 over `model`'s weights in order (shape and bytes of each)."""
    digest = hashlib.sha256()
    for weight in model.weights:
        value = weight.numpy()
        digest.update(str(value.shape).encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def restore_step(gan: TalkingFaceGAN, model_dir: str, step: int) -> int:
    """Loads the full checkpoint of `step` (nothing for 0); returns the step it holds."""
    if not step:
        return 0
    gan.load_weights(str(model_dir_lib.checkpoint_path(model_dir, step, "state")))
    return int(gan.step.numpy())


def restore_latest(gan: TalkingFaceGAN, model_dir: str) -> int:
    """Loads the newest full checkpoint; returns its step (0 when starting fresh)."""
    steps = model_dir_lib.checkpoint_steps(model_dir, "state")
    return restore_step(gan, model_dir, steps[-1] if steps else 0)


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


def _check_local_inputs(data: DataConfig, train: TrainConfig, model_dir: str) -> None:
    """Fails at once on what this machine lacks: shards, files named by flags. On a cluster that
    is before joining, so a worker with a local problem stops at once with its own message."""
    reader.shard_files(data.data_dir)
    fresh = not model_dir_lib.checkpoint_steps(model_dir, "state")
    named = {
        "--init_generator": train.init_generator if fresh else "",
        "--lip_reader": train.lip_reader if train.lip_reader_weight > 0 else "",
        "--sync_expert": train.sync_expert if train.sync_weight > 0 else "",
    }
    for flag, path in named.items():
        if path and not Path(path).is_file():
            raise ConfigError(f"{flag} {path} does not exist on this machine.")


def _checkpoint_every(train_config: TrainConfig, model_dir: str) -> int:
    """Steps per epoch (one checkpoint each), after checking the run can end on one."""
    if train_config.train_steps < 1:
        raise ConfigError(f"train_steps must be positive, got {train_config.train_steps}.")
    if "://" in model_dir:
        # Checkpoints are h5 files written under a temporary name and renamed: that needs a file
        # system. pathlib would silently turn "gs://b/run" into a local "gs:/b/run".
        raise ConfigError(
            f"--model_dir {model_dir} is a URL; give a directory path, and for a bucket mount it "
            "on every worker (e.g. Cloud Storage FUSE) and pass the mount's path."
        )
    every = min(train_config.checkpoint_every, train_config.train_steps)
    if train_config.train_steps % every:
        raise ConfigError(
            f"train_steps ({train_config.train_steps}) must be a multiple of checkpoint_every "
            f"({every}) so that the run ends on a checkpoint."
        )
    return every


def _cluster_data(cluster, data: DataConfig, num_cpu_replicas: int) -> DataConfig:
    """`data` as a worker of `cluster` must read it (unchanged without a cluster)."""
    if cluster is None:
        return data
    if num_cpu_replicas > 1:
        raise ConfigError(
            "--num_cpu_replicas splits one process's CPU; with TF_CONFIG each worker runs "
            "one replica per GPU, or one on a CPU-only machine; drop one of the two."
        )
    # Every worker runs the whole input pipeline and keeps its share of each global batch
    # (auto-shard by data), so all must produce the same batches in the same order.
    return dataclasses.replace(data, deterministic=True)


def _strategy_and_start(
    cluster, strategy, num_cpu_replicas, resolved, model_dir, peer_timeout, log
) -> tuple[Any, int | None]:
    """The distribution strategy, and the step the workers agreed to resume from (None: this
    process alone decides, from the latest checkpoint)."""
    if cluster is None:
        return strategy or make_strategy(num_cpu_replicas), None
    with cluster_lib.joining(cluster, peer_timeout):
        strategy = cluster_lib.make_multi_worker_strategy(cluster, peer_timeout)
        start_step = cluster_lib.handshake(cluster, resolved, model_dir, peer_timeout)
    log(
        f"{cluster.name} of {cluster.num_workers} workers joined"
        + ("; writing to " + model_dir if cluster.is_chief else "")
    )
    return strategy, start_step


def _write_dir(cluster, model_dir: str, log) -> str:
    """Where this process writes checkpoints and logs: `model_dir` on the chief. The other
    workers save and log like the chief (saving may need every worker), into a scratch
    directory of their own that goes when they stop."""
    if cluster is None or cluster.is_chief:
        return model_dir
    write_dir = tempfile.mkdtemp(prefix=f"lipsync_{cluster.name.replace(' ', '')}_scratch_")
    log(f"{cluster.name}: checkpoints and logs go to scratch {write_dir} (deleted at exit)")
    return write_dir


def train(
    model: ModelConfig,
    data: DataConfig,
    train_config: TrainConfig,
    model_dir: str,
    num_cpu_replicas: int = 0,
    verbose: int = 1,
    log=print,
    strategy=None,
    peer_timeout: float = DEFAULT_PEER_TIMEOUT,
) -> TrainResult:
    """Trains to `train_config.train_steps`, resuming from `model_dir`'s latest checkpoint.

    With TF_CONFIG in the environment (and no `strategy` given) this process is one worker of a
    cluster; `peer_timeout` bounds how long it waits for the others to join.
    """
    every = _checkpoint_every(train_config, model_dir)
    cluster = cluster_lib.cluster_from_environment() if strategy is None else None
    data = _cluster_data(cluster, data, num_cpu_replicas)
    _check_local_inputs(data, train_config, model_dir)
    saved = _saved_config(model_dir)
    _check_same_model(saved, model_dir, model)
    is_chief = cluster is None or cluster.is_chief
    if is_chief:
        model_dir_lib.remove_leftovers(model_dir)
    strategy, start_step = _strategy_and_start(
        cluster, strategy, num_cpu_replicas, resolved_config(model, data, train_config),
        model_dir, peer_timeout, log,
    )  # fmt: skip
    replicas = strategy.num_replicas_in_sync
    if data.batch_size % replicas:
        raise ConfigError(
            f"batch_size {data.batch_size} does not split evenly over {replicas} replicas."
        )
    write_dir = _write_dir(cluster, model_dir, log)
    try:
        return _train(
            model, data, train_config, model_dir, write_dir, strategy, start_step, every,
            is_chief, saved, verbose, log,
        )  # fmt: skip
    except _PEER_ERRORS as error:
        if cluster is None:
            raise
        good = model_dir_lib.checkpoint_steps(model_dir, "state")
        raise PeerLostError(
            f"{cluster.name} lost contact with another worker ({cluster_lib.first_line(error)}); "
            f"the last complete checkpoint is step {good[-1] if good else 'none'} in {model_dir}; "
            "restart every worker with the same command to resume from it."
        ) from None
    finally:
        if write_dir != model_dir:
            shutil.rmtree(write_dir, ignore_errors=True)


def _build_and_restore(
    model: ModelConfig, train_config: TrainConfig, strategy, model_dir: str, start_step
) -> tuple[TalkingFaceGAN, int]:
    """The GAN built in the strategy's scope and restored from `start_step` (None: the latest
    checkpoint), with this run's learning rates; and the step it holds."""
    # Same seed, same initial weights: a run is reproducible from its config.json.
    keras.utils.set_random_seed(train_config.seed)
    with strategy.scope():
        gan = build_gan(model, train_config)
        if start_step is None:
            start_step = restore_latest(gan, model_dir)
        else:
            start_step = restore_step(gan, model_dir, start_step)
        # The checkpoint holds the optimizers' learning rates too; this run's flags win, so a run
        # can resume with lower ones (as the divergence message advises) and config.json is true.
        gan.g_optimizer.learning_rate = train_config.g_learning_rate
        gan.d_optimizer.learning_rate = train_config.d_learning_rate
        if gan.mouth_optimizer is not None:
            gan.mouth_optimizer.learning_rate = train_config.mouth_d_learning_rate
    return gan, start_step


def _start_fresh(
    gan, model: ModelConfig, data: DataConfig, train_config: TrainConfig, strategy, log
):
    """A new run's head start: another run's generator, then audio-only mouth pretraining."""
    if train_config.init_generator:
        init_generator(gan, train_config.init_generator)
        log(f"Starting from the generator in {train_config.init_generator}.")
    if train_config.pretrain_mouth_steps:
        # A new run's audio encoder and mouth head first learn on audio alone, also when
        # the rest of the generator comes from another run (new speakers, new audio).
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


def _validator(
    model, data, train_config, model_dir, saved, sampling, log_dir, guard, log
) -> callbacks_lib.ValidationAndSamples:
    """The chief's validation callback; writes config.json now and its "metrics" after each
    validation."""
    validation = reader.validation_dataset(data, model.audio, sampling)
    sample_batch = next(iter(reader.training_dataset(data, model.audio, sampling).take(1)))
    # Written once the data is known to be readable, so a run that cannot start leaves
    # nothing. "metrics" holds the latest validation (the model card reads it); a resumed
    # run keeps the previous run's until its own first validation.
    values = resolved_config(model, data, train_config)
    if saved and "metrics" in saved:
        values["metrics"] = saved["metrics"]
    model_dir_lib.write_config(model_dir, values)

    def record_metrics(step: int, metrics: dict[str, float]) -> None:
        if guard.diverged_at is None:
            values["metrics"] = {"validation_step": step} | {
                f"validation_{name}": value for name, value in metrics.items()
            }
            model_dir_lib.write_config(model_dir, values)

    return callbacks_lib.ValidationAndSamples(
        log_dir,
        train_config.validation_every,
        validation,
        sample_batch,
        train_config.validation_batches,
        log=log,
        on_result=record_metrics,
    )


def _train(
    model, data, train_config, model_dir, write_dir, strategy, start_step, every, is_chief,
    saved, verbose, log,
) -> TrainResult:  # fmt: skip
    """`train` once the strategy exists: build, restore, (pretrain), fit."""
    gan, start_step = _build_and_restore(model, train_config, strategy, model_dir, start_step)
    if start_step >= train_config.train_steps:
        log(f"{model_dir} is already trained to step {start_step}; nothing to do.")
        return TrainResult(start_step, 0.0, 0.0, {}, [], weights_sha256(gan.generator))
    log(f"Training on {strategy.num_replicas_in_sync} replica(s).")
    if start_step:
        log(f"Resuming from step {start_step} in {model_dir}.")
    else:
        _start_fresh(gan, model, data, train_config, strategy, log)

    sampling = reader.SamplingSpec(
        noise_dim=model.noise_dim,
        noise_std=model.noise_std,
        frame_samples=train_config.frame_samples,
    )
    dataset = reader.training_dataset(data, model.audio, sampling, skip_batches=start_step)
    log_dir = str(Path(write_dir) / "logs")
    guard = callbacks_lib.NonFiniteGuard()
    frames_per_step = data.batch_size * data.window_frames
    callbacks = [
        guard,
        callbacks_lib.CheckpointSaver(write_dir, train_config.keep_checkpoints, guard),
        callbacks_lib.ScalarLogger(log_dir, train_config.summary_every, frames_per_step),
    ]
    validator = None
    if is_chief:
        # Validation only informs the chief's TensorBoard and config.json: the others skip it
        # (it involves no collective) and wait for the chief at the next step's all-reduce.
        validator = _validator(
            model, data, train_config, model_dir, saved, sampling, log_dir, guard, log
        )
        callbacks.append(validator)
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
    last_logs = {k: float(np.asarray(v[-1]).reshape(())) for k, v in history.history.items()}
    return TrainResult(
        step=step,
        seconds=seconds,
        frames_per_second=done * frames_per_step / max(seconds, 1e-9),
        last_logs=last_logs,
        validation=validator.history if validator is not None else [],
        generator_sha256=weights_sha256(gan.generator),
    )
