"""SavedModels' `serving_default` side by side: what a TF Serving client waits for.

    python bench/serving_speed.py --model exported_models/lipsync/3 --model /tmp/other/1 \
        [--seconds 20] [--repeats 3]

Each model's `serving_default` is loaded once in this process and called on the bundled photo's
128x96 crop with the bundled speech repeated to `--seconds`, round-robin with a 2048x2048 float32
matmul (the yardstick of every speed bench), median over `--repeats` rounds. Prints seconds of
compute per second of video for each, and each model's time over the first model's.
"""

from __future__ import annotations

import argparse

import numpy as np
import soundfile
import tensorflow as tf
from speed_common import REPO, interleaved_medians, matmul_run, where

from lipsync_tf.inference.generate import crop_photo
from lipsync_tf.inference.media import even_crop, load_image
from lipsync_tf.preprocessing.faces import crop_face


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="a SavedModel version dir")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    photo = even_crop(load_image(REPO / "examples" / "still.jpg"))
    face = tf.constant(crop_face(photo, crop_photo(photo, "still.jpg")[0]))
    speech, rate = soundfile.read(REPO / "examples" / "speech.wav", dtype="float32")
    assert rate == 16000, rate
    samples = int(args.seconds * 16000)
    audio = tf.constant(np.resize(speech, samples))
    seed = tf.constant(0, tf.int64)
    runs = {}
    for path in args.model:
        serve = tf.saved_model.load(path).signatures["serving_default"]
        runs[path] = lambda serve=serve: serve(face=face, audio=audio, seed=seed)["frames"].numpy()
    matmul, gflop = matmul_run()
    runs["matmul"] = matmul
    medians = interleaved_medians(runs, args.repeats)

    print(where())
    print(f"serving_default, {args.seconds:g} s of speech, median of {args.repeats} rounds")
    print(f"  yardstick matmul: {gflop / medians['matmul'] / 1e9:.1f} GFLOP/s")
    first = medians[args.model[0]]
    for path in args.model:
        per_second = medians[path] / args.seconds
        print(
            f"  {path}: {medians[path]:.2f} s, {per_second:.3f} s per second of video, "
            f"{medians[path] / first:.2f}x the first"
        )


if __name__ == "__main__":
    main()
