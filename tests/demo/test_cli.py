"""bin/demo's start-up failures: one line that says the fix, and no folder left behind."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_bin_demo_without_gradio_says_how_to_install_it(tmp_path):
    # A gradio that fails to import, first on the path: what a missing demo extra looks like.
    (tmp_path / "stub" / "gradio").mkdir(parents=True)
    (tmp_path / "stub" / "gradio" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'gradio'\", name='gradio')\n"
    )
    result = subprocess.run(
        [sys.executable, str(REPO / "bin" / "demo")],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "stub"), "TMPDIR": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 1
    assert "bin/demo: the web demo needs the demo extra: pip install -e '.[demo]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("lipsync_demo-*"))


@pytest.mark.large  # imports TensorFlow and Gradio: ~20 s
def test_bin_demo_without_a_model_fails_in_one_line(tmp_path):
    pytest.importorskip("gradio", reason="needs the demo extra: pip install -e '.[demo]'")
    result = subprocess.run(
        [sys.executable, str(REPO / "bin" / "demo"), f"--model={tmp_path / 'none'}"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("bin/demo:")]
    assert errors == [
        f"bin/demo: no SavedModel in {tmp_path / 'none'}; run bin/export (or pass --model)."
    ]
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("lipsync_demo-*"))
