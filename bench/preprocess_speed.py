"""How fast bin/prepare_data turns video into training records, and what its choices cost.

Prints, measured side by side in one run on the clips in --clips (default ../shared/data/clips):
  1. seconds of video per second of wall time for one process, per stage (decode, detect,
     crop_encode, write), detecting faces on every frame vs every k-th frame, with how far the
     crop windows move compared with detecting every frame;
  2. holding a clip's frames in memory vs decoding it twice (stream: detect pass, crop pass);
  3. JPEG (several qualities) vs PNG frames: bytes per frame, PSNR against the unencoded crop,
     encode time;
  4. the whole Beam pipeline (DirectRunner), 1 in-process worker vs 2 worker processes.

    .venv/bin/python bench/preprocess_speed.py [--max_clips 10] [--skip_pipeline]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from lipsync_tf.data import schema
from lipsync_tf.face_geometry import crop_window
from lipsync_tf.preprocessing import faces
from lipsync_tf.preprocessing.clips import (
    ClipOptions,
    ClipSkipped,
    encode_frame,
    process_clip,
)
from lipsync_tf.preprocessing.layouts import find_clips
from lipsync_tf.preprocessing.video import iter_video_frames
from lipsync_tf.timing import StageTimer

DEFAULT_CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips"


def run_in_process(sources, options: ClipOptions, detector, writer_path: str):
    """Processes every clip in this process.

    Returns (video s, wall s, CPU s of this process, stage wall s, crop windows by clip id).
    """
    import tensorflow as tf

    timer = StageTimer()
    seconds = 0.0
    windows = {}
    start, cpu_start = time.perf_counter(), time.process_time()
    with tf.io.TFRecordWriter(writer_path) as writer:
        for source in sources:
            try:
                record = process_clip(source, detector, options, timer)
            except ClipSkipped:
                continue
            with timer.stage("write"):
                writer.write(schema.serialize(record))
            seconds += record.num_frames / record.fps
            windows[source.clip_id] = record.crop_boxes
    cpu = time.process_time() - cpu_start
    return seconds, time.perf_counter() - start, cpu, timer.seconds, windows


def window_drift(windows: dict, reference: dict) -> tuple[float, float]:
    """Median and max over clips of the largest window-corner move, as % of the window width."""
    drifts = []
    for clip_id, boxes in windows.items():
        ref = reference[clip_id]
        width = np.median(ref[:, 2] - ref[:, 0])
        drifts.append(100 * float(np.abs(boxes - ref).max()) / width)
    return float(np.median(drifts)), float(np.max(drifts))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def image_formats(sources, detector, frames_per_clip: int = 25):
    """Size, quality and encode time of JPEG qualities vs PNG on real 128x96 face crops."""
    import cv2

    crops = []
    for source in sources:
        frames = []
        for index, rgb in enumerate(iter_video_frames(source.path)):
            if index % 4 == 0:
                frames.append(rgb)
            if len(frames) == frames_per_clip:
                break
        detections = [faces.find_single_face(f, detector)[0] for f in frames[:1]]
        window = crop_window(detections[0])
        crops += [faces.crop_face(f, window) for f in frames]
    rows = []
    for fmt, quality in [("jpeg", 75), ("jpeg", 85), ("jpeg", 90), ("jpeg", 95), ("jpeg", 100)]:
        rows.append((f"JPEG q{quality}", fmt, quality))
    rows.append(("PNG", "png", 0))
    results = []
    for label, fmt, quality in rows:
        start = time.perf_counter()
        encoded = [encode_frame(crop, fmt, quality) for crop in crops]
        encode_ms = 1000 * (time.perf_counter() - start) / len(crops)
        decoded = [
            cv2.cvtColor(
                cv2.imdecode(np.frombuffer(e, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
            )
            for e in encoded
        ]
        quality_db = np.mean([min(psnr(c, d), 99.0) for c, d in zip(crops, decoded, strict=True)])
        results.append((label, np.mean([len(e) for e in encoded]), quality_db, encode_ms))
    return len(crops), results


def run_pipeline(clips_dir, max_clips, mode: str, workers: int) -> tuple[float, float]:
    from lipsync_tf.preprocessing.pipeline import prepare_data

    with tempfile.TemporaryDirectory() as output:
        start = time.perf_counter()
        manifest = prepare_data(
            str(clips_dir),
            output,
            layout="flat",
            num_shards=2,
            max_clips=max_clips,
            direct_running_mode=mode,
            direct_num_workers=workers,
            progress=False,
            print_fn=lambda _: None,
        )
        wall = time.perf_counter() - start
    totals = manifest["totals"]
    return totals["seconds_kept"], wall, totals["processing_span_seconds"], totals["workers"]


def main() -> None:
    import logging

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default=str(DEFAULT_CLIPS))
    parser.add_argument("--max_clips", type=int, default=None)
    parser.add_argument("--detect_every", default="1,2,5")
    parser.add_argument("--skip_pipeline", action="store_true")
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.WARNING)

    sources = find_clips(args.clips, "flat")[: args.max_clips]
    print(
        f"{len(sources)} clips from {args.clips}; {os.cpu_count()} CPU cores; load average "
        f"{os.getloadavg()[0]:.1f} (other work on the machine slows wall-clock figures; the "
        "per-CPU-second figure is what one free core would do)"
    )
    tmp = tempfile.mkdtemp()
    with faces.FaceDetector() as detector:
        # Warm-up (MediaPipe graph, codecs) so the first measured setting is not penalised.
        run_in_process(sources[:1], ClipOptions(), detector, f"{tmp}/warm")

        print("\n1. one process, per stage; k = detect faces on every k-th frame")
        print(
            f"{'k':>3} {'video s':>8} {'wall s':>7} {'x real':>7} {'CPU s':>6} {'x/CPU':>6} "
            f"{'decode':>7} {'detect':>7} {'crop+enc':>8} {'write':>6}  "
            "window move vs k=1 (median / max % of width)"
        )
        reference = None
        for k in [int(v) for v in args.detect_every.split(",")]:
            seconds, wall, cpu, stages, windows = run_in_process(
                sources, ClipOptions(detect_every=k), detector, f"{tmp}/k{k}"
            )
            reference = reference or windows
            drift = window_drift(windows, reference)
            print(
                f"{k:>3} {seconds:8.1f} {wall:7.1f} {seconds / wall:7.1f} {cpu:6.1f} "
                f"{seconds / cpu:6.1f} "
                f"{stages.get('decode', 0):7.1f} {stages.get('detect', 0):7.1f} "
                f"{stages.get('crop_encode', 0):8.1f} {stages.get('write', 0):6.1f}  "
                f"{drift[0]:.2f} / {drift[1]:.2f}"
            )

        print("\n2. frames held in memory vs decoded twice (stream), k = 1")
        for label, budget in [("in memory", ClipOptions().max_frames_bytes), ("stream", 0)]:
            options = dataclasses.replace(ClipOptions(), max_frames_bytes=budget)
            seconds, wall, cpu, stages, _ = run_in_process(sources, options, detector, f"{tmp}/m")
            print(
                f"{label:>10}: {seconds / wall:5.1f}x real time, {seconds / cpu:5.1f}x per CPU "
                f"second (decode {stages['decode']:.1f} s, "
                f"detect {stages['detect']:.1f} s, crop+encode {stages['crop_encode']:.1f} s)"
            )

        count, results = image_formats(sources[:8], detector)
        print(f"\n3. frame encoding on {count} real 128x96 face crops")
        print(f"{'format':>10} {'bytes/frame':>12} {'PSNR dB':>8} {'encode ms':>10}")
        for label, size, quality_db, encode_ms in results:
            shown = "lossless" if quality_db >= 99 else f"{quality_db:.1f}"
            print(f"{label:>10} {size:12.0f} {shown:>8} {encode_ms:10.3f}")

    if not args.skip_pipeline:
        print("\n4. whole Beam pipeline (DirectRunner, includes start-up)")
        for label, mode, workers in [
            ("in_memory x1", "in_memory", 1),
            ("multi_processing x2", "multi_processing", 2),
        ]:
            seconds, wall, span, used = run_pipeline(args.clips, args.max_clips, mode, workers)
            print(
                f"{label:>20}: {seconds:.1f} s of video in {wall:.1f} s = {seconds / wall:.1f}x; "
                f"first clip start to last clip end {span:.1f} s = {seconds / span:.1f}x "
                f"({used} worker process(es) did work)"
            )


if __name__ == "__main__":
    main()
