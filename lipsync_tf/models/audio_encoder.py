"""Audio encoder: per-frame MFCC windows -> temporally coherent speech codes."""

from __future__ import annotations

import functools

import keras
import tensorflow as tf

from lipsync_tf.config import ModelConfig, group_count
from lipsync_tf.models.building import build_sequence, ensure_built, products_in
from lipsync_tf.models.gru_stack import GruStack
from lipsync_tf.models.normalization import GroupNormalization

# Layers 2, 4 and 5 halve the (window, coefficient) patch, as in "You Said That?"'s audio branch.
_CONV_STRIDES = (1, 2, 1, 2, 2)


@keras.saving.register_keras_serializable(package="lipsync_tf")
class AudioEncoder(keras.Model):
    """5 convs + 2 dense layers on each frame's MFCC window, then a GRU stack over time.

    audio: float32 [batch, time, window, n_mfcc] (MfccWindows output), any time >= 1.
    returns: float32 [batch, time, gru_units[-1]]; with return_state=True also the list of final
    GRU states (one [batch, units] per layer) to pass as initial_state for the next chunk.
    """

    # What the per-frame convolutions and dense layers multiply in, at inference (see
    # `FrameDecoder.conv_dtype`); the GRUs and normalisation stay float32.
    conv_dtype = "float32"

    def __init__(
        self,
        conv_filters=(64, 128, 256, 256, 512),
        fc_units=(512, 256),
        gru_units=(256, 256),
        norm_groups=8,
        code_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.code_norm = bool(code_norm)
        self.conv_filters = tuple(conv_filters)
        self.fc_units = tuple(fc_units)
        self.gru_units = tuple(gru_units)
        self.norm_groups = norm_groups
        self.frame_layers = []
        for index, (width, stride) in enumerate(zip(self.conv_filters, _CONV_STRIDES, strict=True)):
            self.frame_layers += [
                keras.layers.Conv2D(width, 3, strides=stride, padding="same", name=f"conv{index}"),
                GroupNormalization(group_count(width, norm_groups), name=f"conv_norm{index}"),
                keras.layers.LeakyReLU(0.2, name=f"conv_act{index}"),
            ]
        self.frame_layers.append(keras.layers.Flatten(name="flatten"))
        for index, units in enumerate(self.fc_units):
            self.frame_layers += [
                keras.layers.Dense(units, name=f"fc{index}"),
                keras.layers.LeakyReLU(0.2, name=f"fc_act{index}"),
            ]
        if self.code_norm:
            # Keeps the GRU inputs at unit scale whatever the dense layers learn.
            self.frame_layers.append(keras.layers.LayerNormalization(name="code_norm"))
        self.grus = GruStack(self.gru_units, name="grus")

    @classmethod
    def from_model_config(cls, config: ModelConfig, name: str = "audio_encoder") -> AudioEncoder:
        return cls(
            config.audio_conv_filters,
            config.audio_fc_units,
            config.audio_gru_units,
            config.norm_groups,
            code_norm=config.audio_code_norm,
            name=name,
        )

    def build(self, input_shape):
        shape = build_sequence(self.frame_layers, (None, input_shape[2], input_shape[3], 1))
        ensure_built(self.grus, (None, None, shape[-1]))
        self.built = True

    def get_initial_state(self, batch_size):
        return self.grus.get_initial_state(batch_size)

    def encode_frames(self, audio, training=None):
        """Per-frame features before the GRUs: [batch, time, fc_units[-1]]."""
        batch, time = keras.ops.shape(audio)[:2]  # static where known (fixed-length TFLite)
        x = tf.reshape(audio, [-1, audio.shape[2], audio.shape[3], 1])
        low_precision = self.conv_dtype != "float32"
        for layer in self.frame_layers:
            if low_precision and isinstance(layer, keras.layers.Conv2D | keras.layers.Dense):
                x = self._low_precision(layer, x)
            else:
                x = layer(x, training=training)
        return tf.reshape(x, [batch, time, self.fc_units[-1]])

    def _low_precision(self, layer, x):
        """A Conv2D or Dense layer's output for float32 x, its products in `conv_dtype`."""
        op = tf.linalg.matmul
        if isinstance(layer, keras.layers.Conv2D):
            op = functools.partial(
                tf.nn.conv2d, strides=layer.strides, padding=layer.padding.upper()
            )
        return products_in(self.conv_dtype, op, x, layer.kernel) + layer.bias

    def call(self, audio, initial_state=None, return_state=False, training=None):
        frame_features = self.encode_frames(audio, training=training)
        return self.grus(
            frame_features,
            initial_state=initial_state,
            return_state=return_state,
            training=training,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            conv_filters=list(self.conv_filters),
            fc_units=list(self.fc_units),
            gru_units=list(self.gru_units),
            norm_groups=self.norm_groups,
            code_norm=self.code_norm,
        )
        return config
