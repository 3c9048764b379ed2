"""`bin/generate` as a new user runs it, on one minute of speech, per backend and code path.

Issue 33's end-to-end figure: a fresh `bin/generate` process (imports, model load, face crop,
generation, pasting, encoding, provenance marks: everything) on the bundled photo and a minute
of the bundled speech, with each `--backend` (auto, the default, says which it chose), once with
oneDNN held to AVX2 (`speed_common.AVX2_ENV`, the code path of CPUs without AVX-512) and once
with every extension this CPU has. All runs go round-robin in the same rounds, so load from
other jobs falls on all alike; medians of the wall time, of the process's CPU time (user +
system: its work, which other jobs do not inflate) and of the stages `bin/generate` reports.
On a busy machine the wall times say little; speech seconds per CPU second is then the better
guide: an idle machine of the kind runs at least that many times real time, since the process
never takes more wall time than CPU time there unless it waits (it reads and writes only local
files).

What the AVX2 limit does not reach: LiteRT's XNNPACK (the TFLite backends), x264, OpenCV and
MediaPipe pick their kernels from the CPU itself, so their parts run with AVX-512 here either
way; docs/speed.md compares with a real AVX2 host.

    python bench/bin_generate_speed.py [--model exported_models/lipsync] [--rounds 3]

`--baseline_repo DIR` (a checkout of an earlier commit, e.g. `git worktree add /tmp/before
HEAD~1`) also runs that checkout's bin/generate on its own exported model, in the same rounds,
so that a change's gain is measured side by side ("before" against "now").
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
from pathlib import Path

import numpy as np
import soundfile
from speed_common import AVX2_ENV, REPO, bin_generate, where

PHOTO = REPO / "examples" / "still.jpg"
EXAMPLE_SPEECH = REPO / "examples" / "speech.wav"
BACKENDS = ("auto", "savedmodel", "tflite")
PATHS = {"AVX2": AVX2_ENV, "every extension": {}}


def parse_summary(summary: str) -> tuple[str, dict[str, float]]:
    """(backend, {stage: seconds}) from bin/generate's "Wrote ..." line."""
    backend = re.search(r"with the (\w+) backend", summary)[1]
    stages = {name: float(value) for name, value in re.findall(r"(\w+) ([\d.]+) s", summary)}
    return backend, stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "exported_models" / "lipsync"))
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", default=",".join(BACKENDS), help="also: tflite_int8, ...")
    parser.add_argument(
        "--baseline_repo", default=None, help="an earlier checkout to time beside this one"
    )
    args = parser.parse_args()
    print(where())
    backends = args.backends.split(",")
    # (label, checkout, model): this checkout, and the baseline on its own exported model.
    checkouts = [("now", REPO, Path(args.model))]
    if args.baseline_repo:
        baseline = Path(args.baseline_repo).resolve()
        model = baseline / Path(args.model).resolve().relative_to(REPO)
        checkouts.insert(0, ("before", baseline, model))
    with tempfile.TemporaryDirectory(prefix="lipsync_cli_") as temp:
        root = Path(temp)
        speech = root / "speech.wav"
        samples, rate = soundfile.read(EXAMPLE_SPEECH, dtype="float32")
        soundfile.write(speech, np.resize(samples, int(args.seconds * rate)), rate)
        cases = [
            (checkout, path, backend)
            for path in PATHS
            for backend in backends
            for checkout in range(len(checkouts))
        ]
        walls = {case: [] for case in cases}
        cpu = {case: [] for case in cases}
        stages = {case: [] for case in cases}
        used = {}
        for _ in range(args.rounds):
            for case in cases:
                checkout, path, backend = case
                label, repo, model = checkouts[checkout]
                wall, summary, cpu_seconds = bin_generate(
                    PHOTO, speech, root / "out.mp4", model, backend, PATHS[path], repo
                )
                used[case], split = parse_summary(summary)
                walls[case].append(wall)
                cpu[case].append(cpu_seconds)
                stages[case].append(split)
                print(
                    f"  {label}, {path}, {backend}: {wall:.1f} s, CPU {cpu_seconds:.1f} s",
                    flush=True,
                )
    print(
        f"\nbin/generate, fresh process, {PHOTO.name} + {args.seconds:.0f} s of speech, "
        f"{args.model}; median of {args.rounds} rounds (round-robin)"
    )
    for case in cases:
        checkout, path, backend = case
        wall = statistics.median(walls[case])
        used_cpu = statistics.median(cpu[case])
        names = stages[case][0].keys()
        split = ", ".join(
            f"{name} {statistics.median(s[name] for s in stages[case]):.1f}" for name in names
        )
        chose = f" -> {used[case]}" if backend == "auto" else ""
        seconds = args.seconds
        label = f"{checkouts[checkout][0]:6s} " if len(checkouts) > 1 else ""
        print(
            f"  {label}{path:15s} --backend {backend + chose:22s} wall {wall:5.1f} s "
            f"({seconds / wall:4.1f}x), CPU {used_cpu:5.1f} s ({seconds / used_cpu:4.1f}x)"
            f"  [{split}]"
        )
    print(
        "  (AVX2: oneDNN, MKL and PyTorch held to AVX2; XNNPACK, x264, OpenCV and MediaPipe still "
        "use AVX-512 here)"
    )


if __name__ == "__main__":
    main()
