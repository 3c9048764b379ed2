"""Trains the two frozen experts the generator can learn from, on real clips only.

- `LipReader` (models/lip_reader.py): crop -> normalised lip landmarks, regressed onto the face
  mesh's. Generated frames are blurrier than real ones, so half the training crops are blurred.
- `LipLocator` (models/lip_locator.py): crop -> the face mesh's `RIG_POINTS` in crop pixels,
  regressed onto the face mesh run on each training crop as the data pipeline frames it (so at
  every framing `--jitter*` draws); for the in-graph photo-lip rig of the serving signatures.
- `SyncExpert` (models/sync_expert.py): 5 frames of mouth + their MFCC windows -> in sync or not;
  negatives are the same frames with the same clip's audio at least `offsync_min_frames` away.

Both read the same TFRecords and the same speaker split as the GAN (data/reader.py), and report
their numbers on the held-out speakers: the lip reader's mean landmark error and the correlation
of its mouth opening with the face mesh's; the sync expert's accuracy at telling in-sync from
shifted audio. Each is saved as one `.keras` file (architecture and weights) with a JSON report
beside it.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from lipsync_tf.config import AudioFeatureConfig, DataConfig, option
from lipsync_tf.data import reader
from lipsync_tf.errors import ConfigError
from lipsync_tf.face_geometry import (
    LIP_SHAPE_SCALE,
    LIPS,
    LOWER_INNER_LIP,
    MIN_FACE_SCORE,
    RIG_POINTS,
    UPPER_INNER_LIP,
    lip_gap,
)
from lipsync_tf.models.lip_locator import LipLocator
from lipsync_tf.models.lip_reader import LipReader
from lipsync_tf.models.sync_expert import SYNC_FRAMES, SyncExpert

EXPERT_KINDS = ("lip_reader", "sync", "lip_locator")


@dataclasses.dataclass(frozen=True)
class ExpertTrainConfig:
    """What `bin/train_expert` trains and how (every field is one of its flags)."""

    kind: str = option("lip_reader", "Which expert to train.", choices=EXPERT_KINDS)
    steps: int = option(3000, "Training steps.")
    learning_rate: float = option(1e-3, "Adam learning rate.")
    cosine_decay: bool = option(
        False, "Lower the learning rate to zero over the steps along a cosine (fine positions)."
    )
    batch_size: int = option(
        16, "Clips per batch (lip reader; each gives window_frames crops) or pairs (sync)."
    )
    seed: int = option(0, "Seed of every random choice.")

    def __post_init__(self) -> None:
        if self.kind not in EXPERT_KINDS:
            raise ConfigError(f"expert kind must be one of {EXPERT_KINDS}, not {self.kind!r}.")
        if self.steps < 1:
            raise ConfigError(f"expert steps must be positive, got {self.steps}.")


def _optimizer(config: ExpertTrainConfig) -> keras.optimizers.Optimizer:
    rate = config.learning_rate
    if config.cosine_decay:
        rate = keras.optimizers.schedules.CosineDecay(rate, config.steps)
    return keras.optimizers.Adam(rate)


def _l1_step(model: keras.Model, optimizer: keras.optimizers.Optimizer):
    """One training step of a crop regressor: `step(crops, targets, valid)` lowers the mean
    absolute error of model(crops) against targets [n, points, 2] over the crops whose `valid`
    is 1 (the face mesh trusted them), and returns that error."""

    @tf.function
    def step(crops, targets, valid):
        with tf.GradientTape() as tape:
            error = tf.reduce_mean(tf.abs(model(crops, training=True) - targets), axis=[1, 2])
            loss = tf.reduce_sum(error * valid) / tf.maximum(tf.reduce_sum(valid), 1.0)
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    return step


def _random_blur(frames: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Blurs each of frames [n, H, W, 3] with probability 1/2, Gaussian sigma in [0.5, 2]."""
    n = tf.shape(frames)[0]
    sigma = tf.random.stateless_uniform([n], seed, 0.5, 2.0)
    keep = tf.random.stateless_uniform([n], seed + 1) < 0.5
    radius = 4
    offsets = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-(offsets[None, :] ** 2) / (2 * sigma[:, None] ** 2))
    kernel = kernel / tf.reduce_sum(kernel, axis=1, keepdims=True)  # [n, 9]
    # Separable blur as a depthwise conv per image: images become channels of one batch item.
    images = tf.transpose(frames, [3, 1, 2, 0])  # [3, H, W, n]
    horizontal = tf.reshape(tf.transpose(kernel), [1, 2 * radius + 1, n, 1])
    vertical = tf.reshape(tf.transpose(kernel), [2 * radius + 1, 1, n, 1])
    padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], "SYMMETRIC")
    blurred = tf.nn.depthwise_conv2d(padded, horizontal, [1, 1, 1, 1], "VALID")
    blurred = tf.nn.depthwise_conv2d(blurred, vertical, [1, 1, 1, 1], "VALID")
    blurred = tf.transpose(blurred, [3, 1, 2, 0])
    return tf.where(keep[:, None, None, None], frames, blurred)


