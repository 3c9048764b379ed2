"""SequenceDiscriminator: one logit per clip of any length, conditioned on the audio."""

import numpy as np
import pytest
import tensorflow as tf

from lipsync_tf.models import SequenceDiscriminator
from tests.models.helpers import audio_windows, frames


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
    score = discriminator((video, audio)).numpy()
    np.testing.assert_array_equal(discriminator((video, audio)).numpy(), score)  # no noise
    # Other audio moves the logit. Measured over 11 initialisations and inputs (keras seeds
    # 0-9 and 1234): 2.0e-3 to 0.15, 0.056 here; the bound is 4x below the smallest. Audio
    # that never reached the logit would move it by exactly 0 (repeat calls are bit-identical).
    assert np.abs(discriminator((video, other_audio)).numpy() - score).max() > 5e-4


def test_sequence_discriminator_graph_takes_any_length_without_retracing(tiny_config, rng):
    discriminator = SequenceDiscriminator.from_model_config(tiny_config)
    window, coefficients = tiny_config.audio.window_frames, tiny_config.audio.n_mfcc
    score = tf.function(
        lambda video, audio: discriminator((video, audio)),
        input_signature=[
            tf.TensorSpec([None, None, 128, 96, 3], tf.float32),
            tf.TensorSpec([None, None, window, coefficients], tf.float32),
        ],
    )
    for time in (1, 4, 9):
        video, audio = frames(rng, 2, time), audio_windows(rng, 2, time, tiny_config)
        eager = discriminator((video, audio)).numpy()  # builds the variables before tracing
        np.testing.assert_allclose(score(video, audio).numpy(), eager, atol=1e-5)
    assert score.experimental_get_tracing_count() == 1
