"""MediaPipe model files: fetched once at install time, checked by hash, read from a local cache.

mediapipe >= 0.10.30 ships no model files and its Tasks API downloads them at run time, which fails
offline and makes results depend on whatever the server holds that day. The models we need are
members of the `mediapipe==0.10.21` wheel (Apache-2.0) on PyPI. `bin/fetch_models` (run by the
README quick start and by CI right after `pip install`) downloads that one wheel with pip, extracts
the members and checks every byte against the SHA-256 below. At run time nothing is downloaded: a
missing or altered file is a clear error telling the user to run `bin/fetch_models`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from lipsync_tf.errors import LipsyncError

WHEEL_REQUIREMENT = "mediapipe==0.10.21"
# The model files are the same in every platform's wheel; this one is fetched everywhere.
WHEEL_NAME = "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"

# name -> (member path inside the wheel, SHA-256 of the file)
MODEL_FILES = {
    "face_detection_short_range": (
        "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    ),
    "face_detection_full_range_sparse": (
        "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    ),
    "face_landmark": (
        "mediapipe/modules/face_landmark/face_landmark.tflite",
        "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
    ),
}


class ModelFilesMissingError(LipsyncError):
    """A MediaPipe model file is not in the cache (or does not match its hash)."""


def cache_root() -> Path:
    """lipsync_tf's per-user cache: `$LIPSYNC_TF_CACHE` or `~/.cache/lipsync_tf`."""
    return Path(os.environ.get("LIPSYNC_TF_CACHE") or Path.home() / ".cache" / "lipsync_tf")


def cache_dir() -> Path:
    """Where model files live: `cache_root()/mediapipe-0.10.21`."""
    return cache_root() / "mediapipe-0.10.21"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_path(name: str) -> Path:
    """Path of a verified model file; raises `ModelFilesMissingError` with the fix if absent."""
    member, expected = MODEL_FILES[name]
    path = cache_dir() / Path(member).name
    if not path.is_file():
        raise ModelFilesMissingError(
            f"MediaPipe model file {path} is missing; run `bin/fetch_models` once after installing."
        )
    if _sha256(path) != expected:
        raise ModelFilesMissingError(
            f"MediaPipe model file {path} does not match its SHA-256; "
            "run `bin/fetch_models --force` to fetch it again."
        )
    return path


def fetch(force: bool = False, log=print) -> Path:
    """Downloads the wheel with pip (package registry only), extracts and verifies the models."""
    target = cache_dir()
    if not force:
        try:
            for name in MODEL_FILES:
                model_path(name)
            log(f"MediaPipe model files already present and verified in {target}")
            return target
        except ModelFilesMissingError:
            pass
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lipsync_fetch_") as download_dir:
        command = [
            sys.executable, "-m", "pip", "download", WHEEL_REQUIREMENT, "--no-deps",
            "--only-binary=:all:", "--python-version", "3.11",
            "--platform", "manylinux_2_28_x86_64", "--dest", download_dir, "--quiet",
        ]  # fmt: skip
        log(f"Fetching {WHEEL_REQUIREMENT} (model files only) with pip ...")
        pip = subprocess.run(command, capture_output=True, text=True)
        wheel = Path(download_dir) / WHEEL_NAME
        if pip.returncode != 0 or not wheel.is_file():
            errors = [line for line in pip.stderr.splitlines() if line.startswith("ERROR")]
            raise ModelFilesMissingError(
                f"pip could not download {WHEEL_NAME} ({errors[0] if errors else 'no wheel'}); "
                "check the network and pip's index settings (pip config list), then run "
                "`bin/fetch_models` again."
            )
        if _sha256(wheel) != WHEEL_SHA256:
            raise ModelFilesMissingError(
                f"{WHEEL_NAME} from pip's index has SHA-256 {_sha256(wheel)}, not {WHEEL_SHA256}; "
                "nothing was installed. Check which index pip uses (pip config list), then run "
                "`bin/fetch_models` again."
            )
        with zipfile.ZipFile(wheel) as archive:
            for name, (member, expected) in MODEL_FILES.items():
                data = archive.read(member)
                if hashlib.sha256(data).hexdigest() != expected:
                    raise ModelFilesMissingError(
                        f"{member} in {WHEEL_NAME} has an unexpected SHA-256; check which index "
                        "pip uses (pip config list), then run `bin/fetch_models` again."
                    )
                final = target / Path(member).name
                partial = final.with_suffix(".partial")
                partial.write_bytes(data)
                os.replace(partial, final)
                log(f"  {name}: {final}")
    return target
