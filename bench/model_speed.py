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
import tempfile
from pathlib import Path

import numpy as np
import soundfile
from speed_common import REPO, bin_generate, where

PHOTO = REPO / "examples" / "still.jpg"
SPEECH = REPO / "examples" / "speech.wav"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="repeat for each model")
    parser.add_argument("--backend", action="append", help="default: auto, savedmodel, tflite_int8")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    backends = args.backend or ["auto", "savedmodel", "tflite_int8"]

    print(where())
    print(f"bin/generate, fresh process, {args.seconds:g} s of speech, {args.repeats} repeats")
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        audio = Path(folder) / "speech.wav"
        samples, rate = soundfile.read(SPEECH, dtype="float32")
        soundfile.write(audio, np.resize(samples, int(args.seconds * rate)), rate)
        for _ in range(args.repeats):
            for backend in backends:
                for model in args.model:
                    output = Path(folder) / "out.mp4"
                    wall = bin_generate(PHOTO, audio, output, Path(model), backend)[0]
                    times.setdefault((model, backend), []).append(wall)
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
