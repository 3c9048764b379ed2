"""Audio-only pretraining of the generator's mouth head: speech -> lip shapes, before the GAN.

The head and the audio encoder under it learn from the face mesh's lips alone. Without images
to decode or frames to draw, a step costs a small fraction of a GAN step, so batches can be
large: the audio encoder reaches in minutes what takes the GAN thousands of steps, and the
decoder then starts from a speech condition that already says how the mouth should look.
"""

from __future__ import annotations

import dataclasses
import time

import keras
import tensorflow as tf

from lipsync_tf.config import AudioFeatureConfig, DataConfig
from lipsync_tf.data import reader
from lipsync_tf.training.gan import real_mouth_shape


def mouth_head_step_fn(generator, optimizer):
    """One replica's step: squared error of the head's shapes on the trusted frames."""
    variables = (
        generator.audio_encoder.trainable_variables + generator.mouth_head.trainable_variables
    )

    def step(batch):
        with tf.GradientTape() as tape:
            codes = generator.audio_encoder(batch["audio"], training=True)
            predicted = generator.mouth_head(codes)
            error = tf.reduce_mean(tf.square(predicted - real_mouth_shape(batch)), axis=-1)
            per_example = tf.reduce_mean(error * batch["lips_valid"], axis=1)
            loss = tf.nn.compute_average_loss(per_example)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    return step


def pretrain_mouth_head(
    generator,
    data: DataConfig,
    audio: AudioFeatureConfig,
    steps: int,
    batch_size: int,
    learning_rate: float,
    strategy: tf.distribute.Strategy,
    log=print,
) -> float:
    """Trains `generator`'s audio encoder and mouth head for `steps` audio-only batches of
    `batch_size` windows (build the optimizer's variables inside `strategy`'s scope); returns
    the last batch's loss."""
    config = dataclasses.replace(data, batch_size=batch_size)
    dataset = reader.training_dataset(config, audio, images=False)
    with strategy.scope():
        optimizer = keras.optimizers.Adam(learning_rate, name="mouth_head_adam")
        optimizer.build(
            generator.audio_encoder.trainable_variables + generator.mouth_head.trainable_variables
        )
    replica_step = mouth_head_step_fn(generator, optimizer)

    @tf.function
    def step(batch):
        losses = strategy.run(replica_step, args=(batch,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    started, loss = time.perf_counter(), float("nan")
    batches = iter(strategy.experimental_distribute_dataset(dataset))
    for index in range(1, steps + 1):
        loss = float(step(next(batches)))
        if index % 100 == 0 or index == steps:
            seconds = time.perf_counter() - started
            log(f"mouth head pretraining step {index}/{steps}: loss {loss:.3f} ({seconds:.0f} s)")
    return loss
