"""Every model survives get_config -> from_config and a .keras save -> load unchanged."""

import keras
import numpy as np
import pytest

from lipsync_tf.models import (
    AudioEncoder,
    FrameDecoder,
    FrameDiscriminator,
    Generator,
    GruStack,
    IdentityEncoder,
    MouthDiscriminator,
    NoiseGenerator,
    SequenceDiscriminator,
    TemporalPyramidPooling,
)
from lipsync_tf.models.lip_locator import LipLocator
from lipsync_tf.models.lip_reader import LipReader
from tests.models.helpers import audio_windows, frames, generator_inputs, noise, stills


def _cases(config, rng):
    """(model, example input) for each network, tiny-sized."""
    time = 5
    audio = audio_windows(rng, 2, time, config)
    identity_encoder = IdentityEncoder.from_model_config(config)
    _, skips = identity_encoder(stills(rng, 2))
    return {
        "identity_encoder": (identity_encoder, stills(rng, 2)),
        "audio_encoder": (AudioEncoder.from_model_config(config), audio),
        "noise_generator": (NoiseGenerator.from_model_config(config), noise(rng, 2, time, config)),
        "gru_stack": (GruStack((3, 5)), noise(rng, 2, time, config)),
        "frame_decoder": (
            FrameDecoder.from_model_config(config),
            (rng.normal(size=(2, 9)).astype(np.float32), [skip.numpy() for skip in skips]),
        ),
        "generator": (
            Generator.from_model_config(config),
            {**generator_inputs(rng, 2, time, config), "audio": audio},
        ),
        "frame_discriminator": (
            FrameDiscriminator.from_model_config(config),
            (stills(rng, 2), stills(rng, 2)),
        ),
        "sequence_discriminator": (
            SequenceDiscriminator.from_model_config(config),
            (frames(rng, 2, time), audio),
        ),
        "mouth_discriminator": (
            MouthDiscriminator(filters=(4, 8)),
            tuple(rng.uniform(-1, 1, (2, 32, 48, 3)).astype(np.float32) for _ in range(2)),
        ),
        "spp": (TemporalPyramidPooling((1, 3)), rng.normal(size=(2, time, 4)).astype(np.float32)),
        "lip_reader": (LipReader(filters=(4, 4, 8, 8, 8), fc_units=8), stills(rng, 2)),
        "lip_locator": (LipLocator(filters=(4, 4, 8, 8, 8), fc_units=8), stills(rng, 2)),
    }


NAMES = [
    "identity_encoder",
    "audio_encoder",
    "noise_generator",
    "frame_decoder",
    "generator",
    "frame_discriminator",
    "sequence_discriminator",
    "mouth_discriminator",
    "spp",
    "gru_stack",
    "lip_reader",
    "lip_locator",
]


def _outputs(model, inputs):
    return [np.asarray(x) for x in keras.tree.flatten(model(inputs))]


@pytest.mark.parametrize("name", NAMES)
def test_get_config_from_config_round_trip(tiny_config, rng, name):
    model, inputs = _cases(tiny_config, rng)[name]
    expected = _outputs(model, inputs)
    clone = model.__class__.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    clone(inputs)
    clone.set_weights(model.get_weights())
    for got, want in zip(_outputs(clone, inputs), expected, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", NAMES)
def test_keras_file_save_load_gives_identical_outputs(tiny_config, rng, tmp_path, name):
    model, inputs = _cases(tiny_config, rng)[name]
    if not isinstance(model, keras.Model):
        # A bare layer is saved the way it is used: inside a model.
        model = keras.Sequential([keras.Input(inputs.shape[1:]), model])
    expected = _outputs(model, inputs)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    for got, want in zip(_outputs(restored, inputs), expected, strict=True):
        np.testing.assert_array_equal(got, want)
