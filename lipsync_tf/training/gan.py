"""TalkingFaceGAN: the generator and its discriminators, trained with a custom `train_step`.

The discriminators are the paper's two (frame and sequence) and, in runs that weight
`mouth_adv`, a third of the mouth alone (`models/mouth_discriminator.py`). Each step runs a
discriminator update, then a generator update, each with its own tape and its own optimizer
(Keras-examples GAN style). What each update minimises is in `training/losses.py`: the
discriminators' losses, and the weighted sum of the generator losses whose weight in
`TrainConfig` is nonzero (the paper's: both adversarial losses and an L1 reconstruction with extra
weight on the lower face; the rest are opt-in lip-sync and sharpness terms). The train step loops
over that registry and logs each loss under its registry name, so a new loss needs no change here.

Every per-example loss is reduced with `tf.nn.compute_average_loss`, i.e. divided by the global
batch size, so N replicas apply exactly the update one device would. All randomness (noise, which
frames the frame discriminator sees) arrives with the batch from the input pipeline's stateless
seeds, so a step is a pure function of (weights, batch): reproducible and replica-invariant.
"""

from __future__ import annotations

import dataclasses

import keras
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
from lipsync_tf.models.mouth_discriminator import MOUTH_PATCH_SIZE, MouthDiscriminator
from lipsync_tf.models.sequence_discriminator import SequenceDiscriminator
from lipsync_tf.training import losses
from lipsync_tf.training.losses import MOUTH_GRID, StepTensors, real_mouth_shape


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
        mouth_discriminator=None,
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
        # A third discriminator, of the mouth alone, only for runs that weight its loss.
        self.mouth_discriminator = None
        if self.train_config.mouth_adv_weight > 0:
            self.mouth_discriminator = as_layer(
                mouth_discriminator or MouthDiscriminator(name="mouth_discriminator")
            )
        # The generator losses this run computes: those with a nonzero weight.
        self.loss_terms = tuple(losses.active_losses(self.train_config))
        self.audio_mouth_head = None
        if self.train_config.audio_mouth_weight > 0:
            self.audio_mouth_head = keras.layers.Dense(
                MOUTH_GRID[0] * MOUTH_GRID[1], name="audio_mouth_head"
            )
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in losses.logged_names(self.train_config)
        }
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
        if self.mouth_discriminator is not None:
            patch = (None, *MOUTH_PATCH_SIZE, IMAGE_CHANNELS)
            self.mouth_discriminator.build((patch, patch))
        if self.audio_mouth_head is not None:
            self.audio_mouth_head.build((None, None, self.generator.audio_encoder.gru_units[-1]))
        self.built = True

    def compile(self, g_optimizer, d_optimizer, mouth_optimizer=None, **kwargs):
        """`mouth_optimizer`, if given, updates the mouth discriminator (at its own learning
        rate); otherwise `d_optimizer` updates every discriminator."""
        # No Keras-level optimizer: the ones below are applied by hand in train_step.
        super().compile(optimizer=None, **kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.mouth_optimizer = mouth_optimizer if self.mouth_discriminator is not None else None

    def _discriminator_groups(self) -> list[tuple]:
        """(optimizer, variables) for each discriminator optimizer."""
        if self.mouth_optimizer is None:
            return [(self.d_optimizer, self.discriminator_variables)]
        others = (
            self.frame_discriminator.trainable_variables
            + self.sequence_discriminator.trainable_variables
        )
        return [
            (self.d_optimizer, others),
            (self.mouth_optimizer, self.mouth_discriminator.trainable_variables),
        ]

    def build_optimizers(self) -> None:
        """Creates optimizer slots up front (required inside a MirroredStrategy scope)."""
        self.g_optimizer.build(self.generator_variables)
        for optimizer, variables in self._discriminator_groups():
            optimizer.build(variables)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Skips Keras' build-from-a-batch when every variable already exists.

        Before training, Keras 3 (3.15) reads one batch to build the model; under
        MultiWorkerMirroredStrategy it passes that whole batch dict to `strategy.reduce`, which
        fails ("Attempt to convert a value ({'noise': PerReplica...}) to a Tensor"). `build()`
        and `build_optimizers()` have created every variable, so there is nothing to build.
        """
        optimizers = [self.g_optimizer] + [o for o, _ in self._discriminator_groups()]
        if self.built and all(optimizer.built for optimizer in optimizers):
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
        mouth = self.mouth_discriminator
        return (
            self.frame_discriminator.trainable_variables
            + self.sequence_discriminator.trainable_variables
            + (mouth.trainable_variables if mouth is not None else [])
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

    def discriminator_losses(self, batch, fake, training=True) -> dict[str, tf.Tensor]:
        """Per-example discriminator losses ([b] each) for real frames vs `fake`."""
        step = StepTensors(batch, {"frames": fake}, self, training)
        active = losses.active_discriminator_losses(self.train_config)
        return {name: loss(step) for name, loss in active.items()}

    def generator_losses(self, batch, outputs, training=True) -> dict[str, tf.Tensor]:
        """Per-example generator losses ([b] each) with a nonzero weight, by registry name;
        `outputs` is `generate_all`'s result for the batch."""
        step = StepTensors(batch, outputs, self, training)
        return {loss.name: loss.fn(step) for loss in self.loss_terms}

    def generator_objective(self, terms: dict[str, tf.Tensor]) -> tf.Tensor:
        """Per-example generator loss ([b]): the weighted sum of `generator_losses` terms."""
        return losses.weighted_sum(terms, self.train_config)

    def discriminator_step(self, batch):
        """One update of every discriminator; the generator's weights are not touched."""
        fake = tf.stop_gradient(self.generate(batch, training=True))
        with tf.GradientTape(persistent=self.mouth_optimizer is not None) as tape:
            terms = self.discriminator_losses(batch, fake)
            per_example = tf.add_n(list(terms.values()))
            loss = tf.nn.compute_average_loss(per_example)
        for optimizer, variables in self._discriminator_groups():
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return {"d_loss": per_example, **terms}

    def generator_step(self, batch):
        """One update of the generator; the discriminators' weights are not touched."""
        with tf.GradientTape() as tape:
            outputs = self.generate_all(batch, training=True)
            terms = self.generator_losses(batch, outputs)
            per_example = self.generator_objective(terms)
            loss = tf.nn.compute_average_loss(per_example)
        variables = self.generator_variables
        self.g_optimizer.apply_gradients(
            zip(tape.gradient(loss, variables), variables, strict=True)
        )
        return {"g_loss": per_example, **terms}

    def train_step(self, data):
        values = self.discriminator_step(data)
        values.update(self.generator_step(data))
        return self._log(values)

    def test_step(self, data):
        outputs = self.generate_all(data, training=False)
        d_terms = self.discriminator_losses(data, outputs["frames"], training=False)
        g_terms = self.generator_losses(data, outputs, training=False)
        values = {
            "d_loss": tf.add_n(list(d_terms.values())),
            **d_terms,
            "g_loss": self.generator_objective(g_terms),
            **g_terms,
        }
        return self._log(values)

    def _log(self, values: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
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
            mouth_discriminator=(
                keras.saving.serialize_keras_object(self.mouth_discriminator)
                if self.mouth_discriminator is not None
                else None
            ),
            audio_window=self.audio_window,
            train_config=dataclasses.asdict(self.train_config),
        )
        return config
