"""bin/generate's default backend: the faster float one for the CPU, said in the summary."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from lipsync_tf import cpu
from lipsync_tf.export.contract import TFLITE_NAME
from lipsync_tf.inference import runners
from lipsync_tf.inference.runners import default_backend, make_runner


@pytest.mark.parametrize("avx512, expected", [(True, "savedmodel"), (False, "tflite")])
def test_auto_runs_the_savedmodel_on_avx512_and_the_float_file_elsewhere(
    tiny_export, monkeypatch, avx512, expected
):
    monkeypatch.setattr(cpu, "has_avx512", lambda: avx512)
    backend, reason = default_backend(tiny_export[1])
    assert backend == expected and "AVX-512" in reason
    runner = make_runner(tiny_export[1])  # "auto" is the default
    assert runner.backend == expected and runner.backend_reason == reason


def test_auto_runs_the_savedmodel_when_there_is_no_float_file(tiny_export, tmp_path, monkeypatch):
    monkeypatch.setattr(cpu, "has_avx512", lambda: False)
    export = tmp_path / "no_tflite"
    shutil.copytree(tiny_export[1] / "1", export / "1")
    assert not (export / TFLITE_NAME).exists()
    assert default_backend(export) == ("savedmodel", "the export has no float TFLite file")


def test_the_automatic_choice_gives_the_savedmodels_frames(tiny_export, monkeypatch, rng):
    """Whichever backend "auto" picks, the frames are the SavedModel's (float TFLite: the
    same computation, within a uint8 level)."""
    face = rng.integers(0, 256, (128, 96, 3), dtype=np.uint8)
    audio = (0.3 * np.sin(np.arange(16000) / 9.0)).astype(np.float32)
    frames = {}
    for avx512 in (True, False):
        monkeypatch.setattr(cpu, "has_avx512", lambda avx512=avx512: avx512)
        runner = make_runner(tiny_export[1])
        chunks = runner.iter_chunks(runner.encode_face(face), audio, seed=3)
        frames[runner.backend] = np.concatenate([chunk for _, chunk in chunks]).astype(int)
    assert np.abs(frames["savedmodel"] - frames["tflite"]).max() <= 1


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
