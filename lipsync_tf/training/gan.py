"""TalkingFaceGAN: the generator and both discriminators, trained with a custom `train_step`.

Each step runs a discriminator update, then a generator update, each with its own tape and its own
optimizer (Keras-examples GAN style):

- frame discriminator: real vs generated frames sampled uniformly from each clip, S(x), each
  conditioned on the clip's still;
- sequence discriminator: real frames with their own audio (real) vs generated frames with that
  audio (fake) and vs real frames with the same clip's audio from elsewhere (out of sync), so it
  learns lip sync and not only realism;
- generator: both adversarial losses (non-saturating) plus an L1 reconstruction with extra weight
  on the lower face, where the mouth is. Optional terms (off by default, as in the paper):
  - motion: L1 between the generated and the real frame-to-frame change of the lower face. A
    still copied to every frame has no motion, so it is charged the whole mouth movement;
  - audio -> mouth: a linear head on the audio codes predicts the real mouth region's brightness
    changes (`mouth_dynamics`), a direct signal for the audio encoder. Through L1 alone that
    signal is weak: run v3's codes barely changed over time;
  - mouth head (with `ModelConfig.mouth_head`): squared error between the head's lip shapes and
    the face mesh's, the clean version of the audio -> mouth signal; with `teacher_forcing` the
    decoder is shown the real shape for that fraction of examples;
  - lip reader: a frozen `LipReader` reads the lips of each generated frame; L1 to the real
    frame's lips, so copying the still's mouth costs what the mouth should have moved;
  - sync expert: a frozen `SyncExpert` scores generated 5-frame stretches with their audio;
    the loss is its "out of sync" cross-entropy;
  - blend mask (with `ModelConfig.blend_mask`): the mask's mean, so the still is kept wherever
    drawing is not needed.

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
from lipsync_tf.data.reader import frame_points
from lipsync_tf.models.building import as_layer
from lipsync_tf.models.frame_discriminator import FrameDiscriminator
from lipsync_tf.models.generator import Generator
from lipsync_tf.models.mouth_region import (
    LIP_SHAPE_DIM,
    LIP_SHAPE_SCALE,
    lips_to_pixels,
    lower_face_prior,
)
from lipsync_tf.models.sequence_discriminator import SequenceDiscriminator
from lipsync_tf.models.sync_expert import SYNC_FRAMES
from lipsync_tf.models.warp import sample_points

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
    "mouth_head",
    "lip_reader",
    "sync",
    "mask",
    "flow_lips",
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


def real_mouth_shape(batch) -> tf.Tensor:
    """The real frames' mouth shapes as the mouth head predicts them: [b, T, 80], the lip
    landmarks minus the clip's mean shape, in LIP_SHAPE_SCALE units."""
    delta = batch["lips_delta"]
    shape = tf.shape(delta)
    return tf.reshape(delta, [shape[0], shape[1], LIP_SHAPE_DIM]) / LIP_SHAPE_SCALE


