"""bin/generate's and bin/redub's flags come from the option dataclasses; nothing heavy loads
before the inputs are checked."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from lipsync_tf.inference.generate import (
    AUTO_BACKEND,
    BACKENDS,
    GenerateOptions,
    InferenceOptions,
)
from lipsync_tf.provenance.marks import ProvenanceOptions

REPO = Path(__file__).resolve().parents[2]


def test_the_backend_choices_are_the_runners():
    from lipsync_tf.inference.runners import AUTO
    from lipsync_tf.inference.runners import BACKENDS as RUNNER_BACKENDS

    assert BACKENDS == RUNNER_BACKENDS
    assert AUTO_BACKEND == AUTO == GenerateOptions().backend


@pytest.mark.parametrize(
    "tool, options", [("generate", GenerateOptions), ("redub", InferenceOptions)]
)
def test_help_lists_a_flag_per_option_and_verbosity(tool, options):
    result = subprocess.run(  # absl's --help exits with status 1
        [sys.executable, str(REPO / "bin" / tool), "--help"], capture_output=True, text=True
    )
    for field in (*dataclasses.fields(options), *dataclasses.fields(ProvenanceOptions)):
        assert f"--{field.name}:" in result.stdout or f"--[no]{field.name}:" in result.stdout
    assert "--verbosity" in result.stdout
    assert result.stderr == ""


def test_generating_imports_no_tensorflow_before_the_inputs_are_read():
    result = subprocess.run(
        [sys.executable, "-c", "import sys, lipsync_tf.inference.redub, lipsync_tf.inference.cli;"
         " print(sorted(name for name in sys.modules if name.split('.')[0] in"
         " ('tensorflow', 'keras', 'mediapipe')))"],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    assert result.stdout.strip() == "[]"
