"""What the speed benches share: the yardstick matmul, interleaved timing, models and media.

Only ratios measured side by side in one run mean anything on a busy machine, so every bench
times a plain 2048x2048 float32 `tf.matmul` in the same rounds as what it measures and reports
throughput next to it. `interleaved_medians` runs one repetition of every candidate per round,
so a burst of load slows all of them alike instead of one.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lipsync_tf.config import ModelConfig

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LIPSYNC_SHARED_DATA", REPO.parent / "shared" / "data"))
SPEECH = SHARED / "audio" / "makeittalk_M6_04_16k.wav"
STILL = SHARED / "stills" / "sadtalker_people_0.png"
CONFIGS = {
    "paper": ModelConfig,
    "tiny": ModelConfig.tiny,
    "cpu_lipsync": lambda: ModelConfig.from_json(REPO / "configs/models/cpu_lipsync.json"),
    "cpu_demo": lambda: ModelConfig.from_json(REPO / "configs/models/cpu_demo.json"),
}
MATMUL_SIZE = 2048
# The figure the issue measured SDA against: its 2-thread matmul ran at 85 GFLOP/s, SDA needed
# 1.00 s of compute per second of video; twice SDA's speed is 0.48 s/s on such a machine.
ISSUE_MATMUL_GFLOPS = 85.0
TARGET_SECONDS_PER_VIDEO_SECOND = 0.48


def model_config(name: str) -> ModelConfig:
    """A named config (paper, tiny, cpu_lipsync, cpu_demo) or a ModelConfig JSON path."""
    if name in CONFIGS:
        return CONFIGS[name]()
    return ModelConfig.from_json(name)


def matmul_run(size: int = MATMUL_SIZE) -> tuple[Callable[[], object], float]:
    """(run, flops): one float32 size x size matmul, the yardstick of every speed bench."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    a = tf.constant(rng.normal(size=(size, size)).astype(np.float32))
    b = tf.constant(rng.normal(size=(size, size)).astype(np.float32))
    product = tf.function(lambda: tf.linalg.matmul(a, b))
    return (lambda: product().numpy()), 2.0 * size**3


def _calibrate(run: Callable[[], object], minimum_seconds: float) -> int:
    """How many calls make one timing last at least `minimum_seconds`."""
    begin = time.perf_counter()
    run()
    once = max(time.perf_counter() - begin, 1e-6)
    return max(1, int(np.ceil(minimum_seconds / once)))


def interleaved_medians(
    runs: dict[str, Callable[[], object]], repeats: int, minimum_seconds: float = 0.02
) -> dict[str, float]:
    """Median seconds per call of each run, timed round-robin over `repeats` rounds.

    Each run is warmed up (tracing, kernel selection), then called often enough per timing
    that short parts are not lost in timer noise.
    """
    for run in runs.values():
        run()
    numbers = {name: _calibrate(run, minimum_seconds) for name, run in runs.items()}
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            begin = time.perf_counter()
            for _ in range(numbers[name]):
                run()
            timings[name].append((time.perf_counter() - begin) / numbers[name])
    return {name: statistics.median(values) for name, values in timings.items()}


def target_seconds_per_video_second(matmul_gflops: float) -> float:
    """The issue's target (twice SDA's speed) scaled to this run's matmul throughput."""
    return TARGET_SECONDS_PER_VIDEO_SECOND * ISSUE_MATMUL_GFLOPS / matmul_gflops


def speech(seconds: float, sample_rate: int = 16000) -> np.ndarray:
    """Real speech from the shared media (tiled to length) or, without it, a synthetic voice."""
    samples = int(seconds * sample_rate)
    if SPEECH.is_file():
        import soundfile

        wave, _ = soundfile.read(SPEECH, dtype="float32")
        return np.resize(wave, samples)
    t = np.arange(samples) / sample_rate
    tone = np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    return (0.3 * tone).astype(np.float32)


def set_threads(threads: int | None) -> None:
    """TF intra- and inter-op threads (None: TF's default, one per core)."""
    if threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def bin_generate_seconds(image: Path, audio: Path, output: Path, model: Path) -> float:
    """Wall seconds of one fresh `bin/generate` process: imports, model load and all."""
    begin = time.perf_counter()
    subprocess.run(
        [sys.executable, str(REPO / "bin" / "generate"), f"--image={image}",
         f"--audio={audio}", f"--output={output}", f"--model={model}", "--noprogress",
         "--overwrite"],
        check=True, capture_output=True, cwd=REPO,
    )  # fmt: skip
    return time.perf_counter() - begin
