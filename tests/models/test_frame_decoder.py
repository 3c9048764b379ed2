"""FrameDecoder: a 128x96 RGB frame in [-1, 1] from a latent and the identity skips."""

import numpy as np

from lipsync_tf.models import FrameDecoder, IdentityEncoder
from tests.models.helpers import stills


def test_frame_decoder_builds_frames_from_latent_and_skips(tiny_config, rng):
    encoder = IdentityEncoder.from_model_config(tiny_config)
    _, skips = encoder(stills(rng, 3))
    decoder = FrameDecoder.from_model_config(tiny_config)
    latent = rng.normal(size=(3, 17)).astype(np.float32)
    frames = decoder((latent, skips)).numpy()
    assert frames.shape == (3, 128, 96, 3)
    assert frames.min() >= -1.0 and frames.max() <= 1.0
    # The skips reach the output: a different still changes the frame for the same latent.
    _, other_skips = encoder(stills(rng, 3))
    assert np.abs(decoder((latent, other_skips)).numpy() - frames).max() > 1e-3


def test_frame_decoder_has_six_transposed_convs_and_four_convs(tiny_config):
    decoder = FrameDecoder.from_model_config(tiny_config)
    names = [layer.name for layer in decoder._flatten_layers(include_self=False, recursive=True)]
    assert sum(name.startswith("tconv") or name == "to_rgb" for name in names) == 6
    assert sum(name.startswith("conv") for name in names) == 4
