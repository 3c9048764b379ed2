"""Callbacks that make a training run safe and observable.

- `CheckpointSaver`: every `checkpoint_every` steps (Keras epochs are that long) writes the full
  training state and the generator's weights, atomically, keeping the last K.
- `NonFiniteGuard`: stops at the first NaN/Inf loss; the checkpoint of that epoch is not written,
  so the last good one survives.
- `ScalarLogger`: learning rates and throughput (frames/s) for TensorBoard.
- `ValidationAndSamples`: L1 / PSNR on held-out speakers and still | generated | real strips.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from lipsync_tf import model_dir as model_dir_lib
from lipsync_tf.face_geometry import LOWER_FACE_ROWS, lip_gap


class NonFiniteGuard(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.diverged_at: int | None = None
        self.bad_losses: dict[str, float] = {}

    def on_train_batch_end(self, batch, logs=None):
        bad = {k: float(v) for k, v in (logs or {}).items() if not math.isfinite(float(v))}
        if bad and self.diverged_at is None:
            self.diverged_at = int(self.model.step.numpy())
            self.bad_losses = bad
            self.model.stop_training = True


class CheckpointSaver(keras.callbacks.Callback):
    def __init__(self, model_dir: str, keep: int, guard: NonFiniteGuard):
        super().__init__()
        self.model_dir = model_dir
        self.keep = keep
        self.guard = guard

    def on_epoch_end(self, epoch, logs=None):
        if self.guard.diverged_at is not None:
            return
        step = int(self.model.step.numpy())
        save_checkpoint(self.model, self.model_dir, step, self.keep)


def save_checkpoint(gan, model_dir: str, step: int, keep: int) -> None:
    """Writes state-N and generator-N (generator last: its presence marks a complete pair)."""
    model_dir_lib.save_weights_atomically(
        gan, model_dir_lib.checkpoint_path(model_dir, step, "state")
    )
    model_dir_lib.save_weights_atomically(
        gan.generator, model_dir_lib.checkpoint_path(model_dir, step, "generator")
    )
    for kind in ("state", "generator"):
        for old in model_dir_lib.checkpoint_steps(model_dir, kind)[:-keep]:
            model_dir_lib.checkpoint_path(model_dir, old, kind).unlink(missing_ok=True)


class ScalarLogger(keras.callbacks.Callback):
    """Losses, learning rates and frames/s every `every` steps to TensorBoard."""

    def __init__(self, log_dir: str, every: int, frames_per_step: int):
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(Path(log_dir) / "train"))
        self.every = every
        self.frames_per_step = frames_per_step
        self._start = None
        self._start_step = 0

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()
        self._start_step = int(self.model.step.numpy())

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.step.numpy())
        if step % self.every:
            return
        elapsed = time.perf_counter() - self._start
        rate = (step - self._start_step) * self.frames_per_step / max(elapsed, 1e-9)
        with self.writer.as_default(step=step):
            for name, value in (logs or {}).items():
                tf.summary.scalar(f"loss/{name}", float(value))
            tf.summary.scalar(
                "lr/generator", float(np.asarray(self.model.g_optimizer.learning_rate))
            )
            tf.summary.scalar(
                "lr/discriminator", float(np.asarray(self.model.d_optimizer.learning_rate))
            )
            tf.summary.scalar("throughput/frames_per_second", rate)
        self.writer.flush()
        self._start, self._start_step = time.perf_counter(), step


def psnr(generated: np.ndarray, real: np.ndarray) -> float:
    """PSNR in dB of images in [-1, 1] (mapped to [0, 255])."""
    mse = np.mean(((generated - real) * 127.5) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def sample_strip(still: np.ndarray, generated: np.ndarray, real: np.ndarray, max_frames=8):
    """One image: top row still | generated frames, bottom row still | real frames, uint8."""
    idx = np.linspace(0, generated.shape[0] - 1, min(max_frames, generated.shape[0])).astype(int)
    top = np.concatenate([still, *generated[idx]], axis=1)
    bottom = np.concatenate([still, *real[idx]], axis=1)
    image = np.concatenate([top, bottom], axis=0)
    return np.clip((image + 1) * 127.5, 0, 255).astype(np.uint8)


def evaluate_generator(gan, dataset, max_batches: int):
    """Mean L1 and PSNR of generated vs real frames, and the first example for a sample strip.

    Also `audio_sensitivity`: how much the lower face changes (mean |difference|, [-1, 1] scale)
    when the same clip's audio from elsewhere drives the generator. Near zero means the generator
    ignores the audio and cannot lip-sync, whatever its L1. With a mouth head, `head_mouth_r`:
    the correlation of the head's mouth opening with the face mesh's on the real frames; with a
    lip reader, `reader_mouth_r`: the same for the mouth the reader sees in the generated frames
    (means over examples; cheap stand-ins for bin/evaluate's mouth-opening r).
    """
    l1s, psnrs, sensitivity, first = [], [], [], None
    head_r, reader_r = [], []
    for batch in dataset.take(max_batches):
        outputs = gan.generate_all(batch, training=False)
        generated = outputs["frames"].numpy()
        offsync = gan.generate(dict(batch, audio=batch["offsync_audio"]), training=False).numpy()
        sensitivity.append(float(np.mean(np.abs(generated - offsync)[:, :, LOWER_FACE_ROWS])))
        real = batch["frames"].numpy()
        for g, r in zip(generated, real, strict=True):
            l1s.append(float(np.mean(np.abs(g - r))))
            psnrs.append(psnr(g, r))
        opening = batch["mouth_opening"].numpy()
        if outputs["mouth_shape"] is not None:
            shapes = outputs["mouth_shape"].numpy().reshape(*opening.shape, -1, 2)
            head_r += [_pearson(lip_gap(s), o) for s, o in zip(shapes, opening, strict=True)]
        if gan.lip_reader is not None:
            seen = gan.lip_reader(generated.reshape(-1, *generated.shape[2:]), training=False)
            seen = seen.numpy().reshape(*opening.shape, -1, 2)
            reader_r += [_pearson(lip_gap(s), o) for s, o in zip(seen, opening, strict=True)]
        if first is None:
            first = (batch["still"].numpy()[0], generated[0], real[0])
    if not l1s:
        return None
    metrics = {
        "l1": float(np.mean(l1s)),
        "psnr": float(np.mean(psnrs)),
        "audio_sensitivity": float(np.mean(sensitivity)),
    }
    if head_r:
        metrics["head_mouth_r"] = float(np.mean(head_r))
    if reader_r:
        metrics["reader_mouth_r"] = float(np.mean(reader_r))
    return metrics, first


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) == 0 or np.std(b) == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


class ValidationAndSamples(keras.callbacks.Callback):
    """Every `every` steps: validation L1/PSNR (held-out speakers) and a sample strip."""

    def __init__(
        self, log_dir, every, validation, sample_batch, max_batches, log=print, on_result=None
    ):
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(Path(log_dir) / "validation"))
        self.every = every
        self.validation = validation
        self.sample_batch = sample_batch
        self.max_batches = max_batches
        self.log = log
        self.on_result = on_result  # called with (step, metrics) after each validation
        self.history: list[dict] = []

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.step.numpy())
        if step % self.every == 0:
            self.run(step)

    def run(self, step: int) -> None:
        with self.writer.as_default(step=step):
            if self.validation is not None:
                result = evaluate_generator(self.model, self.validation, self.max_batches)
                if result is not None:
                    metrics, first = result
                    tf.summary.scalar("validation/l1", metrics["l1"])
                    tf.summary.scalar("validation/psnr", metrics["psnr"])
                    for name in ("audio_sensitivity", "head_mouth_r", "reader_mouth_r"):
                        if name in metrics:
                            tf.summary.scalar(f"validation/{name}", metrics[name])
                    tf.summary.image("samples/validation", sample_strip(*first)[None])
                    self.history.append({"step": step, **metrics})
                    if self.on_result is not None:
                        self.on_result(step, metrics)
                    mouth = "".join(
                        f", {name.replace('_', ' ')} {metrics[name]:.3f}"
                        for name in ("head_mouth_r", "reader_mouth_r")
                        if name in metrics
                    )
                    self.log(
                        f"step {step}: validation L1 {metrics['l1']:.4f}, "
                        f"PSNR {metrics['psnr']:.2f} dB, "
                        f"audio sensitivity {metrics['audio_sensitivity']:.4f}{mouth}"
                    )
            if self.sample_batch is not None:
                generated = self.model.generate(self.sample_batch, training=False).numpy()
                strip = sample_strip(
                    self.sample_batch["still"].numpy()[0],
                    generated[0],
                    self.sample_batch["frames"].numpy()[0],
                )
                tf.summary.image("samples/train", strip[None])
        self.writer.flush()
