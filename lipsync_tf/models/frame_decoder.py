"""Frame decoder: one frame from (audio code, identity code, noise) and the still's U-Net skips."""

from __future__ import annotations

import functools

import keras
import numpy as np
import tensorflow as tf

from lipsync_tf.config import IMAGE_CHANNELS, IMAGE_HEIGHT, IMAGE_WIDTH, ModelConfig, group_count
from lipsync_tf.models.building import build_sequence, ensure_built, products_in
from lipsync_tf.models.normalization import GroupNormalization


@keras.saving.register_keras_serializable(package="lipsync_tf")
class FrameDecoder(keras.Model):
    """6 transposed convs and 4 convs, alternating, with identity skips before each conv.

    1x1 latent -> tconv 4x3 -> [tconv x2 -> concat skip -> conv] x 4 (8x6 ... 64x48) -> tconv to
    128x96x3 with tanh. Works on single frames; the generator folds time into the batch.

    Options beyond the paper (all off by default):
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

    Each fuse conv sees concat([x, skip, condition]), and a conv over a concatenation is the sum
    of convs over its parts. The skip's part depends on the still alone, so `identity_terms`
    computes it once per still and `decode` adds it to every frame of that still: the same
    weights and, up to float rounding, the same frames as convolving the concatenation, with a
    third less work per frame at the paper's size. The condition is the same at every pixel, so
    its part is nine taps' worth of products per frame, spread over the border-aware positions.
    """

    # What the convolutions multiply in, at inference: "float32", or "bfloat16" (set by
    # `bin/export --conv_dtype`), which oneDNN runs about twice as fast on CPUs with AVX512-BF16
    # or AMX. Weights, sums with the identity terms, normalisation and outputs stay float32.
    # Not part of the config: checkpoints and training are float32 either way.
    conv_dtype = "float32"
    # How inference (training=False, float32) computes the transposed convolutions: "phases"
    # (`transposed_as_convs`: forward convolutions, the same function in fewer and faster
    # kernels) or "layer" (Keras's Conv2DTranspose, TF's backward-data convolution, as
    # training does). The TFLite export traces "phases" too (`tflite.convert_to_tflite`).
    transposed_form = "phases"

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
            GroupNormalization(group_count(width, self.norm_groups), name=f"norm_{suffix}"),
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

    def identity_terms(self, skips) -> list[tf.Tensor]:
        """The still's share of every fuse conv, computed once per still.

        skips: the IdentityEncoder's skips, largest first, each [stills, h, w, c].
        returns: per decoder stage, smallest first, conv(skip, the skip's kernel slice) + bias,
        float32 [stills, h, w, filters[stage]].
        """
        terms = []
        for index, skip in enumerate(reversed(skips)):
            conv = self.fuse_blocks[index][0]
            start = self.filters[index + 1]
            kernel = conv.kernel[:, :, start : start + skip.shape[-1]]
            terms.append(tf.nn.conv2d(skip, kernel, 1, "SAME") + conv.bias)
        return terms

    def identity_shapes(self) -> list[tuple[int, int, int]]:
        """Shapes (without the still axis) of what `identity_terms` returns, in order."""
        stages = len(self.filters) - 1
        return [
            (
                IMAGE_HEIGHT // 2 ** (stages - index),
                IMAGE_WIDTH // 2 ** (stages - index),
                self.filters[index + 1],
            )
            for index in range(stages)
        ]

    def decode(self, latent, identity_terms, condition=None, training=None):
        """Frames from per-frame inputs and per-still `identity_terms`.

        latent: float32 [frames, latent_dim], the frames of each still consecutive (so frames
        is a multiple of the number of stills); identity_terms: `identity_terms(skips)` of the
        stills, [stills, h, w, c] each; condition: [frames, condition_dim] when
        condition_channels > 0. Returns what `call` returns.
        """
        x = keras.ops.reshape(latent, (-1, 1, 1, latent.shape[-1]))
        x = self._run_block(self.seed_block, x, training)
        for index, (up, fuse, term) in enumerate(
            zip(self.up_blocks, self.fuse_blocks, identity_terms, strict=True)
        ):
            x = self._run_block(up, x, training)
            conv = fuse[0]
            height, width, channels = x.shape[1], x.shape[2], x.shape[3]
            y = self._conv(x, conv.kernel[:, :, :channels])
            # Every frame of a still gets that still's term: broadcast, never copied.
            stills = tf.shape(term)[0]
            y = tf.reshape(y, [stills, -1, height, width, conv.filters]) + term[:, None]
            y = tf.reshape(y, [-1, height, width, conv.filters])
            if condition is not None:
                y = y + self._condition_term(index, condition, height, width)
            for layer in fuse[1:]:
                y = layer(y, training=training)
            x = y
        return self._outputs(self._transposed(self.to_rgb, x, training))

    def decode_concatenated(self, latent, skips, condition=None):
        """The paper's formulation, which `decode` computes in parts: each fuse conv over
        concat([x, the frame's skip, the condition tiled over the image]). The reference the
        split computation is tested against (tests/models/test_frame_decoder.py) and timed
        against (bench/generator_speed.py); float32, inference only.

        latent [frames, latent_dim]; skips: per-frame skips, largest first, [frames, h, w, c];
        condition [frames, condition_dim] when condition_channels > 0.
        """
        x = tf.reshape(latent, (-1, 1, 1, latent.shape[-1]))
        for layer in self.seed_block:
            x = layer(x)
        for index, (up, fuse, skip) in enumerate(
            zip(self.up_blocks, self.fuse_blocks, reversed(skips), strict=True)
        ):
            for layer in up:
                x = layer(x)
            parts = [x, skip]
            if condition is not None:
                projected = self.condition_projections[index](condition)
                shape = (tf.shape(x)[0], x.shape[1], x.shape[2], self.condition_channels)
                parts.append(tf.broadcast_to(projected[:, None, None, :], shape))
            x = tf.concat(parts, axis=-1)
            for layer in fuse:  # the conv layer itself, on the concatenation
                x = layer(x)
        return self._outputs(self.to_rgb(x))

    def _outputs(self, output):
        """to_rgb's raw output -> what `call` returns (tanh colour, mask logit, smoothed flow)."""
        if not self.mask_output:
            return keras.ops.tanh(output)
        rgb, rest = output[..., :IMAGE_CHANNELS], output[..., IMAGE_CHANNELS:]
        parts = [keras.ops.tanh(rgb), rest[..., :1]]
        if self.flow_output:
            # A displacement is smooth; averaging over 7x7 pixels keeps the transposed conv's
            # checkerboard out of it.
            parts.append(keras.ops.average_pool(rest[..., 1:], 7, strides=1, padding="same"))
        return keras.ops.concatenate(parts, axis=-1)

    def _run_block(self, block, x, training):
        """A (transposed conv, normalisation, activation) block."""
        x = self._transposed(block[0], x, training)
        for layer in block[1:]:
            x = layer(x, training=training)
        return x

    def _conv(self, x, kernel):
        """A stride-1 "same" convolution of float32 x, its products in `conv_dtype`."""
        conv = functools.partial(tf.nn.conv2d, strides=1, padding="SAME")
        return products_in(self.conv_dtype, conv, x, kernel)

    def _transposed(self, layer, x, training=None):
        """A Conv2DTranspose layer's output for float32 x, its products in `conv_dtype`."""
        if self.conv_dtype == "float32":
            if self.transposed_form == "phases" and not training:
                return transposed_as_convs(layer, x)
            return layer(x)
        _, height, width, filters = layer.compute_output_shape(x.shape)
        shape = tf.stack([tf.shape(x)[0], height, width, filters])
        transposed = functools.partial(
            tf.nn.conv2d_transpose,
            output_shape=shape,
            strides=layer.strides,
            padding=layer.padding.upper(),
        )
        return products_in(self.conv_dtype, transposed, x, layer.kernel) + layer.bias

    def _condition_term(self, index, condition, height, width):
        """The fuse conv's share of the condition tiled over an image of height x width.

        A 3x3 conv with zero padding over a constant image takes only nine values per frame:
        each pixel sums the kernel taps that land inside the image, and which those are depends
        only on whether the pixel is in the first, an inner or the last row, and the same for
        columns. So: nine products per frame, then spread over the image by row and column.
        """
        conv = self.fuse_blocks[index][0]
        channels, filters = self.condition_channels, conv.filters
        kernel = conv.kernel[:, :, conv.kernel.shape[2] - channels :]  # [3, 3, channels, F]
        # [channels, row class, column class, F]: the taps inside for each kind of pixel.
        kernel = tf.einsum("ay,bx,yxcf->cabf", _TAPS_INSIDE, _TAPS_INSIDE, kernel)
        projected = self.condition_projections[index](condition)
        values = tf.linalg.matmul(projected, tf.reshape(kernel, [channels, 9 * filters]))
        values = tf.reshape(values, [-1, 3, 3, filters])
        values = tf.gather(values, _border_classes(height), axis=1)
        return tf.gather(values, _border_classes(width), axis=2)

    def call(self, inputs, training=None):
        latent, skips = inputs[0], inputs[1]
        condition = inputs[2] if self.condition_channels else None
        # Per-frame skips: every frame is its own still.
        return self.decode(latent, self.identity_terms(skips), condition, training=training)

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


