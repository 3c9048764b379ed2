"""ModelConfig: JSON round trip and clear errors for configs that cannot build the paper's nets."""

from pathlib import Path

import pytest

from lipsync_tf.config import AudioFeatureConfig, ModelConfig
from lipsync_tf.errors import ConfigError


@pytest.mark.parametrize("config", [ModelConfig(), ModelConfig.tiny()])
def test_model_config_json_round_trip(tmp_path, config):
    path = tmp_path / "config.json"
    config.to_json(path)
    assert ModelConfig.from_json(path) == config


def test_default_config_is_the_paper_sized_model():
    config = ModelConfig()
    assert config.identity_dim == 50
    assert config.noise_dim == 10 and config.noise_std == 0.77
    assert len(config.audio_gru_units) == 2 and len(config.noise_gru_units) == 2
    assert config.audio == AudioFeatureConfig()
    assert (config.audio.n_mfcc, config.audio.window_frames) == (13, 35)


def test_unknown_keys_are_named(tmp_path):
    values = ModelConfig.tiny().to_dict()
    values["identity_dimension"] = 50
    with pytest.raises(ConfigError, match="identity_dimension"):
        ModelConfig.from_dict(values)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"identity_filters": (8, 8, 8, 8)}, "identity_filters needs 5"),
        ({"noise_gru_units": (10, 4)}, "noise_dim"),
        ({"decoder_filters": (8,)}, "decoder_filters needs 5"),
        ({"spp_levels": ()}, "spp_levels must not be empty"),
    ],
)
def test_model_config_rejects_shapes_the_networks_cannot_take(overrides, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig(**overrides)


def test_unreadable_config_file_is_a_clear_error(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read model config"):
        ModelConfig.from_json(path)


def test_shipped_model_configs_match_the_dataclasses():
    configs = Path(__file__).resolve().parents[1] / "configs" / "models"
    assert ModelConfig.from_json(configs / "paper.json") == ModelConfig()
    assert ModelConfig.from_json(configs / "tiny.json") == ModelConfig.tiny()
