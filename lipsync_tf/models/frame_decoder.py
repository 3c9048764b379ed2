"""Frame decoder: one frame from (audio code, identity code, noise) and the still's U-Net skips."""

from __future__ import annotations

import keras

from lipsync_tf.config import IMAGE_CHANNELS, IMAGE_HEIGHT, IMAGE_WIDTH, ModelConfig, group_count
from lipsync_tf.models.building import build_sequence, ensure_built


@keras.saving.register_keras_serializable(package="lipsync_tf")
class FrameDecoder(keras.Model):
    """6 transposed convs and 4 convs, alternating, with identity skips before each conv.

    1x1 latent -> tconv 4x3 -> [tconv x2 -> concat skip -> conv] x 4 (8x6 ... 64x48) -> tconv to
    128x96x3 with tanh. Works on single frames; the generator folds time into the batch.

    Two options beyond the paper (both off by default):
    - `condition_channels` > 0: a per-frame condition vector (the speech: audio code and mouth
      shape) is projected to this many channels per stage and tiled over the image before each
      conv, so every resolution, not only the 4x3 seed, hears the speech and the skips cannot
      simply win;
    - `mask_output`: a fourth output channel, the logit of the blend mask with which the
      generator keeps the still wherever the speech does not move the face;
    - `flow_output` (with `mask_output`): two more channels, a displacement field (x, y) by which
      the generator warps the still's lower face, so that moving lips and jaw keep the photo's
      own sharp pixels instead of being redrawn.

    inputs: (latent float32 [frames, latent_dim],
             skips: the IdentityEncoder's skips, largest first, each [frames, h, w, c],
             and with condition_channels > 0, condition float32 [frames, condition_dim]).
    returns: float32 [frames, 128, 96, 3] in [-1, 1]; with mask_output, [frames, 128, 96, 4]
    whose last channel is the unbounded mask logit; with flow_output, [frames, 128, 96, 6] whose
    last two channels are the unbounded, smoothed displacement (x, y).
    """

    def __init__(
        self,
        filters=(512, 512, 256, 128, 64),
        norm_groups=8,
        condition_channels=0,
        mask_output=False,
        flow_output=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = tuple(filters)
        self.norm_groups = norm_groups
        self.condition_channels = int(condition_channels)
        self.mask_output = bool(mask_output)
        self.flow_output = bool(flow_output)
        if self.flow_output and not self.mask_output:
            raise ValueError("flow_output needs mask_output (the flow warps the blended still).")
        stages = len(self.filters) - 1
        seed_size = (IMAGE_HEIGHT // 2 ** (stages + 1), IMAGE_WIDTH // 2 ** (stages + 1))
        self.seed_block = self._block(
            keras.layers.Conv2DTranspose(self.filters[0], seed_size, name="tconv0"), "0"
        )
        self.up_blocks, self.fuse_blocks = [], []
        for index, width in enumerate(self.filters[1:], start=1):
            self.up_blocks.append(
                self._block(
                    keras.layers.Conv2DTranspose(
                        width, 4, strides=2, padding="same", name=f"tconv{index}"
                    ),
                    f"up{index}",
                )
            )
            self.fuse_blocks.append(
                self._block(
                    keras.layers.Conv2D(width, 3, padding="same", name=f"conv{index}"),
                    f"fuse{index}",
                )
            )
        self.concats = [keras.layers.Concatenate(name=f"skip{i}") for i in range(stages)]
        self.condition_projections = [
            keras.layers.Dense(self.condition_channels, name=f"condition{i + 1}")
            for i in range(stages if self.condition_channels else 0)
        ]
        self.to_rgb = keras.layers.Conv2DTranspose(
            IMAGE_CHANNELS + int(self.mask_output) + 2 * int(self.flow_output),
            4,
            strides=2,
            padding="same",
            name="to_rgb",
        )

    @classmethod
    def from_model_config(cls, config: ModelConfig, name: str = "frame_decoder") -> FrameDecoder:
        return cls(
            config.decoder_filters,
            config.norm_groups,
            condition_channels=config.decoder_condition_channels,
            mask_output=config.blend_mask,
            flow_output=config.warp_still,
            name=name,
        )

    def _block(self, conv, suffix):
        width = conv.filters
        return [
            conv,
            keras.layers.GroupNormalization(
                group_count(width, self.norm_groups), name=f"norm_{suffix}"
            ),
            keras.layers.ReLU(name=f"act_{suffix}"),
        ]

    def build(self, input_shape):
        latent_shape, skip_shapes = input_shape[0], input_shape[1]
        shape = (latent_shape[0], 1, 1, latent_shape[-1])
        shape = build_sequence(self.seed_block, shape)
        for index, (up, fuse, skip_shape) in enumerate(
            zip(self.up_blocks, self.fuse_blocks, reversed(skip_shapes), strict=True)
        ):
            shape = build_sequence(up, shape)
            channels = shape[-1] + skip_shape[-1]
            if self.condition_channels:
                ensure_built(self.condition_projections[index], tuple(input_shape[2]))
                channels += self.condition_channels
            shape = build_sequence(fuse, (*shape[:-1], channels))
        ensure_built(self.to_rgb, shape)
        self.built = True

    def call(self, inputs, training=None):
        latent, skips = inputs[0], inputs[1]
        condition = inputs[2] if self.condition_channels else None
        x = keras.ops.reshape(latent, (-1, 1, 1, latent.shape[-1]))
        for layer in self.seed_block:
            x = layer(x, training=training)
        for index, (up, concat, fuse, skip) in enumerate(
            zip(self.up_blocks, self.concats, self.fuse_blocks, reversed(skips), strict=True)
        ):
            for layer in up:
                x = layer(x, training=training)
            parts = [x, skip]
            if condition is not None:
                projected = self.condition_projections[index](condition)
                tiled = keras.ops.broadcast_to(
                    projected[:, None, None, :],
                    (keras.ops.shape(x)[0], x.shape[1], x.shape[2], self.condition_channels),
                )
                parts.append(tiled)
            x = concat(parts)
            for layer in fuse:
                x = layer(x, training=training)
        output = self.to_rgb(x)
        if not self.mask_output:
            return keras.ops.tanh(output)
        rgb, rest = output[..., :IMAGE_CHANNELS], output[..., IMAGE_CHANNELS:]
        parts = [keras.ops.tanh(rgb), rest[..., :1]]
        if self.flow_output:
            # A displacement is smooth; averaging over 7x7 pixels keeps the transposed conv's
            # checkerboard out of it.
            parts.append(keras.ops.average_pool(rest[..., 1:], 7, strides=1, padding="same"))
        return keras.ops.concatenate(parts, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=list(self.filters),
            norm_groups=self.norm_groups,
            condition_channels=self.condition_channels,
            mask_output=self.mask_output,
            flow_output=self.flow_output,
        )
        return config
