"""TalkingFaceGAN: the generator and both discriminators, trained with a custom `train_step`.

Each step runs a discriminator update, then a generator update, each with its own tape and its own
optimizer (Keras-examples GAN style):

- frame discriminator: real vs generated frames sampled uniformly from each clip, S(x), each
  conditioned on the clip's still;
- sequence discriminator: real frames with their own audio (real) vs generated frames with that
  audio (fake) and vs real frames with the same clip's audio from elsewhere (out of sync), so it
  learns lip sync and not only realism;
- generator: both adversarial losses (non-saturating) plus an L1 reconstruction with extra weight
  on the lower face, where the mouth is. Two optional terms (off by default, as in the paper):
  - motion: L1 between the generated and the real frame-to-frame change of the lower face. A
    still copied to every frame has no motion, so it is charged the whole mouth movement;
  - audio -> mouth: a linear head on the audio codes predicts the real mouth region's brightness
    changes (`mouth_dynamics`), a direct signal for the audio encoder. Through L1 alone that
    signal is weak: run v3's codes barely changed over time.

Every per-example loss is reduced with `tf.nn.compute_average_loss`, i.e. divided by the global
batch size, so N replicas apply exactly the update one device would. All randomness (noise, which
frames the frame discriminator sees) arrives with the batch from the input pipeline's stateless
seeds, so a step is a pure function of (weights, batch): reproducible and replica-invariant.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from lipsync_tf.config import (
    IMAGE_CHANNELS,
    IMAGE_HEIGHT,
    IMAGE_WIDTH,
    ModelConfig,
    TrainConfig,
    train_config_from_dict,
)
from lipsync_tf.models.building import as_layer
from lipsync_tf.models.frame_discriminator import FrameDiscriminator
from lipsync_tf.models.generator import Generator
from lipsync_tf.models.sequence_discriminator import SequenceDiscriminator

LOSS_NAMES = (
    "d_loss",
    "d_frame_loss",
    "d_seq_loss",
    "g_loss",
    "g_frame_adv",
    "g_seq_adv",
    "l1",
    "motion",
    "audio_mouth",
)

# First row of the lower face (mouth and chin) in a 128x96 crop: where the L1's mouth weight, the
# motion term and the validation audio sensitivity look.
LOWER_FACE_ROW = IMAGE_HEIGHT // 2

# Mouth box of a 128x96 crop (rows, columns) and the grid of brightness cells `mouth_dynamics`
# reduces it to. Horizontally centred, so mirrored examples keep it in place.
MOUTH_BOX = (slice(80, 112), slice(28, 68))
MOUTH_GRID = (4, 5)


def lower_face_mask() -> np.ndarray:
    """[128, 96, 1] weights: 1 on the lower half of the crop (mouth and chin), 0 above.

    The preprocessing crop puts the mouth at roughly 65-90 % of the crop height, so the lower half
    holds the mouth with margin for head motion.
    """
    mask = np.zeros((IMAGE_HEIGHT, IMAGE_WIDTH, 1), np.float32)
    mask[LOWER_FACE_ROW:] = 1.0
    return mask


def mouth_dynamics(frames: tf.Tensor) -> tf.Tensor:
    """frames [b, T, 128, 96, 3] in [-1, 1] -> [b, T, 20]: the mouth box's mean brightness on a
    4x5 grid, minus each cell's mean over the window.

    An opening mouth darkens the middle cells and a smile brightens the sides, so these numbers
    follow the mouth's motion within a clip, independent of skin tone and lighting offsets.
    """
    rows, cols = MOUTH_BOX
    gray = tf.reduce_mean(frames[:, :, rows, cols, :], axis=-1)
    batch, time = tf.shape(frames)[0], tf.shape(frames)[1]
    grid_rows, grid_cols = MOUTH_GRID
    cell_h = (rows.stop - rows.start) // grid_rows
    cell_w = (cols.stop - cols.start) // grid_cols
    cells = tf.reshape(gray, [batch, time, grid_rows, cell_h, grid_cols, cell_w])
    cells = tf.reshape(tf.reduce_mean(cells, axis=[3, 5]), [batch, time, grid_rows * grid_cols])
    return cells - tf.reduce_mean(cells, axis=1, keepdims=True)


def _bce(logits: tf.Tensor, label: float) -> tf.Tensor:
    """Per-example sigmoid cross-entropy: logits [batch, 1] -> [batch]."""
    labels = tf.fill(tf.shape(logits), label)
    return tf.reduce_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits), axis=-1
    )


@keras.saving.register_keras_serializable(package="lipsync_tf")
class TalkingFaceGAN(keras.Model):
    """inputs (a batch dict from `lipsync_tf.data.reader`):
    still [b, 128, 96, 3], frames [b, T, 128, 96, 3], audio / offsync_audio [b, T, window, n_mfcc],
    noise [b, T, noise_dim], frame_index int32 [b, k] (frames shown to the frame discriminator).
    """

    def __init__(
        self,
        generator,
        frame_discriminator,
        sequence_discriminator,
        audio_window=(35, 13),
        train_config=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.audio_window = tuple(audio_window)
        self.generator = as_layer(generator)
        self.frame_discriminator = as_layer(frame_discriminator)
        self.sequence_discriminator = as_layer(sequence_discriminator)
        if train_config is None:
            train_config = TrainConfig()
        elif isinstance(train_config, dict):
            train_config = train_config_from_dict(train_config)
        self.train_config = train_config
        self._mouth_mask = tf.constant(lower_face_mask())
        self.audio_mouth_head = None
        if self.train_config.audio_mouth_weight > 0:
            self.audio_mouth_head = keras.layers.Dense(
                MOUTH_GRID[0] * MOUTH_GRID[1], name="audio_mouth_head"
            )
        self.trackers = {name: keras.metrics.Mean(name=name) for name in LOSS_NAMES}

    @classmethod
    def from_configs(cls, model: ModelConfig, train: TrainConfig) -> TalkingFaceGAN:
        return cls(
            generator=Generator.from_model_config(model, seed=train.seed),
            frame_discriminator=FrameDiscriminator.from_model_config(model),
            sequence_discriminator=SequenceDiscriminator.from_model_config(model),
            audio_window=(model.audio.window_frames, model.audio.n_mfcc),
            train_config=train,
            name="talking_face_gan",
        )

    def build(self, input_shape=None):
        window = self.audio_window
        image = (IMAGE_HEIGHT, IMAGE_WIDTH, IMAGE_CHANNELS)
        self.generator.build({"still": (None, *image), "audio": (None, None, *window)})
        self.frame_discriminator.build(((None, *image), (None, *image)))
        self.sequence_discriminator.build(((None, None, *image), (None, None, *window)))
        if self.audio_mouth_head is not None:
            self.audio_mouth_head.build((None, None, self.generator.audio_encoder.gru_units[-1]))
        self.built = True

    def compile(self, g_optimizer, d_optimizer, **kwargs):
        # No Keras-level optimizer: the two below are applied by hand in train_step.
        super().compile(optimizer=None, **kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer

    def build_optimizers(self) -> None:
        """Creates optimizer slots up front (required inside a MirroredStrategy scope)."""
        self.g_optimizer.build(self.generator_variables)
        self.d_optimizer.build(self.discriminator_variables)

    @property
    def generator_variables(self) -> list:
        """The generator's weights, plus the auxiliary audio -> mouth head when it is used."""
        head = self.audio_mouth_head
        return self.generator.trainable_variables + (
            head.trainable_variables if head is not None else []
        )

    @property
    def discriminator_variables(self) -> list:
        return (
            self.frame_discriminator.trainable_variables
            + self.sequence_discriminator.trainable_variables
        )

    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def step(self) -> tf.Variable:
        """Completed training steps (the generator optimizer's iteration count)."""
        return self.g_optimizer.iterations

    # -- pieces of a step ----------------------------------------------------------------------

    def generate(self, batch, training=True):
        return self.generator(
            {"still": batch["still"], "audio": batch["audio"], "noise": batch["noise"]},
            training=training,
        )

    def _sampled_frames(self, batch, frames):
        """S(x): frames [b, T, ...] at batch["frame_index"] [b, k] -> ([b*k, ...], stills)."""
        picked = tf.gather(frames, batch["frame_index"], axis=1, batch_dims=1)
        k = tf.shape(batch["frame_index"])[1]
        picked = tf.reshape(picked, [-1, IMAGE_HEIGHT, IMAGE_WIDTH, IMAGE_CHANNELS])
        stills = tf.repeat(batch["still"], k, axis=0)
        return picked, stills, k

    def discriminator_losses(self, batch, fake, training=True):
        """Per-example discriminator losses ([b] each) for real frames vs `fake`."""
        real = batch["frames"]
        real_frames, stills, k = self._sampled_frames(batch, real)
        fake_frames, _, _ = self._sampled_frames(batch, fake)
        frame_real = self.frame_discriminator((real_frames, stills), training=training)
        frame_fake = self.frame_discriminator((fake_frames, stills), training=training)
        # Average each clip's k sampled frames so the loss stays per example.
        frame_loss = tf.reduce_mean(
            tf.reshape(_bce(frame_real, 1.0) + _bce(frame_fake, 0.0), [-1, k]), axis=1
        )
        seq_real = self.sequence_discriminator((real, batch["audio"]), training=training)
        seq_fake = self.sequence_discriminator((fake, batch["audio"]), training=training)
        seq_offsync = self.sequence_discriminator((real, batch["offsync_audio"]), training=training)
        seq_loss = _bce(seq_real, 1.0) + 0.5 * (_bce(seq_fake, 0.0) + _bce(seq_offsync, 0.0))
        return frame_loss, seq_loss

    def generator_losses(self, batch, fake, training=True) -> dict[str, tf.Tensor]:
        """Per-example generator loss terms ([b] each)."""
        _, stills, k = self._sampled_frames(batch, batch["frames"])
        fake_frames, _, _ = self._sampled_frames(batch, fake)
        frame_logits = self.frame_discriminator((fake_frames, stills), training=training)
        frame_adv = tf.reduce_mean(tf.reshape(_bce(frame_logits, 1.0), [-1, k]), axis=1)
        seq_adv = _bce(self.sequence_discriminator((fake, batch["audio"]), training=training), 1.0)
        real = batch["frames"]
        error = tf.abs(fake - real)
        weights = 1.0 + self.train_config.mouth_weight * self._mouth_mask
        lower = LOWER_FACE_ROW
        motion_error = tf.abs(
            (fake[:, 1:, lower:] - fake[:, :-1, lower:])
            - (real[:, 1:, lower:] - real[:, :-1, lower:])
        )
        return {
            "frame_adv": frame_adv,
            "seq_adv": seq_adv,
            "l1": tf.reduce_mean(error, axis=[1, 2, 3, 4]),
            "weighted_l1": tf.reduce_mean(error * weights, axis=[1, 2, 3, 4]),
            "motion": tf.reduce_mean(motion_error, axis=[1, 2, 3, 4]),
            "audio_mouth": self.audio_mouth_loss(batch, training),
        }

    def audio_mouth_loss(self, batch, training=True) -> tf.Tensor:
        """Per-example L1 between the head's prediction from the audio codes and the real
        `mouth_dynamics` ([b]); zeros when the head is off."""
        if self.audio_mouth_head is None:
            return tf.zeros(tf.shape(batch["frames"])[:1])
        codes = self.generator.audio_encoder(batch["audio"], training=training)
        predicted = self.audio_mouth_head(codes)
        predicted -= tf.reduce_mean(predicted, axis=1, keepdims=True)
        target = mouth_dynamics(batch["frames"])
        return tf.reduce_mean(tf.abs(predicted - target), axis=[1, 2])

    def generator_objective(self, terms: dict[str, tf.Tensor]) -> tf.Tensor:
        """Per-example generator loss ([b]) from `generator_losses` terms."""
        c = self.train_config
        return (
            c.frame_adv_weight * terms["frame_adv"]
            + c.seq_adv_weight * terms["seq_adv"]
            + c.l1_weight * terms["weighted_l1"]
            + c.motion_weight * terms["motion"]
            + c.audio_mouth_weight * terms["audio_mouth"]
        )

    def discriminator_step(self, batch):
        """One update of both discriminators; the generator's weights are not touched."""
        fake = tf.stop_gradient(self.generate(batch, training=True))
        with tf.GradientTape() as tape:
            frame_loss, seq_loss = self.discriminator_losses(batch, fake)
            per_example = frame_loss + seq_loss
            loss = tf.nn.compute_average_loss(per_example)
        variables = self.discriminator_variables
        self.d_optimizer.apply_gradients(
            zip(tape.gradient(loss, variables), variables, strict=True)
        )
        return {"d_loss": per_example, "d_frame_loss": frame_loss, "d_seq_loss": seq_loss}

    def generator_step(self, batch):
        """One update of the generator; the discriminators' weights are not touched."""
        with tf.GradientTape() as tape:
            fake = self.generate(batch, training=True)
            terms = self.generator_losses(batch, fake)
            per_example = self.generator_objective(terms)
            loss = tf.nn.compute_average_loss(per_example)
        variables = self.generator_variables
        self.g_optimizer.apply_gradients(
            zip(tape.gradient(loss, variables), variables, strict=True)
        )
        return {
            "g_loss": per_example,
            "g_frame_adv": terms["frame_adv"],
            "g_seq_adv": terms["seq_adv"],
            "l1": terms["l1"],
            "motion": terms["motion"],
            "audio_mouth": terms["audio_mouth"],
        }

    def train_step(self, data):
        losses = self.discriminator_step(data)
        losses.update(self.generator_step(data))
        for name, values in losses.items():
            self.trackers[name].update_state(values)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def test_step(self, data):
        fake = self.generate(data, training=False)
        frame_loss, seq_loss = self.discriminator_losses(data, fake, training=False)
        terms = self.generator_losses(data, fake, training=False)
        values = {
            "d_loss": frame_loss + seq_loss,
            "d_frame_loss": frame_loss,
            "d_seq_loss": seq_loss,
            "g_loss": self.generator_objective(terms),
            "g_frame_adv": terms["frame_adv"],
            "g_seq_adv": terms["seq_adv"],
            "l1": terms["l1"],
            "motion": terms["motion"],
            "audio_mouth": terms["audio_mouth"],
        }
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def call(self, inputs, training=None):
        return self.generate(inputs, training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            generator=keras.saving.serialize_keras_object(self.generator),
            frame_discriminator=keras.saving.serialize_keras_object(self.frame_discriminator),
            sequence_discriminator=keras.saving.serialize_keras_object(self.sequence_discriminator),
            audio_window=self.audio_window,
            train_config=dataclasses.asdict(self.train_config),
        )
        return config