def _lip_reader_batches(data: DataConfig, audio: AudioFeatureConfig, seed: int):
    """(crops [n, 128, 96, 3], lips [n, 40, 2], valid [n]) from training windows, half blurred."""
    windows = reader.training_dataset(data, audio)

    def flatten(batch, index):
        crops = tf.reshape(batch["frames"], [-1, *batch["frames"].shape[2:]])
        crops = _random_blur(crops, tf.stack([tf.cast(index, tf.int32), seed]))
        lips = tf.reshape(batch["lips"], [-1, *batch["lips"].shape[2:]])
        return crops, lips, tf.reshape(batch["lips_valid"], [-1])

    return windows.enumerate().map(lambda i, b: flatten(b, i))


def train_lip_reader(data: DataConfig, audio: AudioFeatureConfig, config: ExpertTrainConfig, log):
    model = LipReader(name="lip_reader")
    model.build()
    step = _l1_step(model, _optimizer(config))

    data = dataclasses.replace(data, window_frames=4, batch_size=config.batch_size)
    started = time.perf_counter()
    for index, (crops, lips, valid) in enumerate(
        _lip_reader_batches(data, audio, config.seed).take(config.steps), start=1
    ):
        loss = step(crops, lips, valid)
        if index % 100 == 0 or index == config.steps:
            seconds = time.perf_counter() - started
            log(f"lip reader step {index}: L1 {float(loss):.4f} ({seconds:.0f} s)")
    return model


def _mesh_points(crops: np.ndarray, mesh) -> tuple[np.ndarray, np.ndarray]:
    """The face mesh on crops float32 [n, 128, 96, 3] in [-1, 1] -> (RIG_POINTS float32
    [n, K, 2] crop pixels, trusted float32 [n])."""
    images = np.clip(np.round((crops + 1.0) * 127.5), 0, 255).astype(np.uint8)
    found = [mesh.image(image) for image in images]
    points = np.stack([p[list(RIG_POINTS), :2] for p, _ in found]).astype(np.float32)
    trusted = np.array([score >= MIN_FACE_SCORE for _, score in found], np.float32)
    return points, trusted


def train_lip_locator(data: DataConfig, audio: AudioFeatureConfig, config: ExpertTrainConfig, log):
    """The lip locator, on training crops framed and mirrored as `data` says, against the face
    mesh on those very crops (crops where it finds no face do not count)."""
    from lipsync_tf.preprocessing.landmarks import FaceMesh

    mesh = FaceMesh()
    model = LipLocator(name="lip_locator")
    model.build()
    step = _l1_step(model, _optimizer(config))

    def with_points(crops, lips, valid):
        points, trusted = tf.numpy_function(
            lambda c: _mesh_points(c, mesh), [crops], [tf.float32, tf.float32]
        )
        points = tf.ensure_shape(points, [None, len(RIG_POINTS), 2])
        return crops, points, tf.ensure_shape(trusted, [None])

    data = dataclasses.replace(data, window_frames=2, batch_size=config.batch_size)
    batches = _lip_reader_batches(data, audio, config.seed).map(with_points).prefetch(2)
    started = time.perf_counter()
    for index, (crops, points, valid) in enumerate(batches.take(config.steps), start=1):
        loss = step(crops, points, valid)
        if index % 100 == 0 or index == config.steps:
            seconds = time.perf_counter() - started
            log(f"lip locator step {index}: L1 {float(loss):.3f} px ({seconds:.0f} s)")
    return model


