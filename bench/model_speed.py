"""Two or more exported models side by side: `bin/generate` end to end, as a user runs it.

    python bench/model_speed.py --model exported_models/lipsync --model /tmp/new_export \
        [--backend auto --backend tflite_int8] [--seconds 60] [--repeats 3]

For every model and backend, `bin/generate` runs as a fresh process (start-up, model loading,
face crop, generation, compositing, provenance marks and encoding included) on the bundled photo
with the bundled speech repeated to `--seconds`; runs are interleaved (model by model within each
repeat) so a busy machine slows them alike. Prints the median wall time, how many times faster
than real time that is, and each model's time over the first model's, per backend, with the CPU
the numbers were measured on.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PHOTO = REPO / "examples" / "still.jpg"
SPEECH = REPO / "examples" / "speech.wav"

from lipsync_tf.cpu import describe  # noqa: E402


def long_speech(folder: Path, seconds: float) -> Path:
    audio, rate = soundfile.read(SPEECH, dtype="float32")
    repeats = int(np.ceil(seconds * rate / len(audio)))
    path = folder / f"speech_{seconds:g}s.wav"
    soundfile.write(path, np.tile(audio, repeats)[: int(seconds * rate)], rate)
    return path


def run_generate(model: str, backend: str, audio: Path, output: Path) -> float:
    command = [
        sys.executable,
        str(REPO / "bin" / "generate"),
        f"--image={PHOTO}",
        f"--audio={audio}",
        f"--output={output}",
        f"--model={model}",
        f"--backend={backend}",
        "--overwrite",
        "--noprogress",
    ]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(
            f"model_speed: bin/generate failed for {model} ({backend}): {result.stderr[-500:]}"
        )
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="repeat for each model")
    parser.add_argument("--backend", action="append", help="default: auto, savedmodel, tflite_int8")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    backends = args.backend or ["auto", "savedmodel", "tflite_int8"]

    print(f"CPU: {describe()}")
    print(f"bin/generate, fresh process, {args.seconds:g} s of speech, {args.repeats} repeats")
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        audio = long_speech(Path(folder), args.seconds)
        for _ in range(args.repeats):
            for backend in backends:
                for model in args.model:
                    output = Path(folder) / "out.mp4"
                    elapsed = run_generate(model, backend, audio, output)
                    times.setdefault((model, backend), []).append(elapsed)
    for backend in backends:
        print(f"\n{backend}:")
        first = statistics.median(times[(args.model[0], backend)])
        for model in args.model:
            runs = times[(model, backend)]
            median = statistics.median(runs)
            each = ", ".join(f"{t:.1f}" for t in runs)
            print(
                f"  {model}: {median:.1f} s median ({each}), {args.seconds / median:.1f}x real "
                f"time, {median / first:.2f}x the first model's time"
            )


if __name__ == "__main__":
    main()