def _logged_terms(terms: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """The generator terms the trackers log, by tracker name."""
    names = (
        "l1", "motion", "audio_mouth", "mouth_head", "lip_reader", "sync", "mask", "flow_lips"
    )  # fmt: skip
    return {
        "g_frame_adv": terms["frame_adv"],
        "g_seq_adv": terms["seq_adv"],
        **{name: terms[name] for name in names},
    }


def _step_logs(trackers: dict) -> dict[str, tf.Tensor]:
    """Each tracker's running mean, as `fit` logs it.

    Under MultiWorkerMirroredStrategy Keras 3 (3.15) reduces every logged value with
    `strategy.reduce("MEAN", value, axis=0)`, which rejects scalars ("Invalid reduction dimension
    0 for input with 0 dimensions", tensorflow/tensorflow#72388); one-element vectors reduce to
    the mean over all replicas of all workers, a scalar again.
    """
    results = {name: tracker.result() for name, tracker in trackers.items()}
    if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        results = {name: tf.reshape(value, [1]) for name, value in results.items()}
    return results


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
    noise [b, T, noise_dim], frame_index int32 [b, k] (frames shown to the frame discriminator),
    lips / lips_delta [b, T, 40, 2], lips_valid [b, T], teacher_coin [b].

    `lip_reader` and `sync_expert` are frozen expert models (training/experts.py) or None; they
    are not part of the GAN's weights or checkpoints.
    """

    def __init__(
        self,
        generator,
        frame_discriminator,
        sequence_discriminator,
        audio_window=(35, 13),
        train_config=None,
        lip_reader=None,
        sync_expert=None,
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
        self._prior = tf.constant(lower_face_prior())
        self.audio_mouth_head = None
        if self.train_config.audio_mouth_weight > 0:
            self.audio_mouth_head = keras.layers.Dense(
                MOUTH_GRID[0] * MOUTH_GRID[1], name="audio_mouth_head"
            )
        self.trackers = {name: keras.metrics.Mean(name=name) for name in LOSS_NAMES}
        # Frozen experts, set past Keras' attribute tracking so that the GAN's weights and
        # checkpoints hold the GAN alone (a run resumes whatever experts it is given).
        object.__setattr__(self, "_experts", {"lip_reader": lip_reader, "sync": sync_expert})

    @classmethod
    def from_configs(
        cls, model: ModelConfig, train: TrainConfig, lip_reader=None, sync_expert=None
    ) -> TalkingFaceGAN:
        return cls(
            generator=Generator.from_model_config(model, seed=train.seed),
            frame_discriminator=FrameDiscriminator.from_model_config(model),
            sequence_discriminator=SequenceDiscriminator.from_model_config(model),
            audio_window=(model.audio.window_frames, model.audio.n_mfcc),
            train_config=train,
            lip_reader=lip_reader,
            sync_expert=sync_expert,
            name="talking_face_gan",
        )

    @property
    def lip_reader(self):
        return self._experts["lip_reader"]

    @property
    def sync_expert(self):
        return self._experts["sync"]

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

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Skips Keras' build-from-a-batch when every variable already exists.

        Before training, Keras 3 (3.15) reads one batch to build the model; under
        MultiWorkerMirroredStrategy it passes that whole batch dict to `strategy.reduce`, which
        fails ("Attempt to convert a value ({'noise': PerReplica...}) to a Tensor"). `build()`
        and `build_optimizers()` have created every variable, so there is nothing to build.
        """
        if self.built and self.g_optimizer.built and self.d_optimizer.built:
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

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
        """Generated frames [b, T, 128, 96, 3] for a batch."""
        return self.generate_all(batch, training)["frames"]

    def generate_all(self, batch, training=True) -> dict:
        """The generator's outputs for a batch (`Generator.generate`). In training, examples
        whose `teacher_coin` is below `teacher_forcing` draw the real mouth shape."""
        generator = self.generator
        identity = generator.encode_identity(batch["still"], training=training)
        teacher = None
        rate = self.train_config.teacher_forcing
        if generator.use_mouth_head and training and rate > 0:
            teacher = {
                "shape": real_mouth_shape(batch),
                "use": tf.cast(batch["teacher_coin"] < rate, tf.float32),
            }
        return generator.generate(
            identity, batch["audio"], batch["noise"], teacher=teacher, training=training
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

    def generator_losses(self, batch, fake, training=True, outputs=None) -> dict[str, tf.Tensor]:
        """Per-example generator loss terms ([b] each); `outputs`: the rest of `generate_all`'s
        result (mouth shapes, mask) when the optional terms need it."""
        outputs = outputs or {}
        _, stills, k = self._sampled_frames(batch, batch["frames"])
        fake_frames, _, _ = self._sampled_frames(batch, fake)
        frame_logits = self.frame_discriminator((fake_frames, stills), training=training)
        frame_adv = tf.reduce_mean(tf.reshape(_bce(frame_logits, 1.0), [-1, k]), axis=1)
        seq_adv = _bce(self.sequence_discriminator((fake, batch["audio"]), training=training), 1.0)
        real = batch["frames"]
        error = tf.abs(fake - real)
        weights = 1.0 + self.train_config.mouth_weight * self._mouth_mask
        weighted = tf.reduce_mean(error * weights, axis=[1, 2, 3, 4])
        drawn = outputs.get("drawn")
        if drawn is not None:
            # The blended frame passes the drawn image on only where the mask is open, so early
            # on, with a small mask, the decoder would hardly learn to draw. The drawn image is
            # therefore also held to the real frame wherever it may be used (the prior).
            drawn_error = tf.abs(drawn - real) * self._prior * weights
            weighted += tf.reduce_mean(drawn_error, axis=[1, 2, 3, 4])
        lower = LOWER_FACE_ROW
        motion_error = tf.abs(
            (fake[:, 1:, lower:] - fake[:, :-1, lower:])
            - (real[:, 1:, lower:] - real[:, :-1, lower:])
        )
        return {
            "frame_adv": frame_adv,
            "seq_adv": seq_adv,
            "l1": tf.reduce_mean(error, axis=[1, 2, 3, 4]),
            "weighted_l1": weighted,
            "motion": tf.reduce_mean(motion_error, axis=[1, 2, 3, 4]),
            "audio_mouth": self.audio_mouth_loss(batch, training),
            "mouth_head": self.mouth_head_loss(batch, outputs.get("mouth_shape")),
            "lip_reader": self.lip_reader_loss(batch, fake),
            "sync": self.sync_loss(batch, fake),
            "mask": self.mask_loss(batch, outputs.get("mask")),
            "flow_lips": self.flow_lips_loss(batch, outputs.get("flow")),
        }

    def _zeros(self, batch) -> tf.Tensor:
        return tf.zeros(tf.shape(batch["frames"])[:1])

    def mouth_head_loss(self, batch, predicted) -> tf.Tensor:
        """Per-example mean squared error of the head's lip shapes (in LIP_SHAPE_SCALE units)
        over the frames the face mesh trusted ([b]); zeros without a head."""
        if predicted is None:
            return self._zeros(batch)
        error = tf.reduce_mean(tf.square(predicted - real_mouth_shape(batch)), axis=-1)
        return tf.reduce_mean(error * batch["lips_valid"], axis=1)

    def lip_reader_loss(self, batch, fake) -> tf.Tensor:
        """Per-example L1 between the lips the frozen reader sees in the generated frames and
        the real frames' lips (LIP_SHAPE_SCALE units, trusted frames) ([b]); zeros without it."""
        if self.lip_reader is None or self.train_config.lip_reader_weight == 0:
            return self._zeros(batch)
        batch_size, time = tf.shape(fake)[0], tf.shape(fake)[1]
        flat = tf.reshape(fake, [-1, IMAGE_HEIGHT, IMAGE_WIDTH, IMAGE_CHANNELS])
        seen = tf.reshape(self.lip_reader(flat, training=False), [batch_size, time, -1])
        real = tf.reshape(batch["lips"], [batch_size, time, -1])
        error = tf.reduce_mean(tf.abs(seen - real), axis=-1) / LIP_SHAPE_SCALE
        return tf.reduce_mean(error * batch["lips_valid"], axis=1)

    def sync_loss(self, batch, fake) -> tf.Tensor:
        """Per-example "out of sync" cross-entropy of the frozen sync expert on every
        non-overlapping SYNC_FRAMES stretch of the generated window ([b]); zeros without it."""
        if self.sync_expert is None or self.train_config.sync_weight == 0:
            return self._zeros(batch)
        time = fake.shape[1]
        stretches = [
            (fake[:, start : start + SYNC_FRAMES], batch["audio"][:, start : start + SYNC_FRAMES])
            for start in range(0, time - SYNC_FRAMES + 1, SYNC_FRAMES)
        ]
        logits = [self.sync_expert(pair, training=False) for pair in stretches]
        losses = [tf.nn.softplus(-logit) for logit in logits]  # -log sigmoid(logit)
        return tf.add_n(losses) / len(losses)

    def mask_loss(self, batch, mask) -> tf.Tensor:
        """Per-example mean of the blend mask ([b]): drawing where the still would do costs."""
        if mask is None:
            return self._zeros(batch)
        return tf.reduce_mean(mask, axis=[1, 2, 3, 4])

    def flow_lips_loss(self, batch, flow) -> tf.Tensor:
        """Per-example L1 in pixels ([b]) between the still's warp at each real lip point and the
        displacement that brings the still's own lip point there; zeros without a warp.

        Both lip sets are placed in the still's crop by the fixed face frame of
        `mouth_region.lips_to_pixels`, then moved as the example's `framing` moved its pixels:
        the generated frame keeps the still's pose, so the real frame's lip shape is drawn
        where the still's face is. The warp reads the still at
        (point + flow), so at the real lip point q the flow should be p_still - q. Unlike the
        pixel losses, this reaches the warp even where the skin is flat and where the still's
        and the real frame's head poses differ.
        """
        if flow is None or self.train_config.flow_lips_weight == 0:
            return self._zeros(batch)
        batch_size, time = tf.shape(flow)[0], tf.shape(flow)[1]
        # Where --jitter moved the crop's lips to ([b, T, 40, 2] and [b, 1, 40, 2]).
        target_points = frame_points(lips_to_pixels(batch["lips"]), batch["framing"])
        still_points = frame_points(lips_to_pixels(batch["still_lips"]), batch["framing"])
        still_points = still_points[:, None]
        wanted = still_points - target_points
        flat = tf.reshape(flow, [batch_size * time, IMAGE_HEIGHT, IMAGE_WIDTH, 2])
        points = tf.reshape(target_points, [batch_size * time, -1, 2])
        moved = tf.reshape(sample_points(flat, points), tf.shape(wanted))
        error = tf.reduce_mean(tf.abs(moved - wanted), axis=[2, 3])
        return tf.reduce_mean(error * batch["lips_valid"], axis=1)

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
            + c.mouth_head_weight * terms["mouth_head"]
            + c.lip_reader_weight * terms["lip_reader"]
            + c.sync_weight * terms["sync"]
            + c.mask_weight * terms["mask"]
            + c.flow_lips_weight * terms["flow_lips"]
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
            outputs = self.generate_all(batch, training=True)
            fake = outputs["frames"]
            terms = self.generator_losses(batch, fake, outputs=outputs)
            per_example = self.generator_objective(terms)
            loss = tf.nn.compute_average_loss(per_example)
        variables = self.generator_variables
        self.g_optimizer.apply_gradients(
            zip(tape.gradient(loss, variables), variables, strict=True)
        )
        return {"g_loss": per_example, **_logged_terms(terms)}

    def train_step(self, data):
        losses = self.discriminator_step(data)
        losses.update(self.generator_step(data))
        for name, values in losses.items():
            self.trackers[name].update_state(values)
        return _step_logs(self.trackers)

    def test_step(self, data):
        outputs = self.generate_all(data, training=False)
        fake = outputs["frames"]
        frame_loss, seq_loss = self.discriminator_losses(data, fake, training=False)
        terms = self.generator_losses(data, fake, training=False, outputs=outputs)
        values = {
            "d_loss": frame_loss + seq_loss,
            "d_frame_loss": frame_loss,
            "d_seq_loss": seq_loss,
            "g_loss": self.generator_objective(terms),
            **_logged_terms(terms),
        }
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return _step_logs(self.trackers)

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
