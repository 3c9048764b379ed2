"""The model directory contract: a writer killed mid-checkpoint never leaves a partial one as
the latest, and what it leaves behind is ignored and then removed."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from lipsync_tf import model_dir as model_dir_lib

REPO = Path(__file__).resolve().parents[1]

# Saves a complete checkpoint at step 1, then dies (SIGKILL, as on preemption) halfway through
# writing step 2's file.
_KILLED_WRITER = """
import os, signal, sys
from lipsync_tf import model_dir as model_dir_lib
from lipsync_tf.config import ModelConfig

config = ModelConfig.tiny()
generator = model_dir_lib.build_generator(config)
model_dir_lib.save_generator_checkpoint(sys.argv[1], generator, {"model": config.to_dict()}, 1)


class DiesMidWrite:
    def save_weights(self, path):
        with open(path, "wb") as stream:
            stream.write(b"\\x89HDF\\r\\n\\x1a\\n" + bytes(4096))
        os.kill(os.getpid(), signal.SIGKILL)


model_dir_lib.save_weights_atomically(DiesMidWrite(), model_dir_lib.checkpoint_path(sys.argv[1], 2))
"""


def test_a_writer_killed_mid_checkpoint_leaves_the_previous_one_latest(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3"),
    )  # fmt: skip
    assert completed.returncode == -signal.SIGKILL, completed.stderr[-3000:]
    leftovers = list(model_dir_lib.checkpoint_dir(tmp_path).glob(".tmp-*"))
    assert [path.name.endswith("generator-00000002.weights.h5") for path in leftovers] == [True]
    assert model_dir_lib.checkpoint_steps(tmp_path) == [1]
    _, _, step = model_dir_lib.restore_generator(tmp_path)
    assert step == 1
    assert model_dir_lib.remove_leftovers(tmp_path) == leftovers
    assert not leftovers[0].exists()
    assert model_dir_lib.checkpoint_steps(tmp_path) == [1]
