"""Shared fixtures: tiny model configs, deterministic seeds and the real media in ../shared/data."""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from lipsync_tf.config import ModelConfig

SHARED_DATA = Path(
    os.environ.get("LIPSYNC_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


@pytest.fixture
def shared_data() -> Path:
    """The real talking-face material beside the repo; tests needing it skip when it is absent."""
    if not (SHARED_DATA / "SOURCES.md").is_file():
        pytest.skip(
            f"real test media not found at {SHARED_DATA}; put shared/ beside the repo or set "
            "LIPSYNC_SHARED_DATA"
        )
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _seed_everything():
    keras.utils.set_random_seed(1234)


@pytest.fixture
def tiny_config() -> ModelConfig:
    return ModelConfig.tiny()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
