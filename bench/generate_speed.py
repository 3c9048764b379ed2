"""Inference speed and memory of the exported model: every backend side by side, and bin/generate.

Prints, from one run on one machine:
  1. seconds of compute per second of 25 fps video for each backend (Keras, SavedModel at 10,
     25 and 50 frames per call, TFLite float / dynamic-range / int8 with 1 and 2 LiteRT
     threads), side by side with a 2048x2048 float32 matmul timed in the same rounds, on the
     same real face and speech (the chunked path bin/generate uses); for the SavedModel also the
     issue's target (twice SDA's speed) scaled to this run's matmul; and the int8 model's drift
     from the SavedModel: mean pixel error, and the correlation of the face mesh's mouth opening
     on the two models' frames;
  2. `generate_video` on the bundled example (examples/still.jpg + examples/speech.wav) with the
     model loaded, split into its steps, with encoding overlapping generation and without, also
     on the photo enlarged to 1280x1280 and placed in a 4000x3000 picture (scaled to the default
     `--max_output_pixels` and at full size); and `bin/generate` as a fresh process on the
     example, on a minute of speech, and on that minute with the 4000x3000 picture;
  3. peak resident memory of `generate_video` in a fresh process for 10 s vs 10 min of speech.

The model is freshly initialised (speed and memory do not depend on the weights) and exported to
a temporary folder exactly as bin/export does, the int8 file calibrated on the shared clips, and
once more with `--conv_dtype bfloat16` (SavedModel only, timed and its drift reported beside the
others); --model_dir uses a trained one and --export an existing export folder as it is.

    python bench/generate_speed.py                               # paper-sized model
    python bench/generate_speed.py --config cpu_lipsync          # the shipped model's config
    python bench/generate_speed.py --export exported_models/lipsync --skip_memory
    ONEDNN_MAX_CPU_ISA=AVX2 python bench/generate_speed.py --config cpu_mouth --skip_memory

Part 2 also runs `bin/generate` as a fresh process on the minute of speech with each backend
(auto, the default, says which it chose). The bfloat16 export is left out on a CPU without
native bfloat16 (`lipsync_tf.cpu`), where oneDNN held to AVX2 refuses it.
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

import cv2
import numpy as np
import soundfile
from PIL import Image
from speed_common import (
    REPO,
    SHARED,
    bin_generate,
    bin_generate_seconds,
    interleaved_medians,
    matmul_run,
    model_config,
    speech,
    target_seconds_per_video_second,
    where,
)

from lipsync_tf import cpu
from lipsync_tf.config import ModelConfig
from lipsync_tf.export.contract import CHUNK_FRAMES, TFLITE_FILES
from lipsync_tf.export.saved_model import export_model
from lipsync_tf.face_geometry import MIN_FACE_SCORE, mouth_opening
from lipsync_tf.inference.generate import GenerateOptions, generate_video
from lipsync_tf.inference.media import MAX_OUTPUT_PIXELS, load_image
from lipsync_tf.inference.runners import KerasRunner, SavedModelRunner, TfliteRunner
from lipsync_tf.model_dir import build_generator, restore_generator, save_generator_checkpoint

PHOTO = REPO / "examples" / "still.jpg"
BFLOAT16 = "savedmodel, bfloat16 products"
EXAMPLE_SPEECH = REPO / "examples" / "speech.wav"

# Child process for the memory measurement: generate, then print peak RSS (KiB on Linux).
MEMORY_SCRIPT = """
import os, resource, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from lipsync_tf.inference.generate import GenerateOptions, generate_video
options = GenerateOptions(model=sys.argv[4], progress=False)
generate_video(sys.argv[1], sys.argv[2], sys.argv[3], options)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def make_export(config_name: str, root: Path, model_dir: str | None) -> tuple[Path, Path]:
    """(model_dir, export_dir) of a fresh (or the given trained) model, exported with TFLite."""
    if model_dir is None:
        config = model_config(config_name)
        model_dir = root / "model"
        save_generator_checkpoint(model_dir, build_generator(config), {"model": config.to_dict()})
    export_dir = root / "exported"
    clips = SHARED / "clips"
    calibration = clips if clips.is_dir() else None
    if calibration is None:
        print(f"no calibration clips at {clips} (set LIPSYNC_SHARED_DATA): no int8 model")
    export_model(model_dir, export_dir, write_tflite=True, calibration_data=calibration)
    # The same weights with bfloat16 products (bin/export --conv_dtype bfloat16), SavedModel only.
    if cpu.has_native_bfloat16():
        export_model(model_dir, root / "exported_bfloat16", conv_dtype="bfloat16")
    else:
        print("no native bfloat16 here: no bfloat16 export (bench/paper_vs_sda.py times one)")
    return Path(model_dir), export_dir


