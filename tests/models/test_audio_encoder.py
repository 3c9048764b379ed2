"""AudioEncoder: any length, state carried across chunks, per-frame features."""

import numpy as np
import pytest

from lipsync_tf.models import AudioEncoder
from tests.models.helpers import audio_windows


def _encoder(config) -> AudioEncoder:
    return AudioEncoder.from_model_config(config)


@pytest.mark.parametrize("time", [1, 7, 75])
def test_audio_encoder_gives_one_code_per_frame(tiny_config, rng, time):
    codes = _encoder(tiny_config)(audio_windows(rng, 2, time, tiny_config))
    assert tuple(codes.shape) == (2, time, tiny_config.audio_gru_units[-1])


def test_audio_encoder_state_carries_across_chunks(tiny_config, rng):
    encoder = _encoder(tiny_config)
    audio = audio_windows(rng, 2, 12, tiny_config)
    whole = encoder(audio).numpy()
    first, state = encoder(audio[:, :5], return_state=True)
    second = encoder(audio[:, 5:], initial_state=state)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, atol=1e-5)
    # Without the state the second chunk forgets what came before: the carry matters.
    fresh = encoder(audio[:, 5:]).numpy()
    assert np.abs(fresh - whole[:, 5:]).max() > 1e-4


def test_audio_codes_follow_the_audio(tiny_config, rng):
    encoder = _encoder(tiny_config)
    audio = audio_windows(rng, 1, 4, tiny_config)
    silent = np.zeros_like(audio)
    assert np.abs(encoder(audio).numpy() - encoder(silent).numpy()).max() > 1e-3


def test_code_norm_keeps_frame_codes_at_unit_scale_and_round_trips(tiny_config, rng):
    import dataclasses

    config = dataclasses.replace(tiny_config, audio_code_norm=True)
    encoder = AudioEncoder.from_model_config(config)
    loud = 100.0 * audio_windows(rng, batch=2, time=5, config=config)
    codes = encoder.encode_frames(loud).numpy()
    np.testing.assert_allclose(codes.mean(axis=-1), 0.0, atol=1e-3)
    np.testing.assert_allclose(codes.std(axis=-1), 1.0, atol=0.05)
    clone = AudioEncoder.from_config(encoder.get_config())
    assert clone.code_norm and len(clone.frame_layers) == len(encoder.frame_layers)
    plain = AudioEncoder.from_model_config(tiny_config)
    assert len(plain.frame_layers) == len(encoder.frame_layers) - 1


def test_bfloat16_products_stay_within_bfloat16_rounding_of_float32(tiny_config, rng):
    encoder = AudioEncoder.from_model_config(tiny_config)
    audio = audio_windows(rng, 2, 6, tiny_config)
    exact = encoder(audio).numpy()
    encoder.conv_dtype = "bfloat16"
    try:
        low = encoder(audio).numpy()
    finally:
        encoder.conv_dtype = "float32"
    # Measured over seeds 0-3: mean 5-8e-4, at most 2-4e-3, for codes of mean size 0.07-0.14.
    difference = np.abs(low - exact)
    assert low.dtype == np.float32 and 1e-5 < difference.mean() < 2e-3 and difference.max() < 1e-2
    np.testing.assert_array_equal(encoder(audio).numpy(), exact)  # float32 again
