"""The generator: a still photo plus speech features -> a video of that face speaking."""

from __future__ import annotations

import keras
import tensorflow as tf

from lipsync_tf.config import IMAGE_CHANNELS, IMAGE_HEIGHT, IMAGE_WIDTH, ModelConfig
from lipsync_tf.models.audio_encoder import AudioEncoder
from lipsync_tf.models.building import as_layer, ensure_built
from lipsync_tf.models.frame_decoder import FrameDecoder
from lipsync_tf.models.identity_encoder import IdentityEncoder
from lipsync_tf.models.noise_generator import NoiseGenerator

STILL_SHAPE = (IMAGE_HEIGHT, IMAGE_WIDTH, IMAGE_CHANNELS)


@keras.saving.register_keras_serializable(package="lipsync_tf")
class Generator(keras.Model):
    """Identity encoder + audio encoder + noise generator + frame decoder.

    inputs: dict with
      "still": float32 [batch, 128, 96, 3] in [-1, 1], the face to animate;
      "audio": float32 [batch, time, window, n_mfcc] (MfccWindows output), any time >= 1;
      "noise": optional float32 [batch, time, noise_dim]; drawn from N(0, noise_std) with the
               model's SeedGenerator when absent. Pass it to make generation repeatable.
    returns: frames float32 [batch, time, 128, 96, 3] in [-1, 1]; with return_state=True also the
    recurrent state (dict of lists of [batch, units]) to continue with the next chunk of audio.

    Generating chunk by chunk with the state carried over (`encode_identity` once, then
    `generate_frames` per chunk) gives the same frames as one call on the whole sequence, so audio
    of any length runs in constant memory.
    """

    def __init__(
        self, identity_encoder, audio_encoder, noise_generator, frame_decoder, seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.identity_encoder = as_layer(identity_encoder)
        self.audio_encoder = as_layer(audio_encoder)
        self.noise_generator = as_layer(noise_generator)
        self.frame_decoder = as_layer(frame_decoder)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="noise_seed")

    @classmethod
    def from_model_config(cls, config: ModelConfig, seed: int | None = None) -> Generator:
        return cls(
            identity_encoder=IdentityEncoder.from_model_config(config),
            audio_encoder=AudioEncoder.from_model_config(config),
            noise_generator=NoiseGenerator.from_model_config(config),
            frame_decoder=FrameDecoder.from_model_config(config),
            seed=seed,
            name="generator",
        )

    def build(self, input_shape):
        ensure_built(self.identity_encoder, tuple(input_shape["still"]))
        ensure_built(self.audio_encoder, tuple(input_shape["audio"]))
        ensure_built(self.noise_generator, (None, None, self.noise_generator.noise_dim))
        latent_dim = (
            self.audio_encoder.gru_units[-1]
            + self.identity_encoder.code_dim
            + self.noise_generator.gru_units[-1]
        )
        ensure_built(self.frame_decoder, ((None, latent_dim), self.identity_encoder.skip_shapes))
        self.built = True

    def get_initial_state(self, batch_size) -> dict[str, list[tf.Tensor]]:
        return {
            "audio": self.audio_encoder.get_initial_state(batch_size),
            "noise": self.noise_generator.get_initial_state(batch_size),
        }

    def sample_noise(self, batch_size, time):
        """Input noise for `time` frames from the model's own SeedGenerator."""
        return self.noise_generator.sample(batch_size, time, seed=self.seed_generator)

    def encode_identity(self, still, training=None):
        """still [batch, 128, 96, 3] -> (code [batch, identity_dim], skips largest first)."""
        return self.identity_encoder(still, training=training)

    def generate_frames(
        self, identity, audio, noise, initial_state=None, return_state=False, training=None
    ):
        """Frames for one chunk of audio, given `encode_identity`'s output and the chunk's noise."""
        code, skips = identity
        batch, time = tf.shape(audio)[0], tf.shape(audio)[1]
        if initial_state is None:
            initial_state = self.get_initial_state(batch)
        audio_code, audio_state = self.audio_encoder(
            audio, initial_state=initial_state["audio"], return_state=True, training=training
        )
        noise_code, noise_state = self.noise_generator(
            noise, initial_state=initial_state["noise"], return_state=True, training=training
        )
        identity_code = tf.repeat(code[:, None, :], time, axis=1)
        latent = tf.concat([audio_code, identity_code, noise_code], axis=-1)
        latent = tf.reshape(latent, [batch * time, latent.shape[-1]])
        # Every frame of an example shares its still's skips.
        frame_skips = [tf.repeat(skip, time, axis=0) for skip in skips]
        frames = self.frame_decoder((latent, frame_skips), training=training)
        frames = tf.reshape(frames, [batch, time, *STILL_SHAPE])
        if return_state:
            return frames, {"audio": audio_state, "noise": noise_state}
        return frames

    def call(self, inputs, initial_state=None, return_state=False, training=None):
        audio = inputs["audio"]
        noise = inputs.get("noise")
        if noise is None:
            noise = self.sample_noise(tf.shape(audio)[0], tf.shape(audio)[1])
        identity = self.encode_identity(inputs["still"], training=training)
        return self.generate_frames(
            identity, audio, noise, initial_state, return_state=return_state, training=training
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            identity_encoder=keras.saving.serialize_keras_object(self.identity_encoder),
            audio_encoder=keras.saving.serialize_keras_object(self.audio_encoder),
            noise_generator=keras.saving.serialize_keras_object(self.noise_generator),
            frame_decoder=keras.saving.serialize_keras_object(self.frame_decoder),
            seed=self.seed,
        )
        return config