def chunked_run(runner, face, audio, frames: dict, name: str, chunk_frames: int = CHUNK_FRAMES):
    def run():
        identity = runner.encode_face(face)
        chunks = runner.iter_chunks(identity, audio, seed=0, chunk_frames=chunk_frames)
        frames[name] = np.concatenate([chunk for _, chunk in chunks])

    return run


def make_runners(export_dir: Path, model_dir: Path | None) -> dict:
    """{name: (runner, frames per call)}."""
    runners = {}
    if model_dir is not None:
        generator, values, _ = restore_generator(model_dir)
        runners["keras"] = (KerasRunner(generator, ModelConfig.from_dict(values["model"])), 25)
    savedmodel = SavedModelRunner(export_dir)
    runners["savedmodel"] = (savedmodel, CHUNK_FRAMES)
    bfloat16 = export_dir.parent / "exported_bfloat16"
    if model_dir is not None and bfloat16.is_dir():
        runners[BFLOAT16] = (SavedModelRunner(bfloat16), CHUNK_FRAMES)
    runners["savedmodel, 10 frames/call"] = (savedmodel, 10)
    runners["savedmodel, 50 frames/call"] = (savedmodel, 50)
    for backend, name in TFLITE_FILES.items():
        if (export_dir / name).is_file():
            for threads in (1, 2):
                runner = TfliteRunner(export_dir, backend, num_threads=threads)
                runners[f"{backend}, {threads} thread{'s' * (threads > 1)}"] = (runner, 25)
    return runners


def mouth_openings(frames: np.ndarray, mesh) -> np.ndarray:
    """Mouth opening of each frame's face mesh (NaN where the mesh sees no face)."""
    points, scores = mesh.video(frames)
    opening = mouth_opening(points)
    opening[scores < MIN_FACE_SCORE] = np.nan
    return opening


def drift_from(video: np.ndarray, reference: np.ndarray, reference_opening: np.ndarray, mesh):
    """(mean |pixel error|, the same on the lower face, r of the mouth openings or None, frames
    with a face in both) of `video` against `reference` (uint8 [T, 128, 96, 3])."""
    error = np.abs(video.astype(int) - reference.astype(int))
    opening = mouth_openings(video, mesh)
    both = ~np.isnan(opening) & ~np.isnan(reference_opening)
    r = np.corrcoef(opening[both], reference_opening[both])[0, 1] if both.sum() > 2 else None
    return error.mean(), error[:, 64:].mean(), None if r is None or np.isnan(r) else r, both.sum()


def drift(frames: dict) -> None:
    """Each quantised (or bfloat16) backend's frames against the SavedModel's."""
    from lipsync_tf.preprocessing.landmarks import FaceMesh

    mesh = FaceMesh()
    reference_opening = mouth_openings(frames["savedmodel"], mesh)
    print("  drift from the SavedModel (same face, speech and noise):")
    for name, video in frames.items():
        if name != BFLOAT16 and not (name.startswith("tflite") and name.endswith(", 1 thread")):
            continue
        error, lower, r, count = drift_from(video, frames["savedmodel"], reference_opening, mesh)
        r_text = "n/a (no face found)" if r is None else f"{r:.3f}"
        print(
            f"    {name.removesuffix(', 1 thread'):22s} mean |pixel error| {error:5.2f} "
            f"levels (lower face {lower:5.2f}), mouth-opening r {r_text} over {count} frames"
        )


