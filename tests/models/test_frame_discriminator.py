"""FrameDiscriminator: one logit per frame, conditioned on the still."""

import numpy as np

from lipsync_tf.models import FrameDiscriminator
from tests.models.helpers import stills


def test_frame_discriminator_scores_each_frame_against_the_still(tiny_config, rng):
    discriminator = FrameDiscriminator.from_model_config(tiny_config)
    frame, still = stills(rng, 4), stills(rng, 4)
    logits = discriminator((frame, still)).numpy()
    assert logits.shape == (4, 1)
    # Conditioning is real: the same frame next to another still scores differently.
    assert np.abs(discriminator((frame, stills(rng, 4))).numpy() - logits).max() > 1e-5
