"""Sequence discriminator: is this a real video of someone saying this audio?"""

from __future__ import annotations

import keras
import tensorflow as tf

from lipsync_tf.config import IMAGE_CHANNELS, IMAGE_HEIGHT, IMAGE_WIDTH, ModelConfig
from lipsync_tf.models.audio_encoder import AudioEncoder
from lipsync_tf.models.building import as_layer, build_sequence, ensure_built
from lipsync_tf.models.spp import TemporalPyramidPooling


@keras.saving.register_keras_serializable(package="lipsync_tf")
class SequenceDiscriminator(keras.Model):
    """Per-frame image code + audio code -> GRU over time -> 1-D SPP over time -> 2 dense -> logit.

    The audio branch is an AudioEncoder of its own (not shared with the generator), so the
    discriminator can judge whether the mouth motion fits the speech. The pyramid pooling makes the
    head's input size independent of the clip length.

    inputs: (frames float32 [batch, time, 128, 96, 3] in [-1, 1],
             audio float32 [batch, time, window, n_mfcc]), any time >= 1.
    returns: logit float32 [batch, 1] (higher = real).
    """

    def __init__(
        self,
        audio_encoder,
        image_filters=(32, 64, 128, 256),
        frame_dim=256,
        gru_units=256,
        spp_levels=(1, 2, 4),
        fc_units=256,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.audio_encoder = as_layer(audio_encoder)
        self.image_filters = tuple(image_filters)
        self.frame_dim = frame_dim
        self.gru_units = gru_units
        self.spp_levels = tuple(spp_levels)
        self.fc_units = fc_units
        self.frame_encoder = []
        for index, width in enumerate(self.image_filters):
            self.frame_encoder += [
                keras.layers.Conv2D(width, 4, strides=2, padding="same", name=f"conv{index}"),
                keras.layers.LeakyReLU(0.2, name=f"act{index}"),
            ]
        self.frame_encoder += [
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(frame_dim, name="frame_code"),
            keras.layers.LeakyReLU(0.2, name="frame_code_act"),
        ]
        self.concat = keras.layers.Concatenate(name="frame_and_audio")
        self.gru = keras.layers.GRU(gru_units, return_sequences=True, name="gru")
        self.spp = TemporalPyramidPooling(self.spp_levels, name="spp")
        self.head = [
            keras.layers.Dense(fc_units, name="fc0"),
            keras.layers.LeakyReLU(0.2, name="fc_act0"),
            keras.layers.Dense(1, name="logit"),
        ]

    @classmethod
    def from_model_config(cls, config: ModelConfig) -> SequenceDiscriminator:
        return cls(
            audio_encoder=AudioEncoder.from_model_config(config),
            image_filters=config.seq_disc_image_filters,
            frame_dim=config.seq_disc_frame_dim,
            gru_units=config.seq_disc_gru_units,
            spp_levels=config.spp_levels,
            fc_units=config.seq_disc_fc_units,
            name="sequence_discriminator",
        )

    def build(self, input_shape):
        _, audio_shape = input_shape
        build_sequence(self.frame_encoder, (None, IMAGE_HEIGHT, IMAGE_WIDTH, IMAGE_CHANNELS))
        ensure_built(self.audio_encoder, tuple(audio_shape))
        ensure_built(self.gru, (None, None, self.frame_dim + self.audio_encoder.gru_units[-1]))
        ensure_built(self.spp, (None, None, self.gru_units))
        build_sequence(self.head, (None, sum(self.spp_levels) * self.gru_units))
        self.built = True

    def call(self, inputs, training=None):
        frames, audio = inputs
        batch, time = tf.shape(frames)[0], tf.shape(frames)[1]
        x = tf.reshape(frames, [-1, IMAGE_HEIGHT, IMAGE_WIDTH, IMAGE_CHANNELS])
        for layer in self.frame_encoder:
            x = layer(x, training=training)
        frame_codes = tf.reshape(x, [batch, time, self.frame_dim])
        audio_codes = self.audio_encoder(audio, training=training)
        x = self.gru(self.concat([frame_codes, audio_codes]), training=training)
        x = self.spp(x)
        for layer in self.head:
            x = layer(x, training=training)
        return x

    def get_config(self):
        config = super().get_config()
        config.update(
            audio_encoder=keras.saving.serialize_keras_object(self.audio_encoder),
            image_filters=list(self.image_filters),
            frame_dim=self.frame_dim,
            gru_units=self.gru_units,
            spp_levels=list(self.spp_levels),
            fc_units=self.fc_units,
        )
        return config
