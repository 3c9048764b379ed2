"""Frame and sequence discriminators: logits for frames, and for sequences of any length."""

import numpy as np
import pytest

from lipsync_tf.models import FrameDiscriminator, SequenceDiscriminator
from tests.models.helpers import audio_windows, frames, stills


def test_frame_discriminator_scores_each_frame_against_the_still(tiny_config, rng):
    discriminator = FrameDiscriminator.from_model_config(tiny_config)
    frame, still = stills(rng, 4), stills(rng, 4)
    logits = discriminator((frame, still)).numpy()
    assert logits.shape == (4, 1)
    # Conditioning is real: the same frame next to another still scores differently.
    assert np.abs(discriminator((frame, stills(rng, 4))).numpy() - logits).max() > 1e-5


@pytest.mark.parametrize("time", [1, 2, 7, 75])
def test_sequence_discriminator_accepts_any_length(tiny_config, rng, time):
    discriminator = SequenceDiscriminator.from_model_config(tiny_config)
    logits = discriminator((frames(rng, 2, time), audio_windows(rng, 2, time, tiny_config)))
    assert tuple(logits.shape) == (2, 1)
    assert np.isfinite(logits.numpy()).all()


def test_sequence_discriminator_listens_to_the_audio(tiny_config, rng):
    discriminator = SequenceDiscriminator.from_model_config(tiny_config)
    video = frames(rng, 1, 6)
    audio = audio_windows(rng, 1, 6, tiny_config)
    other_audio = audio_windows(rng, 1, 6, tiny_config)
    assert (
        np.abs(
            discriminator((video, audio)).numpy() - discriminator((video, other_audio)).numpy()
        ).max()
        > 1e-6
    )
