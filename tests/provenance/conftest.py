"""Real generated videos for the provenance tests, made once per session.

`made_video` is the shipped model's output (a real photo from ../shared/data speaking 8 s of real
speech, both marks on); the transformations of issue 31 are applied to it with PyAV.
"""

from pathlib import Path

import pytest

from lipsync_tf.inference.generate import GenerateOptions, generate_video
from lipsync_tf.inference.runners import resolve_saved_model
from lipsync_tf.provenance.robustness import TRANSFORMATIONS, reencode
from tests.conftest import SHARED_DATA
from tests.export.helpers import exported_tiny

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "exported_models" / "lipsync"
SHIPPED_VERSION = resolve_saved_model(SHIPPED).name  # the version bin/generate runs by default
PHOTO = "stills/sadtalker_happy.png"  # 256x256
SPEECH = "audio/sadtalker_RD_Radio31_000.wav"  # 8.0 s


def _require_shared_data() -> Path:
    if not (SHARED_DATA / "SOURCES.md").is_file():
        pytest.skip(f"real test media not found at {SHARED_DATA}; set LIPSYNC_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def made_video(tmp_path_factory) -> Path:
    shared = _require_shared_data()
    output = tmp_path_factory.mktemp("provenance") / "happy_speaking.mp4"
    # The SavedModel, whatever the default backend picks on this CPU: the tests check its hash.
    options = GenerateOptions(model=str(SHIPPED), backend="savedmodel", progress=False)
    generate_video(shared / PHOTO, shared / SPEECH, output, options)
    return output


@pytest.fixture(scope="session")
def transformed(made_video) -> dict[str, Path]:
    """name -> `made_video` after each of the three transformations."""
    return {
        name: reencode(made_video, made_video.with_name(f"{name}.mp4"), **arguments)
        for name, arguments in TRANSFORMATIONS.items()
    }


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory):
    return exported_tiny(tmp_path_factory)
