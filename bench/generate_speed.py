"""Inference speed and memory: Keras vs SavedModel vs TFLite vs quantised TFLite, and bin/generate.

Prints, from one run on one machine:
  1. seconds of compute per second of 25 fps video for the four backends, side by side, on the
     same face and speech (the chunked path bin/generate uses, 25 frames per chunk);
  2. end-to-end `generate_video` time split into load / crop / generate / encode (paste + H.264);
  3. peak resident memory of `generate_video` in a fresh process for 10 s vs 10 min of speech.

The model is freshly initialised (speed and memory do not depend on the weights) and exported to
a temporary folder exactly as bin/export does; pass --model_dir to use a trained one.

    python bench/generate_speed.py                      # paper-sized speed, tiny-model memory
    python bench/generate_speed.py --config tiny --memory_config tiny
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import soundfile

from lipsync_tf.config import ModelConfig
from lipsync_tf.export.saved_model import export_model
from lipsync_tf.inference.generate import generate_video
from lipsync_tf.inference.runners import KerasRunner, SavedModelRunner, TfliteRunner
from lipsync_tf.model_dir import build_generator, restore_generator, save_generator_checkpoint

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
STILL = SHARED / "stills" / "sadtalker_people_0.png"
SPEECH = SHARED / "audio" / "makeittalk_M6_04_16k.wav"

# Child process for the memory measurement: generate, then print peak RSS (KiB on Linux).
MEMORY_SCRIPT = """
import os, resource, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from lipsync_tf.inference.generate import generate_video
generate_video(sys.argv[1], sys.argv[2], sys.argv[3], model=sys.argv[4], progress=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def make_export(config_name: str, root: Path, model_dir: str | None) -> tuple[Path, Path]:
    if model_dir is None:
        config = ModelConfig() if config_name == "paper" else ModelConfig.tiny()
        model_dir = root / f"model_{config_name}"
        save_generator_checkpoint(model_dir, build_generator(config), {"model": config.to_dict()})
    export_dir = root / f"exported_{config_name}"
    export_model(model_dir, export_dir, write_tflite=True)
    return Path(model_dir), export_dir


def speech(seconds: float) -> np.ndarray:
    """Real speech from ../shared/data (tiled to length) or, without it, a synthetic voice."""
    samples = int(seconds * 16000)
    if SPEECH.is_file():
        wave, _ = soundfile.read(SPEECH, dtype="float32")
        return np.resize(wave, samples)
    t = np.arange(samples) / 16000
    return (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def time_runner(runner, face, audio, repeats: int) -> float:
    def run():
        identity = runner.encode_face(face)
        for _ in runner.iter_chunks(identity, audio, seed=0):
            pass

    run()  # warm-up: tracing, interpreter allocation
    timings = []
    for _ in range(repeats):
        begin = time.perf_counter()
        run()
        timings.append(time.perf_counter() - begin)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=("paper", "tiny"), default="paper")
    parser.add_argument("--memory_config", choices=("paper", "tiny"), default="tiny")
    parser.add_argument("--model_dir", default=None, help="trained model_dir (default: fresh)")
    parser.add_argument("--seconds", type=float, default=4.0, help="video seconds for speed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--long_minutes", type=float, default=10.0)
    parser.add_argument("--skip_memory", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lipsync_bench_") as temp:
        root = Path(temp)
        begin = time.perf_counter()
        model_dir, export_dir = make_export(args.config, root, args.model_dir)
        print(f"export ({args.config}, with both .tflite): {time.perf_counter() - begin:.1f} s")
        for path in sorted(export_dir.glob("*.tflite")):
            print(f"  {path.name}: {path.stat().st_size / 1e6:.2f} MB")

        generator, values, _ = restore_generator(model_dir)
        config = ModelConfig.from_dict(values["model"])
        rng = np.random.default_rng(0)
        face = rng.integers(0, 256, (128, 96, 3), dtype=np.uint8)
        audio = speech(args.seconds)
        runners = {
            "keras": KerasRunner(generator, config),
            "savedmodel": SavedModelRunner(export_dir),
            "tflite": TfliteRunner(export_dir),
            "tflite_dynamic_range": TfliteRunner(export_dir, quantized=True),
        }
        video_seconds = runners["keras"].num_frames(len(audio)) / config.audio.fps
        print(f"\n1. chunked generation, {video_seconds:.2f} s of video, median of {args.repeats}")
        print(f"  {'backend':22s} {'compute s':>10s} {'s per video s':>14s} {'vs keras':>9s}")
        results = {name: time_runner(r, face, audio, args.repeats) for name, r in runners.items()}
        for name, seconds in results.items():
            print(
                f"  {name:22s} {seconds:10.3f} {seconds / video_seconds:14.3f} "
                f"{results['keras'] / seconds:8.2f}x"
            )

        if STILL.is_file():
            wav = root / "speech.wav"
            soundfile.write(wav, audio, 16000)
            out = root / "out.mp4"
            report = generate_video(STILL, wav, out, runner=runners["savedmodel"], progress=False)
            total = sum(report.seconds.values())
            print(
                f"\n2. generate_video end to end ({report.width}x{report.height} photo, "
                f"paste-back, {report.frames} frames): {total:.2f} s"
            )
            for step, seconds in report.seconds.items():
                print(f"  {step:12s} {seconds:7.2f} s  {100 * seconds / total:5.1f}%")
        else:
            print(f"\n2. skipped: {STILL} not found")

        if args.skip_memory or not STILL.is_file():
            return
        _, memory_export = (
            (model_dir, export_dir)
            if args.memory_config == args.config
            else make_export(args.memory_config, root, None)
        )
        print(f"\n3. peak RSS of generate_video in a fresh process ({args.memory_config} model)")
        for label, seconds in (
            ("10 s", 10.0),
            (f"{args.long_minutes:g} min", 60 * args.long_minutes),
        ):
            wav = root / f"speech_{int(seconds)}.wav"
            soundfile.write(wav, speech(seconds), 16000)
            begin = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-c", MEMORY_SCRIPT, str(STILL), str(wav), str(root / "m.mp4"),
                 str(memory_export)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            peak_mb = int(result.stdout.strip().splitlines()[-1]) / 1024
            elapsed = time.perf_counter() - begin
            print(f"  {label:8s} of speech: peak {peak_mb:7.0f} MB  ({elapsed:.0f} s wall)")


if __name__ == "__main__":
    main()