def evaluate_lip_locator(model: LipLocator, clips, max_clips: int = 200) -> dict:
    """Held-out error against the face mesh on real crops at our framing, in crop pixels: all
    points, the 40 lip points, and the inner-lip gap (points 13-14), over `max_clips` clips."""
    from lipsync_tf.preprocessing.landmarks import FaceMesh

    mesh = FaceMesh()
    lips = [RIG_POINTS.index(k) for k in LIPS]
    upper, lower = RIG_POINTS.index(UPPER_INNER_LIP), RIG_POINTS.index(LOWER_INNER_LIP)
    errors, lip_errors, gap_errors = [], [], []
    for clip in itertools.islice(clips, max_clips):
        truth, trusted = _mesh_points(clip["frames"], mesh)
        predicted = model(clip["frames"], training=False).numpy()
        keep = trusted > 0
        if not keep.any():
            continue
        distance = np.linalg.norm(predicted - truth, axis=-1)[keep]
        errors.append(float(distance.mean()))
        lip_errors.append(float(distance[:, lips].mean()))
        gap = predicted[:, lower, 1] - predicted[:, upper, 1]
        true_gap = truth[:, lower, 1] - truth[:, upper, 1]
        gap_errors.append(float(np.abs(gap - true_gap)[keep].mean()))
    if not errors:  # the face mesh found no face in any held-out crop
        return {"clips": 0, "point_error_px": None, "lip_point_error_px": None,
                "inner_lip_gap_error_px": None}  # fmt: skip
    return {
        "clips": len(errors),
        "point_error_px": float(np.mean(errors)),
        "lip_point_error_px": float(np.mean(lip_errors)),
        "inner_lip_gap_error_px": float(np.mean(gap_errors)),
    }


def _sync_pairs(batch, seed):
    """Random SYNC_FRAMES-frame sub-windows of a batch, each once in sync and once shifted."""
    frames, audio, offsync = batch["frames"], batch["audio"], batch["offsync_audio"]
    window = tf.shape(frames)[1]
    start = tf.random.stateless_uniform([], seed, 0, window - SYNC_FRAMES + 1, tf.int32)
    frames = frames[:, start : start + SYNC_FRAMES]
    audio = audio[:, start : start + SYNC_FRAMES]
    offsync = offsync[:, start : start + SYNC_FRAMES]
    both_frames = tf.concat([frames, frames], axis=0)
    both_audio = tf.concat([audio, offsync], axis=0)
    labels = tf.concat([tf.ones(tf.shape(frames)[:1]), tf.zeros(tf.shape(frames)[:1])], axis=0)
    return both_frames, both_audio, labels


def train_sync_expert(data: DataConfig, audio: AudioFeatureConfig, config: ExpertTrainConfig, log):
    model = SyncExpert(audio_window=(audio.window_frames, audio.n_mfcc), name="sync_expert")
    model.build()
    optimizer = _optimizer(config)

    @tf.function
    def step(frames, audio_windows, labels):
        with tf.GradientTape() as tape:
            logits = model((frames, audio_windows), training=True)
            loss = tf.reduce_mean(
                tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
            )
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        accuracy = tf.reduce_mean(tf.cast((logits > 0) == (labels > 0.5), tf.float32))
        return loss, accuracy

    data = dataclasses.replace(data, window_frames=2 * SYNC_FRAMES, batch_size=config.batch_size)
    batches = reader.training_dataset(data, audio).enumerate()
    batches = batches.map(
        lambda i, b: _sync_pairs(b, tf.stack([tf.cast(i, tf.int32), config.seed]))
    )
    started = time.perf_counter()
    for index, (frames, audio_windows, labels) in enumerate(batches.take(config.steps), start=1):
        loss, accuracy = step(frames, audio_windows, labels)
        if index % 100 == 0 or index == config.steps:
            log(
                f"sync expert step {index}: loss {float(loss):.4f}, batch accuracy "
                f"{float(accuracy):.2f} ({time.perf_counter() - started:.0f} s)"
            )
    return model


def held_out_clips(data: DataConfig, audio: AudioFeatureConfig):
    """Every held-out clip whole: dicts of frames [T, 128, 96, 3] in [-1, 1], audio MFCC
    windows [T, window, n_mfcc], lips [T, 40, 2], mouth opening [T] and valid [T] (numpy)."""
    from lipsync_tf.audio.mfcc import MfccWindows

    held_out = reader.validation_speakers(data)
    if not held_out:
        raise ConfigError("no validation speakers: set --validation_speakers to measure experts.")
    mfcc = MfccWindows(audio)
    for clip in reader.parsed_clips(data, held_out, keep=True, min_frames=SYNC_FRAMES):
        frames = reader.decode_frames(clip["frames"]).numpy()
        windows = mfcc(clip["audio"][None])[0].numpy()
        count = min(len(frames), len(windows))
        yield {
            "clip_id": clip["clip_id"].numpy().decode(),
            "frames": frames[:count],
            "audio": windows[:count],
            "lips": clip["lip_landmarks"].numpy()[:count],
            "opening": clip["mouth_opening"].numpy()[:count],
            "valid": clip["landmark_scores"].numpy()[:count] >= 0.5,
        }


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or np.std(a) == 0 or np.std(b) == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def evaluate_lip_reader(model: LipReader, clips) -> dict:
    """Held-out mean landmark error (units of LIP_SHAPE_SCALE) and mouth-opening r per clip."""
    errors, correlations = [], []
    for clip in clips:
        predicted = np.concatenate(
            [model(clip["frames"][i : i + 64], training=False).numpy()
             for i in range(0, len(clip["frames"]), 64)]
        )  # fmt: skip
        valid = clip["valid"]
        errors.append(float(np.abs(predicted - clip["lips"])[valid].mean()) / LIP_SHAPE_SCALE)
        correlations.append(pearson(lip_gap(predicted)[valid], clip["opening"][valid]))
    return {
        "clips": len(errors),
        "lip_error_in_shape_units": float(np.mean(errors)),
        "mouth_opening_r": float(np.mean(correlations)),
    }


