"""The paper-sized generator against SDA's, through its serving signature, on AVX2 and AVX-512.

Issue 33's comparison in one run. Every contestant is a worker process (`speed_common.Worker`)
timing one 25-frame chunk (one second of video) per request, all in the same round-robin
rounds, so load from other jobs falls on all alike:
  - lipsync_tf's paper-sized generator, freshly initialised and exported as bin/export does,
    run through the SavedModel's `generate_chunk` signature (what bin/generate and TF Serving
    call), once as exported now and once as exported before issue 33 (transposed convs as
    Keras's layers), each with oneDNN held to AVX2 (`speed_common.AVX2_ENV`) and with every
    extension this CPU has;
  - the same export with `--conv_dtype bfloat16`: natively where the CPU has AVX512-BF16 or
    AMX; and as a CPU without them runs it. TensorFlow then leaves bfloat16 convolutions to
    its Eigen kernels, which this bench reproduces with oneDNN switched off
    (TF_ENABLE_ONEDNN_OPTS=0: the float ops move to Eigen too, a small part of the work);
    oneDNN held to AVX2 instead refuses the bfloat16 convolutions outright;
  - SDA's generator at its layer sizes in PyTorch (`bench/sda_generator.py`, random weights),
    under the same limits, with a Python that has torch (--torch_python).

Prints seconds of compute per second of video (wall and CPU time, medians over the rounds) and
each as a multiple of SDA's speed on the same code path, and how far the frames of each export
are from the float32 export before issue 33 (uint8 levels).

    python bench/paper_vs_sda.py --torch_python /path/to/venv-with-torch/bin/python
    python bench/paper_vs_sda.py --torch_python ... --threads 1   # one core each

On a machine busy with other jobs, two-thread wall times suffer from the threads of one run
waiting for each other (PyTorch's OpenMP threads most: they spin, which also counts as CPU
time); one thread each compares the kernels alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from speed_common import (
    AVX2_ENV,
    REPO,
    Worker,
    interleaved_worker_medians,
    model_config,
    serve_timings,
    set_threads,
    speech,
    where,
)

from lipsync_tf import cpu

FPS = 25
HERE = Path(__file__).resolve().parent
ONEDNN_OFF = {"TF_ENABLE_ONEDNN_OPTS": "0"}


def export(root: Path, config_name: str) -> dict[str, Path]:
    """{name: export folder}: float32 now, float32 as before issue 33, bfloat16 now."""
    from lipsync_tf.export.saved_model import export_model
    from lipsync_tf.model_dir import build_generator, save_generator_checkpoint
    from lipsync_tf.models.frame_decoder import FrameDecoder

    config = model_config(config_name)
    model_dir = root / "model"
    save_generator_checkpoint(model_dir, build_generator(config), {"model": config.to_dict()})
    exports = {"float32": root / "float32", "bfloat16": root / "bfloat16"}
    export_model(model_dir, exports["float32"])
    export_model(model_dir, exports["bfloat16"], conv_dtype="bfloat16", warn=lambda _: None)
    exports["float32, before issue 33"] = root / "before"
    FrameDecoder.transposed_form = "layer"
    try:
        export_model(model_dir, exports["float32, before issue 33"])
    finally:
        FrameDecoder.transposed_form = "phases"
    return exports


def worker(export_dir: str, frames_path: str, threads: int) -> None:
    """A worker timing one chunk through the SavedModel's generate_chunk signature."""
    from lipsync_tf.inference.runners import SavedModelRunner

    set_threads(threads)
    runner = SavedModelRunner(export_dir, warn=lambda _: None)
    rng = np.random.default_rng(0)
    face = rng.integers(0, 256, (128, 96, 3), dtype=np.uint8)
    identity = runner.encode_face(face)
    waveform = speech(1.0)[None]
    state = runner.initial_state()

    def run():
        return runner._run_chunk(identity, waveform, state, 0, 0, FPS)[0]["frames"]

    np.save(frames_path, run())
    serve_timings(run, f"ready {cpu.describe()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="paper", help="paper (default) or another config")
    parser.add_argument("--torch_python", default=None, help="a Python with torch installed")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--threads", type=int, default=2, help="threads of each contestant (TF, torch)"
    )
    parser.add_argument("--worker", nargs=2, metavar=("EXPORT", "FRAMES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker, args.threads)
        return
    print(where())
    print(f"threads per contestant: {args.threads}")
    with tempfile.TemporaryDirectory(prefix="lipsync_sda_") as temp:
        root = Path(temp)
        exports = export(root, args.config)
        contestants = {}  # name: (export name or None for SDA, environment, code path)
        for path, env in (("AVX2", AVX2_ENV), ("every extension", {})):
            for name in ("float32", "float32, before issue 33"):
                contestants[f"lipsync {name}, {path}"] = (name, env, path)
            if args.torch_python:
                contestants[f"SDA (PyTorch), {path}"] = (None, env, path)
        if cpu.has_native_bfloat16():
            contestants["lipsync bfloat16, AVX512-BF16"] = ("bfloat16", {}, "every extension")
        contestants["lipsync bfloat16 emulated (Eigen), as on AVX2"] = (
            "bfloat16", ONEDNN_OFF, "AVX2"
        )  # fmt: skip
        workers, frames = {}, {}
        for name, (export_name, env, _) in contestants.items():
            if export_name is None:
                argv = [args.torch_python, str(HERE / "sda_generator.py"), "--worker",
                        f"--threads={args.threads}"]  # fmt: skip
            else:
                frames[name] = root / f"frames_{len(frames)}.npy"
                argv = [sys.executable, str(HERE / "paper_vs_sda.py"), "--worker",
                        str(exports[export_name]), str(frames[name]),
                        f"--threads={args.threads}"]  # fmt: skip
            env = {**env, "PYTHONPATH": str(REPO)}
            workers[name] = Worker(argv, env)
            print(f"  {name}: {workers[name].ready.removeprefix('ready ')}", flush=True)
        try:
            seconds = interleaved_worker_medians(workers, args.rounds)
        finally:
            for each in workers.values():
                each.close()
        reference = np.load(frames["lipsync float32, before issue 33, AVX2"]).astype(int)
        print(
            f"\none {FPS}-frame chunk (1 s of video) per request, median of {args.rounds} rounds;"
            " s/s = seconds of compute per second of video"
        )
        print(f"  {'':48s} {'wall s/s':>9s} {'x SDA':>6s} {'CPU s/s':>8s} {'x SDA':>6s} levels")
        for name, (wall, used) in seconds.items():
            sda = seconds.get(f"SDA (PyTorch), {contestants[name][2]}")
            versus = (f"{sda[0] / wall:5.2f}x", f"{sda[1] / used:5.2f}x") if sda else ("  -", "  -")
            levels = ""
            if name in frames:
                diff = np.abs(np.load(frames[name]).astype(int) - reference)
                levels = f"max {diff.max()}, mean {diff.mean():.2f}"
            print(f"  {name:48s} {wall:9.3f} {versus[0]:>6s} {used:8.3f} {versus[1]:>6s} {levels}")
        print(
            "  (x SDA: SDA's time over this one's, on the same code path; levels: frames' "
            "difference from the float32 export before issue 33, AVX2)"
        )


if __name__ == "__main__":
    main()