def real_face() -> np.ndarray:
    """The bundled example's face, cropped as bin/generate crops it."""
    from lipsync_tf.inference.generate import crop_photo

    return crop_photo(load_image(PHOTO), str(PHOTO))[1]


def backend_speeds(runners: dict, seconds: float, repeats: int) -> None:
    savedmodel = runners["savedmodel"][0]
    config = savedmodel.config
    face = real_face()
    audio = speech(seconds)
    video_seconds = savedmodel.num_frames(len(audio)) / config.audio.fps
    matmul, flops = matmul_run()
    frames: dict = {}
    runs = {"matmul": matmul}
    runs.update(
        {
            name: chunked_run(runner, face, audio, frames, name, chunk_frames)
            for name, (runner, chunk_frames) in runners.items()
        }
    )
    results = interleaved_medians(runs, repeats, minimum_seconds=0.0)
    matmul_gflops = flops / results.pop("matmul") / 1e9
    print(f"\n1. chunked generation, {video_seconds:.2f} s of video, median of {repeats}")
    print(f"  matmul 2048x2048 float32 in the same rounds: {matmul_gflops:.1f} GFLOP/s")
    print(f"  {'backend':32s} {'compute s':>10s} {'s per video s':>14s} {'x real time':>12s}")
    for name, secs in results.items():
        per = secs / video_seconds
        print(f"  {name:32s} {secs:10.3f} {per:14.3f} {1 / per:12.1f}")
    target = target_seconds_per_video_second(matmul_gflops)
    scale = f"x 85 / {matmul_gflops:.0f} GFLOP/s"
    print(f"  SavedModel target (twice SDA's speed, {scale}): <= {target:.3f} s/s")
    for name in ("savedmodel", BFLOAT16):
        if name in results:
            per = results[name] / video_seconds
            print(f"    {name}: {per:.3f} -> {'met' if per <= target else 'missed'}")
    drift(frames)