def evaluate_sync_expert(model: SyncExpert, clips, min_shift: int, seed: int = 0) -> dict:
    """Held-out accuracy at telling in-sync from shifted audio: every SYNC_FRAMES-frame window
    of every clip, once with its own audio and once with the clip's audio `min_shift` or more
    frames away (random side and distance)."""
    rng = np.random.default_rng(seed)
    correct, total, margins = 0, 0, []
    for clip in clips:
        count = len(clip["frames"])
        starts = [s for s in range(0, count - SYNC_FRAMES + 1, SYNC_FRAMES)]
        for start in starts:
            choices = [s for s in range(count - SYNC_FRAMES + 1) if abs(s - start) >= min_shift]
            if not choices:
                continue
            shifted = int(rng.choice(choices))
            frames = clip["frames"][None, start : start + SYNC_FRAMES]
            frames = np.concatenate([frames, frames])
            audio = np.stack(
                [clip["audio"][start : start + SYNC_FRAMES],
                 clip["audio"][shifted : shifted + SYNC_FRAMES]]
            )  # fmt: skip
            in_sync, off_sync = model((frames, audio), training=False).numpy()
            correct += int(in_sync > 0) + int(off_sync <= 0)
            total += 2
            margins.append(float(in_sync - off_sync))
    return {
        "pairs": total,
        "accuracy": correct / max(total, 1),
        "ranking_accuracy": float(np.mean(np.array(margins) > 0)) if margins else 0.0,
    }


def train_expert(
    data: DataConfig,
    audio: AudioFeatureConfig,
    config: ExpertTrainConfig,
    output: str,
    log=print,
) -> dict:
    """Trains one expert, measures it on the held-out speakers, writes `output` (.keras) and
    `output`.json (settings and held-out numbers) atomically; returns the report."""
    if not output.endswith(".keras"):
        raise ConfigError(f"--output must end in .keras, got {output!r}.")
    keras.utils.set_random_seed(config.seed)
    started = time.perf_counter()
    if config.kind == "lip_reader":
        model = train_lip_reader(data, audio, config, log)
        held_out = evaluate_lip_reader(model, held_out_clips(data, audio))
    elif config.kind == "lip_locator":
        model = train_lip_locator(data, audio, config, log)
        held_out = evaluate_lip_locator(model, held_out_clips(data, audio))
    else:
        model = train_sync_expert(data, audio, config, log)
        held_out = evaluate_sync_expert(
            model, held_out_clips(data, audio), data.offsync_min_frames, config.seed
        )
    report = {
        "kind": config.kind,
        "train": dataclasses.asdict(config),
        "data": dataclasses.asdict(data),
        "train_seconds": round(time.perf_counter() - started, 1),
        "held_out": held_out,
    }
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    model.save(str(temp))
    os.replace(temp, path)
    json_path = path.with_name(path.name + ".json")
    temp_json = json_path.with_name(f".tmp-{os.getpid()}-{json_path.name}")
    temp_json.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(temp_json, json_path)
    log(f"held-out: {json.dumps(held_out)}")
    return report


def load_expert(path: str, kind: str) -> keras.Model:
    """A frozen expert from its .keras file, checked to be of `kind`."""
    if not Path(path).is_file():
        raise ConfigError(f"expert {path} does not exist; train it with bin/train_expert.")
    model = keras.saving.load_model(path, compile=False)
    expected = {"lip_reader": LipReader, "lip_locator": LipLocator}.get(kind, SyncExpert)
    if not isinstance(model, expected):
        raise ConfigError(f"{path} holds a {type(model).__name__}, not a {expected.__name__}.")
    model.trainable = False
    return model
