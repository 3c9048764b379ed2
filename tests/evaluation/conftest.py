"""Fixtures shared by the evaluation tests."""

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def tiny_saved_model(tmp_path_factory) -> Path:
    """exported_models/tiny with version 1: a freshly initialised tiny generator, exported."""
    from lipsync_tf.export.saved_model import export_model
    from tests.export.helpers import make_model_dir

    root = tmp_path_factory.mktemp("evaluation_export")
    make_model_dir(root / "model_dir")
    export_model(root / "model_dir", root / "exported_models" / "tiny")
    return root / "exported_models" / "tiny"