def end_to_end(export_dir: Path, runners: dict, root: Path, repeats: int) -> None:
    audio_seconds = soundfile.info(EXAMPLE_SPEECH).duration
    print(
        f"\n2. generate_video on the bundled example ({PHOTO.name} + {EXAMPLE_SPEECH.name}, "
        f"{audio_seconds:.2f} s, paste-back), model loaded, busy seconds per step, median of "
        f"{repeats}"
    )
    photo = load_image(PHOTO)
    large = root / "still_1280.png"  # the same photo at 1280x1280: heavier pasting and encoding
    Image.fromarray(cv2.resize(photo, (1280, 1280), interpolation=cv2.INTER_CUBIC)).save(large)
    phone = root / "still_4000x3000.jpg"  # a 12-megapixel phone photo's size, the face a third
    face = cv2.resize(photo, (1800, 1800), interpolation=cv2.INTER_CUBIC)
    canvas = cv2.copyMakeBorder(face, 600, 600, 1100, 1100, cv2.BORDER_REFLECT)
    Image.fromarray(canvas).save(phone, quality=92)
    savedmodel = runners["savedmodel"][0]
    cases = {}  # name: (runner, overlap, photo, max_output_pixels)
    for name, (runner, _) in runners.items():
        if name in ("savedmodel", "tflite_int8, 1 thread", "tflite_dynamic_range, 1 thread"):
            cases[name] = (runner, True, PHOTO, MAX_OUTPUT_PIXELS)
    cases["savedmodel, no overlap"] = (savedmodel, False, PHOTO, MAX_OUTPUT_PIXELS)
    cases["savedmodel, 1280x1280 photo"] = (savedmodel, True, large, MAX_OUTPUT_PIXELS)
    cases["savedmodel, 1280x1280, no overlap"] = (savedmodel, False, large, MAX_OUTPUT_PIXELS)
    cases["savedmodel, 4000x3000 -> 1080p area"] = (savedmodel, True, phone, MAX_OUTPUT_PIXELS)
    cases["savedmodel, 4000x3000 at full size"] = (savedmodel, True, phone, 0)
    runs, reports = {}, {name: [] for name in cases}
    for name, (runner, overlap, image, max_pixels) in cases.items():

        def run(name=name, runner=runner, overlap=overlap, image=image, max_pixels=max_pixels):
            out = root / f"e2e_{len(reports[name])}.mp4"
            options = GenerateOptions(progress=False, max_output_pixels=max_pixels)
            report = generate_video(
                image, EXAMPLE_SPEECH, out, options, runner=runner, overlap=overlap
            )
            reports[name].append(report)

        runs[name] = run
    interleaved_medians(runs, repeats, minimum_seconds=0.0)
    for name, done in reports.items():
        done = done[1:]  # the first run warmed up
        wall = float(
            np.median([report.wall_seconds - report.seconds["load_model"] for report in done])
        )
        steps = {
            step: float(np.median([report.seconds[step] for report in done]))
            for step in done[0].seconds
            if step != "load_model"
        }
        split = ", ".join(f"{step} {secs:.2f}" for step, secs in steps.items())
        size = "x".join(str(v) for v in (done[0].width, done[0].height))
        print(
            f"  {name:36s} {wall:6.2f} s = {audio_seconds / wall:5.1f}x real time  "
            f"({size}; {split})"
        )
    # bin/generate as a user runs it: imports, model load and the first call's graph set-up
    # included, on the example and on a minute of its speech repeated.
    minute = root / "speech_60s.wav"
    samples, rate = soundfile.read(EXAMPLE_SPEECH, dtype="float32")
    soundfile.write(minute, np.resize(samples, 60 * rate), rate)
    cli_cases = [(PHOTO, EXAMPLE_SPEECH), (PHOTO, minute), (phone, minute)]
    for image, audio in cli_cases:
        seconds = soundfile.info(audio).duration
        wall = bin_generate_seconds(image, audio, root / "cli.mp4", export_dir)
        print(
            f"  bin/generate, fresh process, {image.name} + {seconds:.0f} s: {wall:.2f} s = "
            f"{seconds / wall:.1f}x real time"
        )
    bin_generate_backends(export_dir, minute, root, repeats)


def bin_generate_backends(export_dir: Path, minute: Path, root: Path, repeats: int) -> None:
    """bin/generate as a fresh process on the minute of speech with each backend, round-robin,
    median wall time (start-up included) and the time its own summary gives to generation."""
    import re
    import statistics

    seconds = soundfile.info(minute).duration
    backends = ["auto", "savedmodel"]
    backends += [name for name, file in TFLITE_FILES.items() if (export_dir / file).is_file()]
    walls, inside, used = {b: [] for b in backends}, {b: [] for b in backends}, {}
    for _ in range(repeats):
        for backend in backends:
            wall, summary, _ = bin_generate(PHOTO, minute, root / "cli.mp4", export_dir, backend)
            walls[backend].append(wall)
            inside[backend].append(float(re.search(r"generate ([\d.]+) s", summary)[1]))
            used[backend] = re.search(r"with the (\w+) backend", summary)[1]
    print(
        f"  bin/generate, fresh process, {PHOTO.name} + {seconds:.0f} s, each backend "
        f"(median of {repeats}, round-robin):"
    )
    for backend in backends:
        wall = statistics.median(walls[backend])
        chose = f" (chose {used[backend]})" if backend == "auto" else ""
        print(
            f"    --backend {backend:22s} {wall:6.2f} s = {seconds / wall:4.1f}x real time; "
            f"generate {statistics.median(inside[backend]):5.2f} s{chose}"
        )


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
    parser.add_argument("--seconds", type=float, default=6.0, help="video seconds for speed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--long_minutes", type=float, default=10.0)
    parser.add_argument("--skip_end_to_end", action="store_true")
    parser.add_argument("--skip_memory", action="store_true")
    args = parser.parse_args()

    print(where())
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
