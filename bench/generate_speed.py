"""Inference speed and memory of the exported model: every backend side by side, and bin/generate.

Prints, from one run on one machine:
  1. seconds of compute per second of 25 fps video for each backend (Keras, SavedModel, TFLite
     float / dynamic-range), side by side with a 2048x2048 float32 matmul timed in the same
     rounds, on the same face and speech (the chunked path bin/generate uses); for the
     SavedModel also the issue's target (twice SDA's speed) scaled to this run's matmul;
  2. `generate_video` on the bundled example (examples/still.jpg + examples/speech.wav) with the
     model loaded, split into its steps, and `bin/generate` as a fresh process;
  3. peak resident memory of `generate_video` in a fresh process for 10 s vs 10 min of speech.

The model is freshly initialised (speed and memory do not depend on the weights) and exported to
a temporary folder exactly as bin/export does; --model_dir uses a trained one and --export an
existing export folder as it is.

    python bench/generate_speed.py                               # paper-sized model
    python bench/generate_speed.py --config cpu_lipsync          # the shipped model's config
    python bench/generate_speed.py --export exported_models/lipsync --skip_memory
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import soundfile
from speed_common import (
    REPO,
    interleaved_medians,
    matmul_run,
    model_config,
    speech,
    target_seconds_per_video_second,
)

from lipsync_tf.config import ModelConfig
from lipsync_tf.export.saved_model import export_model
from lipsync_tf.inference.generate import generate_video
from lipsync_tf.inference.runners import KerasRunner, SavedModelRunner, TfliteRunner
from lipsync_tf.model_dir import build_generator, restore_generator, save_generator_checkpoint

PHOTO = REPO / "examples" / "still.jpg"
EXAMPLE_SPEECH = REPO / "examples" / "speech.wav"

# Child process for the memory measurement: generate, then print peak RSS (KiB on Linux).
MEMORY_SCRIPT = """
import os, resource, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from lipsync_tf.inference.generate import generate_video
generate_video(sys.argv[1], sys.argv[2], sys.argv[3], model=sys.argv[4], progress=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def make_export(config_name: str, root: Path, model_dir: str | None) -> tuple[Path, Path]:
    """(model_dir, export_dir) of a fresh (or the given trained) model, exported with TFLite."""
    if model_dir is None:
        config = model_config(config_name)
        model_dir = root / "model"
        save_generator_checkpoint(model_dir, build_generator(config), {"model": config.to_dict()})
    export_dir = root / "exported"
    export_model(model_dir, export_dir, write_tflite=True)
    return Path(model_dir), export_dir


def chunked_run(runner, face, audio):
    def run():
        identity = runner.encode_face(face)
        for _ in runner.iter_chunks(identity, audio, seed=0):
            pass

    return run


def make_runners(export_dir: Path, model_dir: Path | None) -> dict:
    runners = {}
    if model_dir is not None:
        generator, values, _ = restore_generator(model_dir)
        runners["keras"] = KerasRunner(generator, ModelConfig.from_dict(values["model"]))
    runners["savedmodel"] = SavedModelRunner(export_dir)
    if (export_dir / "generator_chunk.tflite").is_file():
        runners["tflite"] = TfliteRunner(export_dir)
        runners["tflite_dynamic_range"] = TfliteRunner(export_dir, quantized=True)
    return runners


def backend_speeds(runners: dict, seconds: float, repeats: int) -> None:
    config = runners["savedmodel"].config
    rng = np.random.default_rng(0)
    face = rng.integers(0, 256, (128, 96, 3), dtype=np.uint8)
    audio = speech(seconds)
    video_seconds = runners["savedmodel"].num_frames(len(audio)) / config.audio.fps
    matmul, flops = matmul_run()
    runs = {"matmul": matmul}
    runs.update({name: chunked_run(runner, face, audio) for name, runner in runners.items()})
    results = interleaved_medians(runs, repeats, minimum_seconds=0.0)
    matmul_gflops = flops / results.pop("matmul") / 1e9
    print(f"\n1. chunked generation, {video_seconds:.2f} s of video, median of {repeats}")
    print(f"  matmul 2048x2048 float32 in the same rounds: {matmul_gflops:.1f} GFLOP/s")
    print(f"  {'backend':22s} {'compute s':>10s} {'s per video s':>14s} {'x real time':>12s}")
    for name, secs in results.items():
        per = secs / video_seconds
        print(f"  {name:22s} {secs:10.3f} {per:14.3f} {1 / per:12.1f}")
    target = target_seconds_per_video_second(matmul_gflops)
    per = results["savedmodel"] / video_seconds
    print(
        f"  SavedModel target (twice SDA's speed, x 85 / {matmul_gflops:.0f} GFLOP/s): "
        f"<= {target:.3f} s/s; measured {per:.3f} -> {'met' if per <= target else 'missed'}"
    )


def end_to_end(export_dir: Path, runners: dict, root: Path, repeats: int) -> None:
    audio_seconds = soundfile.info(EXAMPLE_SPEECH).duration
    print(
        f"\n2. generate_video on the bundled example ({PHOTO.name} + {EXAMPLE_SPEECH.name}, "
        f"{audio_seconds:.2f} s, paste-back), model loaded, median of {repeats}"
    )
    for name in ("savedmodel", "tflite", "tflite_dynamic_range"):
        if name not in runners:
            continue
        reports = []
        for index in range(repeats + 1):  # the first run warms up
            out = root / f"e2e_{name}_{index}.mp4"
            reports.append(
                generate_video(PHOTO, EXAMPLE_SPEECH, out, runner=runners[name], progress=False)
            )
        steps = reports[1]
        medians = {
            step: float(np.median([r.seconds[step] for r in reports[1:]])) for step in steps.seconds
        }
        medians.pop("load_model", None)
        total = sum(medians.values())
        split = ", ".join(f"{step} {secs:.2f}" for step, secs in medians.items())
        print(f"  {name:22s} {total:6.2f} s = {audio_seconds / total:5.1f}x real time  ({split})")
    begin = time.perf_counter()
    subprocess.run(
        [sys.executable, str(REPO / "bin" / "generate"), f"--image={PHOTO}",
         f"--audio={EXAMPLE_SPEECH}", f"--output={root / 'cli.mp4'}", f"--model={export_dir}",
         "--noprogress"],
        check=True, capture_output=True, cwd=REPO,
    )  # fmt: skip
    wall = time.perf_counter() - begin
    print(f"  bin/generate, fresh process (imports, model load, all of the above): {wall:.2f} s")


def memory(export_dir: Path, root: Path, long_minutes: float) -> None:
    print("\n3. peak RSS of generate_video in a fresh process (SavedModel backend)")
    peaks = []
    for label, seconds in (("10 s", 10.0), (f"{long_minutes:g} min", 60 * long_minutes)):
        wav = root / f"speech_{int(seconds)}.wav"
        soundfile.write(wav, speech(seconds), 16000)
        begin = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", MEMORY_SCRIPT, str(PHOTO), str(wav), str(root / "m.mp4"),
             str(export_dir)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        peaks.append(int(result.stdout.strip().splitlines()[-1]) / 1024)
        elapsed = time.perf_counter() - begin
        print(f"  {label:8s} of speech: peak {peaks[-1]:7.0f} MB  ({elapsed:.0f} s wall)")
    print(f"  ratio {peaks[1] / peaks[0]:.3f} (target <= 1.2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="paper", help="paper, cpu_lipsync, tiny or a JSON")
    parser.add_argument("--model_dir", default=None, help="trained model_dir (default: fresh)")
    parser.add_argument("--export", default=None, help="an existing export folder, as it is")
    parser.add_argument("--seconds", type=float, default=4.0, help="video seconds for speed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--long_minutes", type=float, default=10.0)
    parser.add_argument("--skip_end_to_end", action="store_true")
    parser.add_argument("--skip_memory", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lipsync_bench_") as temp:
        root = Path(temp)
        if args.export:
            export_dir, model_dir = Path(args.export), None
            print(f"export: {export_dir} as it is")
        else:
            begin = time.perf_counter()
            model_dir, export_dir = make_export(args.config, root, args.model_dir)
            source = args.model_dir or f"fresh {args.config}"
            print(f"export ({source}, with .tflite): {time.perf_counter() - begin:.1f} s")
        for path in sorted(export_dir.glob("*.tflite")):
            print(f"  {path.name}: {path.stat().st_size / 1e6:.2f} MB")
        runners = make_runners(export_dir, model_dir)
        backend_speeds(runners, args.seconds, args.repeats)
        if not args.skip_end_to_end:
            end_to_end(export_dir, runners, root, args.repeats)
        if not args.skip_memory:
            memory(export_dir, root, args.long_minutes)


if __name__ == "__main__":
    main()
