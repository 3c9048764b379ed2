"""SyncNet-style lip-sync expert: do these few frames of a mouth go with this audio?

As in SyncNet (Chung & Zisserman 2016) and Wav2Lip's expert (Prajwal et al. 2020): a face branch
embeds `SYNC_FRAMES` consecutive mouth regions, an audio branch embeds the MFCC windows of the same
frames, and the cosine of the two embeddings, scaled, is the logit of "in sync". Trained on real
clips with audio shifted by several frames as the negatives, then frozen; as a generator loss it
rewards mouths that move with the audio, which a discriminator trained jointly with the generator
teaches much more weakly.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from lipsync_tf.config import IMAGE_CHANNELS
from lipsync_tf.face_geometry import SYNC_COLS, SYNC_ROWS
from lipsync_tf.models.building import build_sequence

# Frames per sync sample (0.2 s at 25 fps, as SyncNet and Wav2Lip).
SYNC_FRAMES = 5


def _branch(filters, strides, prefix):
    layers = []
    for index, (width, stride) in enumerate(zip(filters, strides, strict=True)):
        layers += [
            keras.layers.Conv2D(
                width, 3, strides=stride, padding="same", name=f"{prefix}conv{index}"
            ),
            keras.layers.GroupNormalization(min(8, width), name=f"{prefix}norm{index}"),
            keras.layers.LeakyReLU(0.2, name=f"{prefix}act{index}"),
        ]
    return layers


@keras.saving.register_keras_serializable(package="lipsync_tf")
class SyncExpert(keras.Model):
    """inputs: (frames float32 [batch, SYNC_FRAMES, 128, 96, 3] in [-1, 1],
                audio float32 [batch, SYNC_FRAMES, window, n_mfcc] MFCC windows of those frames).
    returns: logit float32 [batch] (> 0: in sync).
    """

    def __init__(
        self, filters=(32, 64, 96, 128), embedding_dim=128, audio_window=(35, 13), **kwargs
    ):
        super().__init__(**kwargs)
        self.filters = tuple(filters)
        self.embedding_dim = embedding_dim
        self.audio_window = tuple(audio_window)
        self.face_layers = [
            *_branch(self.filters, (2, 2, 2, 2), "face_"),
            keras.layers.Flatten(name="face_flatten"),
            keras.layers.Dense(embedding_dim, name="face_embedding"),
        ]
        self.audio_layers = [
            *_branch(self.filters, (1, 2, 2, 2), "audio_"),
            keras.layers.Flatten(name="audio_flatten"),
            keras.layers.Dense(embedding_dim, name="audio_embedding"),
        ]
        # Cosine similarity in [-1, 1] -> logit; a learnt scale, as in CLIP's temperature.
        self.logit_scale = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(5.0), name="logit_scale"
        )
        self.logit_bias = self.add_weight(shape=(), initializer="zeros", name="logit_bias")

    def build(self, input_shape=None):
        rows = SYNC_ROWS.stop - SYNC_ROWS.start
        cols = SYNC_COLS.stop - SYNC_COLS.start
        build_sequence(self.face_layers, (None, rows // 2, cols // 2, SYNC_FRAMES * IMAGE_CHANNELS))
        build_sequence(self.audio_layers, (None, *self.audio_window, SYNC_FRAMES))
        self.built = True

    def embed_face(self, frames, training=None):
        """[batch, SYNC_FRAMES, 128, 96, 3] -> unit vectors [batch, embedding_dim]."""
        mouth = frames[:, :, SYNC_ROWS, SYNC_COLS, :]
        shape = tf.shape(mouth)
        mouth = tf.reshape(mouth, [-1, shape[2], shape[3], IMAGE_CHANNELS])
        mouth = tf.nn.avg_pool2d(mouth, 2, 2, "VALID")
        rows, cols = mouth.shape[1], mouth.shape[2]
        # Frames as channels: the first conv sees the motion.
        x = tf.reshape(mouth, [shape[0], SYNC_FRAMES, rows, cols, IMAGE_CHANNELS])
        x = tf.reshape(tf.transpose(x, [0, 2, 3, 1, 4]), [shape[0], rows, cols, -1])
        for layer in self.face_layers:
            x = layer(x, training=training)
        return tf.math.l2_normalize(x, axis=-1)

    def embed_audio(self, audio, training=None):
        """[batch, SYNC_FRAMES, window, n_mfcc] -> unit vectors [batch, embedding_dim]."""
        x = tf.transpose(audio, [0, 2, 3, 1])
        for layer in self.audio_layers:
            x = layer(x, training=training)
        return tf.math.l2_normalize(x, axis=-1)

    def call(self, inputs, training=None):
        frames, audio = inputs
        cosine = tf.reduce_sum(
            self.embed_face(frames, training) * self.embed_audio(audio, training), axis=-1
        )
        return self.logit_scale * cosine + self.logit_bias

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=list(self.filters),
            embedding_dim=self.embedding_dim,
            audio_window=list(self.audio_window),
        )
        return config
