"""Generator speed at batch 1: compute seconds per second of 25 fps video, eager vs tf.function.

Also prints each sub-model's parameter count. Both modes run side by side in one process on the
same inputs, so their ratio is meaningful even on a busy machine.

    python bench/generator_speed.py                 # paper-sized model, 2 s of video
    python bench/generator_speed.py --seconds 4 --repeats 5
    python bench/generator_speed.py --config tiny
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from lipsync_tf.audio import MfccWindows
from lipsync_tf.config import ModelConfig
from lipsync_tf.models import FrameDiscriminator, Generator, SequenceDiscriminator


def _median_seconds(run, repeats: int) -> float:
    run()  # warm-up: tracing, variable creation, oneDNN kernel selection
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=("paper", "tiny"), default="paper")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds of video to generate")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    config = ModelConfig() if args.config == "paper" else ModelConfig.tiny()
    mfcc = MfccWindows(config.audio)
    samples = int(args.seconds * config.audio.sample_rate)
    rng = np.random.default_rng(0)
    waveform = (0.1 * rng.normal(size=(1, samples))).astype(np.float32)
    inputs = {
        "still": rng.uniform(-1, 1, (1, 128, 96, 3)).astype(np.float32),
        "audio": mfcc(waveform),
    }
    num_frames = int(inputs["audio"].shape[1])
    video_seconds = num_frames / config.audio.fps
    noise = config.noise_std * rng.normal(size=(1, num_frames, config.noise_dim))
    inputs["noise"] = noise.astype(np.float32)

    generator = Generator.from_model_config(config)
    generator(inputs)
    frame_disc = FrameDiscriminator.from_model_config(config)
    frame_disc((inputs["still"], inputs["still"]))
    seq_disc = SequenceDiscriminator.from_model_config(config)
    seq_disc((np.zeros((1, 2, 128, 96, 3), np.float32), inputs["audio"][:, :2]))

    print(f"config: {args.config}; video: {num_frames} frames = {video_seconds:.2f} s at batch 1")
    print(f"threads: intra-op {tf.config.threading.get_intra_op_parallelism_threads() or 'auto'}")
    print("\nparameters")
    for model in (
        generator.identity_encoder,
        generator.audio_encoder,
        generator.noise_generator,
        generator.frame_decoder,
        generator,
        frame_disc,
        seq_disc,
    ):
        print(f"  {model.name:24s} {model.count_params():>12,d}")

    compiled = tf.function(lambda x: generator(x, training=False), reduce_retracing=True)
    results = {
        "eager": _median_seconds(lambda: generator(inputs, training=False), args.repeats),
        "tf.function": _median_seconds(lambda: compiled(inputs), args.repeats),
    }
    print(f"\nspeed (median of {args.repeats} runs)")
    print(f"  {'mode':12s} {'compute s':>10s} {'s per video s':>14s} {'x real time':>12s}")
    for mode, seconds in results.items():
        per_video_second = seconds / video_seconds
        print(f"  {mode:12s} {seconds:10.3f} {per_video_second:14.3f} {1 / per_video_second:12.2f}")
    print(f"\n  tf.function speed-up over eager: {results['eager'] / results['tf.function']:.2f}x")


if __name__ == "__main__":
    main()
