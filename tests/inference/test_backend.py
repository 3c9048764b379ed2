"""bin/generate's default backend: the float TFLite file, run without TensorFlow."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from lipsync_tf import cpu
from lipsync_tf.errors import InputError
from lipsync_tf.export.contract import TFLITE_NAME
from lipsync_tf.inference import runners
from lipsync_tf.inference.runners import default_backend, make_runner


@pytest.mark.parametrize("avx512", [True, False])
def test_auto_runs_the_float_tflite_file_on_any_cpu(tiny_export, monkeypatch, avx512):
    monkeypatch.setattr(cpu, "has_avx512", lambda: avx512)
    backend, reason = default_backend(tiny_export[1])
    assert backend == "tflite" and "without TensorFlow" in reason
    runner = make_runner(tiny_export[1])  # "auto" is the default
    assert runner.backend == "tflite" and runner.backend_reason == reason


def test_auto_runs_the_savedmodel_when_there_is_no_float_file(tiny_export, tmp_path):
    export = tmp_path / "no_tflite"
    shutil.copytree(tiny_export[1] / "1", export / "1")
    assert not (export / TFLITE_NAME).exists()
    assert default_backend(export) == ("savedmodel", "the export has no float TFLite file")
    assert make_runner(export).backend == "savedmodel"


def test_an_older_version_never_runs_the_newer_versions_tflite_files(tiny_export, tmp_path):
    export = tmp_path / "two_versions"
    shutil.copytree(tiny_export[1], export)
    shutil.copytree(export / "1", export / "2")
    (export / "tflite_info.json").write_text(
        (export / "tflite_info.json").read_text().replace('"version": 1', '"version": 2')
    )
    assert default_backend(export / "1") == (
        "savedmodel",
        "the TFLite files beside it are version 2's",
    )
    assert make_runner(export / "1").backend == "savedmodel"
    assert make_runner(export).backend == "tflite"  # the newest version: its own files
    with pytest.raises(InputError, match="version 2's, not 1's"):
        make_runner(export / "1", "tflite")


def test_the_automatic_choice_gives_the_savedmodels_frames(tiny_export, rng):
    """The float TFLite file that "auto" runs is the same computation as the SavedModel (its
    noise drawn with NumPy): frames within a uint8 level."""
    face = rng.integers(0, 256, (128, 96, 3), dtype=np.uint8)
    audio = (0.3 * np.sin(np.arange(40000) / 9.0)).astype(np.float32)
    frames = {}
    for backend in ("auto", "savedmodel"):
        runner = make_runner(tiny_export[1], backend)
        chunks = runner.iter_chunks(runner.encode_face(face), audio, seed=3)
        frames[backend] = np.concatenate([chunk for _, chunk in chunks]).astype(int)
    assert frames["auto"].shape == frames["savedmodel"].shape == (63, 128, 96, 3)
    assert np.abs(frames["auto"] - frames["savedmodel"]).max() <= 1


def test_an_unknown_backend_lists_auto_among_the_choices(tiny_export):
    with pytest.raises(runners.InputError, match="choose one of auto, savedmodel"):
        make_runner(tiny_export[1], "onnx")


def test_the_tflite_backend_runs_without_importing_tensorflow(tiny_export):
    """LiteRT runs the file and NumPy draws the noise, so start-up skips TensorFlow's import."""
    script = (
        "import sys, numpy as np\n"
        "from lipsync_tf.inference.runners import make_runner\n"
        f"runner = make_runner({str(tiny_export[1])!r}, 'tflite')\n"
        "identity = runner.encode_face(np.zeros((128, 96, 3), np.uint8))\n"
        "frames = [f for _, f in runner.iter_chunks(identity, np.zeros(16000, np.float32), 0)]\n"
        "print(sum(len(f) for f in frames), 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    assert result.stdout.split() == ["25", "False", "False"]
