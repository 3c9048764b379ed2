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
# CI sets this so that a missing data folder fails the run instead of skipping 60-odd tests.
REQUIRE_SHARED_DATA = os.environ.get("LIPSYNC_REQUIRE_SHARED_DATA", "") not in ("", "0")


def pytest_sessionstart(session):
    if REQUIRE_SHARED_DATA and not (SHARED_DATA / "SOURCES.md").is_file():
        pytest.exit(
            f"LIPSYNC_REQUIRE_SHARED_DATA is set but the real test media is not at {SHARED_DATA} "
            "(no SOURCES.md); put shared/ beside the repo or point LIPSYNC_SHARED_DATA at it.",
            returncode=3,
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
