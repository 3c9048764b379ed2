"""The generator: a still photo plus speech features -> a video of that face speaking."""

from __future__ import annotations

import keras
import tensorflow as tf

from lipsync_tf.config import IMAGE_CHANNELS, IMAGE_HEIGHT, IMAGE_WIDTH, ModelConfig
from lipsync_tf.face_geometry import LIP_SHAPE_DIM, lower_face_prior, mask_prior
from lipsync_tf.models.audio_encoder import AudioEncoder
from lipsync_tf.models.building import as_layer, ensure_built
from lipsync_tf.models.frame_decoder import FrameDecoder
from lipsync_tf.models.identity_encoder import IdentityEncoder
from lipsync_tf.models.noise_generator import NoiseGenerator
from lipsync_tf.models.warp import warp_images

# Largest displacement (pixels of the 128x96 crop) a warping generator may move the still by.
MAX_FLOW = 12.0
# A warping generator's direct speech -> displacement path: a coarse field on this grid (8x8-pixel
# cells), linear in the speech condition, upsampled and added to the decoder's finer field.
FLOW_GRID = (16, 12)

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
    of any length runs in constant memory. Whatever depends on the still alone (its code and
    its skips' share of every decoder conv, `FrameDecoder.identity_terms`) is computed once per
    still in `encode_identity`, not once per frame.

    Two options beyond the paper (off by default):
    - `mouth_head`: a linear head on the audio codes predicts each frame's mouth shape (the 40
      normalised lip points minus the speaker's mean shape, divided by `LIP_SHAPE_SCALE`) and the
      decoder is told that shape. Training supervises the head with the real lips and may show
      the decoder the real shape instead (teacher forcing), so the decoder learns to draw a
      given mouth while the head learns to hear it. The decoder is shown `mouth_gain` times
      the head's shape (1 in training; an export may amplify the mouth's motion);
    - a blend mask (`frame_decoder.mask_output`): each frame is mask * drawn + (1 - mask) * still,
      the mask limited to `face_geometry.mask_prior(mask_region)` (the lower face, or the mouth
      alone), so everything speech does not move is the still itself, sharp and unchanged;
    - a warp (`frame_decoder.flow_output`): the still's lower face is first moved by a predicted
      displacement field (within the same prior), so lips part and the jaw drops with the
      photo's own pixels; the drawn pixels then add what a warp cannot (the mouth's inside).
    """

    def __init__(
        self,
        identity_encoder,
        audio_encoder,
        noise_generator,
        frame_decoder,
        seed=None,
        mouth_head=False,
        mouth_gain=1.0,
        mask_region="lower_face",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.identity_encoder = as_layer(identity_encoder)
        self.audio_encoder = as_layer(audio_encoder)
        self.noise_generator = as_layer(noise_generator)
        self.frame_decoder = as_layer(frame_decoder)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="noise_seed")
        self.use_mouth_head = bool(mouth_head)
        self.mouth_gain = float(mouth_gain)
        self.mouth_head = (
            keras.layers.Dense(LIP_SHAPE_DIM, name="mouth_head") if self.use_mouth_head else None
        )
        self.blend_mask = self.frame_decoder.mask_output
        self.mask_region = mask_region
        self.mask_prior = self.flow_prior = None
        if self.blend_mask:
            self.mask_prior = tf.constant(mask_prior(mask_region))
            self.flow_prior = tf.constant(lower_face_prior())
        self.flow_head = None
        if self.frame_decoder.flow_output:
            # Starts at zero: no displacement until the speech asks for one.
            self.flow_head = keras.layers.Dense(
                FLOW_GRID[0] * FLOW_GRID[1] * 2, kernel_initializer="zeros", name="flow_head"
            )

    @classmethod
    def from_model_config(cls, config: ModelConfig, seed: int | None = None) -> Generator:
        return cls(
            identity_encoder=IdentityEncoder.from_model_config(config),
            audio_encoder=AudioEncoder.from_model_config(config),
            noise_generator=NoiseGenerator.from_model_config(config),
            frame_decoder=FrameDecoder.from_model_config(config),
            seed=seed,
            mouth_head=config.mouth_head,
            mouth_gain=config.mouth_gain,
            mask_region=config.mask_region,
            name="generator",
        )

    @property
    def condition_dim(self) -> int:
        """Width of the per-frame speech condition: the audio code, plus the mouth shape."""
        mouth = LIP_SHAPE_DIM if self.use_mouth_head else 0
        return self.audio_encoder.gru_units[-1] + mouth

    def build(self, input_shape):
        ensure_built(self.identity_encoder, tuple(input_shape["still"]))
        ensure_built(self.audio_encoder, tuple(input_shape["audio"]))
        ensure_built(self.noise_generator, (None, None, self.noise_generator.noise_dim))
        if self.mouth_head is not None:
            ensure_built(self.mouth_head, (None, self.audio_encoder.gru_units[-1]))
        if self.flow_head is not None:
            ensure_built(self.flow_head, (None, self.condition_dim))
        self._build_decoder()
        self.built = True

    def _build_decoder(self):
        """Builds the decoder alone (its shapes follow from the config), which `encode_identity`
        needs before the generator has seen any audio."""
        latent_dim = (
            self.condition_dim + self.identity_encoder.code_dim + self.noise_generator.gru_units[-1]
        )
        decoder_inputs = [(None, latent_dim), self.identity_encoder.skip_shapes]
        if self.frame_decoder.condition_channels:
            decoder_inputs.append((None, self.condition_dim))
        ensure_built(self.frame_decoder, tuple(decoder_inputs))

    def use_conv_dtype(self, dtype: str) -> None:
        """Inference: run the audio encoder's and the decoder's convolutions and dense layers
        in `dtype` ("float32" or "bfloat16", `FrameDecoder.conv_dtype`); takes effect in
        functions traced afterwards."""
        self.audio_encoder.conv_dtype = dtype
        self.frame_decoder.conv_dtype = dtype

    def get_initial_state(self, batch_size) -> dict[str, list[tf.Tensor]]:
        return {
            "audio": self.audio_encoder.get_initial_state(batch_size),
            "noise": self.noise_generator.get_initial_state(batch_size),
        }

    def sample_noise(self, batch_size, time):
        """Input noise for `time` frames from the model's own SeedGenerator."""
        return self.noise_generator.sample(batch_size, time, seed=self.seed_generator)

    def encode_identity(self, still, training=None):
        """Everything a still contributes, once per still.

        still [batch, 128, 96, 3] -> (code [batch, identity_dim], the decoder's identity terms
        (`FrameDecoder.identity_terms`, smallest stage first)), plus the still itself when the
        generator blends with it.
        """
        code, skips = self.identity_encoder(still, training=training)
        self._build_decoder()
        terms = self.frame_decoder.identity_terms(skips)
        if self.blend_mask:
            return code, terms, still
        return code, terms

    @property
    def identity_shapes(self) -> list[tuple[int, ...]]:
        """Shapes (without batch) of the parts `encode_identity` returns, flattened in order."""
        shapes = [(self.identity_encoder.code_dim,), *self.frame_decoder.identity_shapes()]
        return [*shapes, STILL_SHAPE] if self.blend_mask else shapes

    def generate(
        self, identity, audio, noise, initial_state=None, teacher=None, training=None
    ) -> dict:
        """The generator's full output for one chunk of audio.

        identity: `encode_identity`'s output; audio [batch, time, window, n_mfcc]; noise
        [batch, time, noise_dim]; teacher (training, needs `mouth_head`): {"shape": real mouth
        shapes [batch, time, 80], "use": [batch] 1 where the decoder draws those instead of the
        head's, 0 elsewhere}.
        Returns {"frames": [batch, time, 128, 96, 3], "state": recurrent state,
                 "mouth_shape": the head's prediction [batch, time, 80] (None without a head),
                 "mask": blend mask [batch, time, 128, 96, 1] (None without blending),
                 "drawn": the decoder's image before blending (None without blending),
                 "flow": the displacement [batch, time, 128, 96, 2] by which the still was
                 warped before blending (None without `warp_still`)}.
        """
        code, terms = identity[0], identity[1]
        batch, time = keras.ops.shape(audio)[:2]  # static where known (fixed-length TFLite)
        if initial_state is None:
            initial_state = self.get_initial_state(batch)
        audio_code, audio_state = self.audio_encoder(
            audio, initial_state=initial_state["audio"], return_state=True, training=training
        )
        noise_code, noise_state = self.noise_generator(
            noise, initial_state=initial_state["noise"], return_state=True, training=training
        )
        condition, predicted = audio_code, None
        if self.mouth_head is not None:
            predicted = self.mouth_head(audio_code)
            # No extra op at gain 1: a trained model's graph (and its quantised files) unchanged.
            shown = predicted if self.mouth_gain == 1.0 else self.mouth_gain * predicted
            if teacher is not None:
                use = teacher["use"][:, None, None]
                shown = use * teacher["shape"] + (1.0 - use) * shown
            condition = tf.concat([audio_code, shown], axis=-1)
        identity_code = tf.repeat(code[:, None, :], time, axis=1)
        latent = tf.concat([condition, identity_code, noise_code], axis=-1)
        latent = tf.reshape(latent, [batch * time, latent.shape[-1]])
        frame_condition = None
        if self.frame_decoder.condition_channels:
            frame_condition = tf.reshape(condition, [batch * time, self.condition_dim])
        # Every frame of an example shares its still's identity terms (broadcast in decode).
        decoded = self.frame_decoder.decode(latent, terms, frame_condition, training=training)
        decoded = tf.reshape(decoded, [batch, time, *STILL_SHAPE[:2], decoded.shape[-1]])
        mask = drawn = flow = None
        if self.blend_mask:
            drawn, logit = decoded[..., :3], decoded[..., 3:4]
            mask = tf.sigmoid(logit) * self.mask_prior
            still = identity[2][:, None]  # every frame of an example blends with its still
            if self.frame_decoder.flow_output:
                flow = decoded[..., 4:6] + self._speech_flow(condition, batch, time)
                flow = MAX_FLOW * tf.tanh(flow / MAX_FLOW) * self.flow_prior
                # Each frame warps its example's still: read in place, never repeated.
                still = warp_images(identity[2], flow)
            decoded = mask * drawn + (1.0 - mask) * still
        return {
            "frames": decoded,
            "state": {"audio": audio_state, "noise": noise_state},
            "mouth_shape": predicted,
            "mask": mask,
            "drawn": drawn,
            "flow": flow,
        }

    def _speech_flow(self, condition, batch, time) -> tf.Tensor:
        """The coarse displacement the speech condition asks for: [batch, time, 128, 96, 2]. A
        linear path from mouth shape to motion, which teacher forcing teaches in few steps."""
        coarse = self.flow_head(tf.reshape(condition, [batch * time, self.condition_dim]))
        coarse = tf.reshape(coarse, [batch * time, *FLOW_GRID, 2])
        fine = tf.image.resize(coarse, STILL_SHAPE[:2], method="bilinear")
        return tf.reshape(fine, [batch, time, *STILL_SHAPE[:2], 2])

    def generate_frames(
        self, identity, audio, noise, initial_state=None, return_state=False, training=None
    ):
        """Frames for one chunk of audio, given `encode_identity`'s output and the chunk's noise."""
        output = self.generate(identity, audio, noise, initial_state, training=training)
        if return_state:
            return output["frames"], output["state"]
        return output["frames"]

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
            mouth_head=self.use_mouth_head,
            mouth_gain=self.mouth_gain,
            mask_region=self.mask_region,
        )
        return config
