"""What the speed benches share: the yardstick matmul, interleaved timing, models and media.

Only ratios measured side by side in one run mean anything on a busy machine, so every bench
times a plain 2048x2048 float32 `tf.matmul` in the same rounds as what it measures and reports
throughput next to it. `interleaved_medians` runs one repetition of every candidate per round,
so a burst of load slows all of them alike instead of one.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lipsync_tf import cpu
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
    "cpu_mouth": lambda: ModelConfig.from_json(REPO / "configs/models/cpu_mouth.json"),
}
# Environment that holds oneDNN (TensorFlow's and PyTorch's convolutions), PyTorch's own kernels,
# MKL and XLA's CPU code generation to AVX2 and FMA: the code path of CPUs without AVX-512.
# TensorFlow's other (Eigen) kernels are compiled for AVX at most (its start-up log says so), so
# they run the same code on either CPU. LiteRT's XNNPACK, x264, OpenCV and MediaPipe pick their
# kernels from CPUID and cannot be held back: their numbers here are AVX-512's.
AVX2_ENV = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "XLA_FLAGS": "--xla_cpu_max_isa=AVX2",
}
MATMUL_SIZE = 2048
# The figure the issue measured SDA against: its 2-thread matmul ran at 85 GFLOP/s, SDA needed
# 1.00 s of compute per second of video; twice SDA's speed is 0.48 s/s on such a machine.
ISSUE_MATMUL_GFLOPS = 85.0
TARGET_SECONDS_PER_VIDEO_SECOND = 0.48


def where() -> str:
    """Where a bench ran, for the first lines of its output (and every bench/results file):
    the CPU model, its vector extensions, the oneDNN limit, and how busy the machine was."""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    lines = [f"machine: {cpu.describe()}; load average {load}"]
    if cpu.onednn_isa_limit():
        lines.append(
            "  (oneDNN limited: TensorFlow's convolutions take that code path; LiteRT's XNNPACK "
            "still uses every extension the CPU has)"
        )
    return "\n".join(lines)


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


class Worker:
    """A process that times a computation on request, so runs in different environments (a
    oneDNN limit, PyTorch in another Python) go side by side into the same rounds.

    The worker prints one line when it is ready, then for each count it reads on stdin runs
    its computation that many times and prints "wall_seconds cpu_seconds"."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None):
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})}, cwd=REPO,
        )  # fmt: skip
        self.ready = self.process.stdout.readline().strip()
        if not self.ready.startswith("ready"):
            raise RuntimeError(f"worker {argv} failed to start: {self.ready!r}")

    def time(self, count: int) -> tuple[float, float]:
        """(wall, CPU) seconds of `count` runs."""
        self.process.stdin.write(f"{count}\n")
        self.process.stdin.flush()
        wall, cpu_seconds = self.process.stdout.readline().split()[:2]
        return float(wall), float(cpu_seconds)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def serve_timings(run: Callable[[], object], ready: str = "ready") -> None:
    """The worker side of `Worker`: announce, then time `run` for each count read."""
    print(ready, flush=True)
    for line in sys.stdin:
        count = int(line)
        begin, used = time.perf_counter(), _cpu_seconds()
        for _ in range(count):
            run()
        print(time.perf_counter() - begin, _cpu_seconds() - used, flush=True)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def interleaved_worker_medians(
    workers: dict[str, Worker], rounds: int, count: int = 1
) -> dict[str, tuple[float, float]]:
    """{name: (median wall, median CPU seconds per run)}: one timing of every worker per round,
    after one warm-up timing each."""
    for worker in workers.values():
        worker.time(1)
    timings: dict[str, list[tuple[float, float]]] = {name: [] for name in workers}
    for _ in range(rounds):
        for name, worker in workers.items():
            wall, used = worker.time(count)
            timings[name].append((wall / count, used / count))
    return {
        name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
        for name, values in timings.items()
    }


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


def bin_generate_seconds(
    image: Path, audio: Path, output: Path, model: Path, backend: str | None = None
) -> float:
    """Wall seconds of one fresh `bin/generate` process: imports, model load and all."""
    return bin_generate(image, audio, output, model, backend)[0]


def bin_generate(
    image: Path,
    audio: Path,
    output: Path,
    model: Path,
    backend: str | None = None,
    env: dict[str, str] | None = None,
    repo: Path = REPO,
) -> tuple[float, str, float]:
    """(wall seconds, its summary line, its CPU seconds) of one fresh `bin/generate` process of
    the checkout `repo` (this one by default); `env` is added to its environment (e.g.
    `AVX2_ENV`). CPU seconds (user + system) count the work whatever else runs on the machine;
    wall seconds do not."""
    used = _children_cpu_seconds()
    begin = time.perf_counter()
    flags = [f"--backend={backend}"] if backend else []
    result = subprocess.run(
        [sys.executable, str(repo / "bin" / "generate"), f"--image={image}",
         f"--audio={audio}", f"--output={output}", f"--model={model}", "--noprogress",
         "--overwrite", *flags],
        check=True, capture_output=True, cwd=repo, text=True,
        env={**os.environ, "PYTHONPATH": str(repo), **(env or {})},
    )  # fmt: skip
    wall = time.perf_counter() - begin
    summary = (result.stdout.strip().splitlines() or [""])[-1]
    return wall, summary, _children_cpu_seconds() - used


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
