"""The paper's networks as Keras 3 subclassed models, one per file."""

from lipsync_tf.models.audio_encoder import AudioEncoder
from lipsync_tf.models.frame_decoder import FrameDecoder
from lipsync_tf.models.frame_discriminator import FrameDiscriminator
from lipsync_tf.models.generator import Generator
from lipsync_tf.models.gru_stack import GruStack
from lipsync_tf.models.identity_encoder import IdentityEncoder
from lipsync_tf.models.noise_generator import NoiseGenerator
from lipsync_tf.models.sequence_discriminator import SequenceDiscriminator
from lipsync_tf.models.spp import TemporalPyramidPooling

__all__ = [
    "AudioEncoder",
    "FrameDecoder",
    "FrameDiscriminator",
    "Generator",
    "GruStack",
    "IdentityEncoder",
    "NoiseGenerator",
    "SequenceDiscriminator",
    "TemporalPyramidPooling",
]
