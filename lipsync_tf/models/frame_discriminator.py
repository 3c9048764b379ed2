"""Frame discriminator: is this frame a real frame of the person in the still?"""

from __future__ import annotations

import keras

from lipsync_tf.config import IMAGE_CHANNELS, IMAGE_HEIGHT, IMAGE_WIDTH, ModelConfig
from lipsync_tf.models.building import build_sequence


@keras.saving.register_keras_serializable(package="lipsync_tf")
class FrameDiscriminator(keras.Model):
    """Frame concatenated with the still -> 4 x (conv + max-pool) -> 2 dense -> logit.

    Conditioning on the still makes it judge identity as well as realism. Training feeds it frames
    sampled uniformly from each clip, S(x).

    inputs: (frame float32 [batch, 128, 96, 3], still float32 [batch, 128, 96, 3]), both in [-1, 1].
    returns: logit float32 [batch, 1] (higher = real).
    """

    def __init__(self, filters=(64, 128, 256, 512), fc_units=256, **kwargs):
        super().__init__(**kwargs)
        self.filters = tuple(filters)
        self.fc_units = fc_units
        self.concat = keras.layers.Concatenate(name="frame_and_still")
        self.body = []
        for index, width in enumerate(self.filters):
            self.body += [
                keras.layers.Conv2D(width, 3, padding="same", name=f"conv{index}"),
                keras.layers.LeakyReLU(0.2, name=f"act{index}"),
                keras.layers.MaxPooling2D(2, name=f"pool{index}"),
            ]
        self.body += [
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(fc_units, name="fc0"),
            keras.layers.LeakyReLU(0.2, name="fc_act0"),
            keras.layers.Dense(1, name="logit"),
        ]

    @classmethod
    def from_model_config(cls, config: ModelConfig) -> FrameDiscriminator:
        return cls(
            config.frame_disc_filters, config.frame_disc_fc_units, name="frame_discriminator"
        )

    def build(self, input_shape):
        build_sequence(self.body, (None, IMAGE_HEIGHT, IMAGE_WIDTH, 2 * IMAGE_CHANNELS))
        self.built = True

    def call(self, inputs, training=None):
        frame, still = inputs
        x = self.concat([frame, still])
        for layer in self.body:
            x = layer(x, training=training)
        return x

    def get_config(self):
        config = super().get_config()
        config.update(filters=list(self.filters), fc_units=self.fc_units)
        return config