# The one-convolution form of a 4x4 stride-2 transposed conv multiplies (h + 1)(w + 1) / (h w)
# times the layer's products; above 10 % extra (inputs up to 16x12) each phase is its own conv.
_ONE_CONV_MAX_EXTRA = 0.10


def transposed_as_convs(layer, x):
    """What `layer` (a Conv2DTranspose of this decoder) computes from x, as forward convolutions.

    TF runs a transposed convolution as the gradient of a convolution, which oneDNN runs far
    slower than a forward one on AVX2 (issue 33: the decoder's chunk 1.7x faster with these
    forms, the same on AVX-512). The same sums as forward kernels:
    - the seed, a (4, 3) "valid" transposed conv of a 1x1 input: one matmul;
    - a 4x4 stride-2 "same" one: output pixel (2i + a, 2j + b) sums only the 2x2 input pixels
      (i - 1 + a, i + a) x (j - 1 + b, j + b) through the kernel taps of its phase (a, b).
      On small inputs each phase is a 2x2 convolution of its own, the four interleaved into the
      output; on large ones the four are one 2x2 convolution of the input padded by a pixel,
      with 4x the filters, `depth_to_space` putting each phase's pixels in place and the outer
      ring, which no phase uses, cut off: a few per cent more products in one large, fast one.
    Same weights and, up to float rounding, the same outputs (tests/models/test_frame_decoder.py).
    """
    kernel, bias = layer.kernel, layer.bias  # kernel [kh, kw, filters, channels]
    kh, kw, filters, channels = kernel.shape
    height, width = x.shape[1], x.shape[2]
    if (height, width) == (1, 1) and layer.padding == "valid":
        weights = tf.reshape(tf.transpose(kernel, [3, 0, 1, 2]), [channels, kh * kw * filters])
        out = tf.reshape(
            tf.linalg.matmul(tf.reshape(x, [-1, channels]), weights), [-1, kh, kw, filters]
        )
        return out + bias if bias is not None else out
    if (kh, kw) != (4, 4) or tuple(layer.strides) != (2, 2) or layer.padding != "same":
        return layer(x)
    # Rows of the kernel that output row 2i + a reads, for input rows (i - 1 + a, i + a).
    taps = {0: [3, 1], 1: [2, 0]}

    def phase_kernel(a, b):  # [2, 2, channels, filters]
        phase = tf.gather(tf.gather(kernel, taps[a], axis=0), taps[b], axis=1)
        return tf.transpose(phase, [0, 1, 3, 2])

    if (height + 1) * (width + 1) > (1 + _ONE_CONV_MAX_EXTRA) * height * width:
        pads = {0: [1, 0], 1: [0, 1]}  # phase a reads rows i - 1 + a and i + a
        rows = []
        for a in (0, 1):
            phases = [
                tf.nn.conv2d(x, phase_kernel(a, b), 1, [[0, 0], pads[a], pads[b], [0, 0]])
                for b in (0, 1)
            ]
            rows.append(tf.stack(phases, axis=3))  # [frames, h, w, b, filters]
        out = tf.reshape(tf.stack(rows, axis=2), [-1, 2 * height, 2 * width, filters])
        return out + bias if bias is not None else out
    # depth_to_space puts block (p, q) of output pixel (i, j) at (2i + p, 2j + q). Block
    # (p, q) holds phase (1 - p, 1 - q): its pixel lands one row and column late, which the
    # crop undoes.
    weights = tf.concat([phase_kernel(1 - p, 1 - q) for p in (0, 1) for q in (0, 1)], axis=-1)
    out = tf.nn.conv2d(x, weights, 1, [[0, 0], [1, 1], [1, 1], [0, 0]])
    if bias is not None:
        out = out + tf.tile(bias, [4])
    return tf.nn.depth_to_space(out, 2)[:, 1:-1, 1:-1, :]


# Row a: which of the kernel's rows y (0 above, 1 level, 2 below) read inside the image for a
# pixel in the first row (a = 0), an inner row (1) or the last row (2); the same for columns.
_TAPS_INSIDE = np.array([[0, 1, 1], [1, 1, 1], [1, 1, 0]], np.float32)


def _border_classes(size: int) -> np.ndarray:
    """int32 [size]: 0 for the first position, 2 for the last, 1 between (size >= 2)."""
    return np.array([0] + [1] * (size - 2) + [2], np.int32)
