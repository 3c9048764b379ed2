"""Identity encoder: the still photo -> a 50-d identity code plus U-Net skips for the decoder."""

from __future__ import annotations

import keras

from lipsync_tf.config import IMAGE_CHANNELS, IMAGE_HEIGHT, IMAGE_WIDTH, ModelConfig, group_count
from lipsync_tf.models.building import build_sequence, ensure_built
from lipsync_tf.models.normalization import GroupNormalization

NUM_SKIPS = 4


@keras.saving.register_keras_serializable(package="lipsync_tf")
class IdentityEncoder(keras.Model):
    """6-layer CNN over the still: five stride-2 4x4 convs (128x96 -> 4x3), then a 4x3 conv.

    still: float32 [batch, 128, 96, 3] in [-1, 1].
    returns: (identity code float32 [batch, code_dim] in [-1, 1],
              skips: list of the first four layers' outputs, largest first:
              [batch, 64, 48, f0], [batch, 32, 24, f1], [batch, 16, 12, f2], [batch, 8, 6, f3]).
    """

    def __init__(self, filters=(64, 128, 256, 512, 512), code_dim=50, norm_groups=8, **kwargs):
        super().__init__(**kwargs)
        self.filters = tuple(filters)
        self.code_dim = code_dim
        self.norm_groups = norm_groups
        self.down_blocks = []
        for index, width in enumerate(self.filters):
            block = [keras.layers.Conv2D(width, 4, strides=2, padding="same", name=f"conv{index}")]
            # As in pix2pix, the first layer sees the raw image and is not normalised.
            if index > 0:
                block.append(
                    GroupNormalization(group_count(width, norm_groups), name=f"norm{index}")
                )
            block.append(keras.layers.LeakyReLU(0.2, name=f"act{index}"))
            self.down_blocks.append(block)
        self.to_code = keras.layers.Conv2D(
            code_dim,
            (IMAGE_HEIGHT // 2 ** len(self.filters), IMAGE_WIDTH // 2 ** len(self.filters)),
            padding="valid",
            activation="tanh",
            name="to_code",
        )
        self.flatten = keras.layers.Flatten()

    @classmethod
    def from_model_config(
        cls, config: ModelConfig, name: str = "identity_encoder"
    ) -> IdentityEncoder:
        return cls(config.identity_filters, config.identity_dim, config.norm_groups, name=name)

    @property
    def skip_shapes(self) -> list[tuple]:
        """Shapes of the skips `call` returns, largest first, with a None batch axis."""
        return [
            (None, IMAGE_HEIGHT // 2 ** (i + 1), IMAGE_WIDTH // 2 ** (i + 1), width)
            for i, width in enumerate(self.filters[:NUM_SKIPS])
        ]

    def build(self, input_shape):
        _check_still_shape(input_shape)
        shape = tuple(input_shape)
        for block in self.down_blocks:
            shape = build_sequence(block, shape)
        ensure_built(self.to_code, shape)
        self.built = True

    def call(self, still, training=None):
        _check_still_shape(still.shape)
        skips = []
        x = still
        for block in self.down_blocks:
            for layer in block:
                x = layer(x, training=training)
            skips.append(x)
        code = self.flatten(self.to_code(x))
        return code, skips[:NUM_SKIPS]

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=list(self.filters), code_dim=self.code_dim, norm_groups=self.norm_groups
        )
        return config


def _check_still_shape(shape) -> None:
    expected = (IMAGE_HEIGHT, IMAGE_WIDTH, IMAGE_CHANNELS)
    if tuple(shape[1:]) != expected:
        raise ValueError(
            f"the still must be [batch, {', '.join(map(str, expected))}] (height, width, RGB), "
            f"got {tuple(shape)}; crop and resize the face first."
        )
