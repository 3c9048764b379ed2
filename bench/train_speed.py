"""Training throughput of the CPU demo config: 1 vs 2 replicas, input pipeline vs compute, and
two worker processes on localhost vs one process.

    python bench/train_speed.py --data_dir /tmp/lipsync_shared_data [--steps 20] \
        [--sections replicas,workers,scaling]

Section "replicas", measured side by side in one process:
- input pipeline alone: batches/s the tf.data reader delivers (decode JPEG + MFCC);
- compute alone: seconds per `train_step` on a batch already in memory;
- end to end: `fit` frames/s on 1 replica and on 2 logical-CPU replicas (MirroredStrategy).

Section "workers", each in fresh processes, one after the other: `fit` seconds per step of one
process with the whole batch, and of two MultiWorkerMirroredStrategy workers on 127.0.0.1 with
half each. Where the difference goes: inside the same two-worker cluster, the gradient
all-reduce alone (the generator's and the discriminators' gradients, one batched all-reduce each,
as the optimizers do) and the per-step all-reduces of the logged losses are timed on their own;
the rest of a step is compute (and each worker's input pipeline, which cuts the whole global
batch and keeps its half).

Section "scaling" (paper-sized model; docs/training_on_a_cluster.md): parameters and gradient
bytes per step; train_step seconds measured on this CPU (a few steps on a small batch); float
operations of one train_step per example (TensorFlow's static profiler count: a GRU's loop body
counts once, a small undercount for this model); the ring all-reduce volume per step and per
VoxCeleb2 epoch; and the all-reduce time on 8 and 64 GPUs under stated link bandwidths: below
that compute time per step, communication dominates.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

from lipsync_tf.config import DataConfig, ModelConfig, TrainConfig
from lipsync_tf.data import reader
from lipsync_tf.training.trainer import build_gan


def time_input(dataset, steps):
    iterator = iter(dataset)
    next(iterator)
    start = time.perf_counter()
    for _ in range(steps):
        next(iterator)
    return (time.perf_counter() - start) / steps


def time_compute(gan, batch, steps):
    step = tf.function(gan.train_step)
    step(batch)
    start = time.perf_counter()
    for _ in range(steps):
        step(batch)
    return (time.perf_counter() - start) / steps


def time_fit(devices, model, data, train, sampling, steps):
    strategy = tf.distribute.MirroredStrategy(devices=devices)
    with strategy.scope():
        gan = build_gan(model, train)
    dataset = reader.training_dataset(data, model.audio, sampling)
    gan.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0, shuffle=False)  # trace + warm up
    start = time.perf_counter()
    gan.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    return (time.perf_counter() - start) / steps


def worker_main(args) -> None:
    """One process of the "workers" section: with TF_CONFIG a worker, else the lone process.
    Writes its measurements as JSON to args.out."""
    from lipsync_tf.training import cluster as cluster_lib
    from lipsync_tf.training.strategy import make_strategy

    cluster = cluster_lib.cluster_from_environment()
    strategy = make_strategy(peer_timeout=300)
    model = ModelConfig.from_json(args.model_config)
    data = DataConfig(
        data_dir=args.data_dir,
        window_frames=args.window_frames,
        batch_size=args.batch_size,
        deterministic=True,  # every worker cuts the same global batches (auto-shard by data)
    )
    train = TrainConfig()
    sampling = reader.SamplingSpec(model.noise_dim, model.noise_std, train.frame_samples)
    with strategy.scope():
        gan = build_gan(model, train)
    dataset = reader.training_dataset(data, model.audio, sampling)
    gan.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0, shuffle=False)  # trace + warm up
    start = time.perf_counter()
    gan.fit(dataset, steps_per_epoch=args.steps, epochs=1, verbose=0, shuffle=False)
    result = {
        "step_s": (time.perf_counter() - start) / args.steps,
        "gradient_mb": {
            name: sum(v.numpy().size for v in variables) * 4 / 1e6
            for name, variables in (
                ("generator", gan.generator_variables),
                ("discriminators", gan.discriminator_variables),
            )
        },
    }
    if cluster is not None:
        result.update(time_all_reduces(strategy, gan, args.steps))
        result["num_logged"] = len(gan.trackers)
    with open(args.out, "w") as stream:
        json.dump(result, stream)


def time_all_reduces(strategy, gan, repeats: int) -> dict:
    """Seconds per step of a step's collectives alone, in this cluster: the two gradient
    all-reduces (one batched call per optimizer, as Keras' optimizer makes it) and the
    all-reduce of each logged loss (Keras reduces each one separately)."""
    shapes = [
        [v.shape for v in gan.generator_variables],
        [v.shape for v in gan.discriminator_variables],
    ]
    num_logs = len(gan.trackers)

    @tf.function
    def gradients():
        def replica():
            context = tf.distribute.get_replica_context()
            sums = [
                context.all_reduce("SUM", [tf.ones(shape) for shape in group]) for group in shapes
            ]
            return tf.add_n([group[0][(0,) * len(group[0].shape)] for group in sums])

        return strategy.run(replica)

    @tf.function
    def losses():
        values = [
            strategy.reduce("MEAN", strategy.run(lambda: tf.ones([1])), axis=0)
            for _ in range(num_logs)
        ]
        return tf.add_n(values)

    timed = {}
    for name, function in (("gradient_all_reduce_s", gradients), ("loss_all_reduces_s", losses)):
        function()  # trace
        start = time.perf_counter()
        for _ in range(repeats):
            float(strategy.experimental_local_results(function())[0])
        timed[name] = (time.perf_counter() - start) / repeats
    return timed


def free_ports(count):
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def run_workers_section(args) -> None:
    """The lone process, then two workers on 127.0.0.1 (each a fresh process, not at once)."""
    with tempfile.TemporaryDirectory(prefix="train_speed_") as scratch:
        common = [
            sys.executable, __file__, "--worker_process", "--data_dir", args.data_dir,
            "--model_config", args.model_config, "--batch_size", str(args.batch_size),
            "--window_frames", str(args.window_frames), "--steps", str(args.steps),
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
        lone_out = os.path.join(scratch, "lone.json")
        subprocess.run([*common, "--out", lone_out], env=env, check=True, timeout=3600)
        ports = free_ports(2)
        cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
        processes, outs = [], []
        for index in range(2):
            outs.append(os.path.join(scratch, f"worker{index}.json"))
            config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            processes.append(
                subprocess.Popen([*common, "--out", outs[-1]], env=dict(env, TF_CONFIG=config))
            )
        try:
            for process in processes:
                if process.wait(timeout=3600):
                    raise SystemExit("a worker failed")
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        lone = json.loads(Path(lone_out).read_text())
        chief = json.loads(Path(outs[0]).read_text())
    one, two = lone["step_s"], chief["step_s"]
    gradients, losses = chief["gradient_all_reduce_s"], chief["loss_all_reduces_s"]
    sizes = lone["gradient_mb"]
    half = args.batch_size // 2
    communication = gradients + losses
    rest = two - communication
    difference = two - one
    print(f"one process, batch {args.batch_size}          : {one * 1e3:8.1f} ms/step")
    print(
        f"2 workers, {half} + {half} on 127.0.0.1    : {two * 1e3:8.1f} ms/step "
        f"({two / one:.2f}x the one process)"
    )
    print(
        f"  gradient all-reduce     : {gradients * 1e3:8.1f} ms/step (generator "
        f"{sizes['generator']:.2f} MB + discriminators {sizes['discriminators']:.2f} MB, "
        "ring over gRPC)"
    )
    print(
        f"  loss all-reduces        : {losses * 1e3:8.1f} ms/step "
        f"({chief['num_logged']} one-element all-reduces)"
    )
    print(
        f"  compute + input (rest)  : {rest * 1e3:8.1f} ms/step ({rest / one:.2f}x the one "
        "process's whole step)"
    )
    print(
        f"difference, 2 workers - 1 : {difference * 1e3:+8.1f} ms/step = communication "
        f"{communication * 1e3:+.1f} ms ({communication / one:+.1%} of one process's step) "
        f"+ compute and input {(rest - one) * 1e3:+.1f} ms ({(rest - one) / one:+.1%})"
    )
    print(
        "  (both workers share this machine's cores, so their compute is not twice as fast; "
        "communication is timed alone in the same cluster, after the training steps)"
    )


# VoxCeleb2's dev set (Chung et al. 2018): 1,092,009 clips of 5,994 speakers, of 1,128,246 clips
# and 2,442 hours in all; its hours are taken in that proportion (2,364 h). An epoch of the reader
# is one random window per training clip; voxceleb2_paper.cfg holds out 2 % of the speakers,
# taken here as 2 % of the clips. "Every window once" counts the disjoint windows of all hours.
VOXCELEB2_DEV_CLIPS = 1_092_009
VOXCELEB2_DEV_HOURS = 2_442 * 1_092_009 / 1_128_246
HELD_OUT = 0.02
FPS = 25
# Bandwidth a ring all-reduce sees per GPU (NCCL "bus bandwidth"), bytes/s: 8 GPUs in one host
# over NVLink, or over PCIe; 64 GPUs in 8 hosts, each with one 100 Gb/s NIC (the inter-host link
# carries every byte of the ring).
LINKS = {
    "8 GPUs, NVLink (100 GB/s)": (8, 100e9),
    "8 GPUs, PCIe only (10 GB/s)": (8, 10e9),
    "64 GPUs, 8 hosts x 100 Gb/s Ethernet (12.5 GB/s)": (64, 12.5e9),
}
# Sustained float32 rate assumed for the compute estimate: half a V100's peak (15.7 TFLOP/s).
GPU_FLOPS = 8e12


def train_step_flops(gan, batch_spec: dict) -> float:
    """Float operations of one `train_step` on a batch of `batch_spec` (static profiler count)."""
    from tensorflow.python.profiler import model_analyzer, option_builder

    graph = tf.function(gan.train_step).get_concrete_function(batch_spec).graph
    options = option_builder.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return float(model_analyzer.profile(graph, options=options).total_float_ops)


def run_scaling_section(args) -> None:
    model = ModelConfig.from_json(args.scaling_model_config)
    train = TrainConfig()
    sampling = reader.SamplingSpec(model.noise_dim, model.noise_std, train.frame_samples)
    window = args.scaling_window_frames
    gan = build_gan(model, train)
    counts = {
        "generator": sum(v.numpy().size for v in gan.generator_variables),
        "discriminators": sum(v.numpy().size for v in gan.discriminator_variables),
    }
    gradient_bytes = 4 * sum(counts.values())
    print(
        f"{args.scaling_model_config}: generator {counts['generator'] / 1e6:.2f} M + "
        f"discriminators {counts['discriminators'] / 1e6:.2f} M parameters; gradients "
        f"{gradient_bytes / 1e6:.1f} MB per step (float32, both all-reduces)"
    )

    def batches(size):
        data = DataConfig(data_dir=args.data_dir, window_frames=window, batch_size=size)
        return reader.training_dataset(data, model.audio, sampling)

    cpu_batch = args.scaling_cpu_batch
    cpu_s = time_compute(gan, next(iter(batches(cpu_batch))), args.scaling_cpu_steps)
    print(
        f"measured here ({os.cpu_count()} CPU cores, shared): train_step at batch {cpu_batch} x "
        f"{window} frames {cpu_s:.2f} s ({cpu_s / cpu_batch:.2f} s per example; mean of "
        f"{args.scaling_cpu_steps} steps after one to trace)"
    )
    flops = train_step_flops(gan, batches(1).element_spec)
    per_example = flops / GPU_FLOPS
    print(
        f"train_step: {flops / 1e9:.0f} GFLOP per {window}-frame example (profiler count; this "
        f"CPU ran it at {flops * cpu_batch / cpu_s / 1e9:.0f} GFLOP/s); at "
        f"{GPU_FLOPS / 1e12:.0f} TFLOP/s sustained on a GPU: {per_example * 1e3:.1f} ms per "
        "example"
    )
    batch = args.scaling_batch_size
    clip_steps = VOXCELEB2_DEV_CLIPS * (1 - HELD_OUT) / batch
    window_steps = VOXCELEB2_DEV_HOURS * 3600 * FPS / window * (1 - HELD_OUT) / batch
    print(
        f"VoxCeleb2 dev at global batch {batch}: {clip_steps:,.0f} steps per epoch of one "
        f"window per clip ({VOXCELEB2_DEV_CLIPS:,} clips, {HELD_OUT:.0%} held out); "
        f"{window_steps:,.0f} steps to see every disjoint {window}-frame window of "
        f"{VOXCELEB2_DEV_HOURS:,.0f} h once"
    )
    for name, (gpus, bandwidth) in LINKS.items():
        per_step = 2 * (gpus - 1) / gpus * gradient_bytes  # sent (and received) per GPU
        seconds = per_step / bandwidth
        per_gpu = batch / gpus
        compute = per_gpu * per_example
        print(
            f"{name}: ring all-reduce 2(n-1)/n x {gradient_bytes / 1e6:.0f} MB = "
            f"{per_step / 1e6:.0f} MB per GPU per step; per epoch "
            f"{per_step * clip_steps / 1e9:,.0f} GB per GPU "
            f"({per_step * clip_steps * gpus / 1e12:,.1f} TB over all GPUs), every window once "
            f"{per_step * window_steps / 1e12:,.1f} TB per GPU; {seconds * 1e3:.1f} ms "
            f"per step: communication dominates when compute per step is below that (estimate at "
            f"{per_gpu:g} examples per GPU: {compute * 1e3:.0f} ms)"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default="/tmp/lipsync_shared_data")
    parser.add_argument("--model_config", default="configs/models/cpu_demo.json")
    parser.add_argument("--batch_size", type=int, default=4)
    parser.add_argument("--window_frames", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--sections", default="replicas,workers,scaling")
    parser.add_argument("--scaling_model_config", default="configs/models/paper.json")
    parser.add_argument("--scaling_batch_size", type=int, default=64)  # voxceleb2_paper.cfg
    parser.add_argument("--scaling_window_frames", type=int, default=16)
    parser.add_argument("--scaling_cpu_batch", type=int, default=2)
    parser.add_argument("--scaling_cpu_steps", type=int, default=3)
    parser.add_argument("--worker_process", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_process:
        worker_main(args)
        return
    sections = args.sections.split(",")
    if "replicas" in sections:
        run_replicas_section(args)
    if "workers" in sections:
        run_workers_section(args)
    if "scaling" in sections:
        run_scaling_section(args)


def run_replicas_section(args) -> None:
    # Two logical CPUs must exist before TensorFlow starts; the 1-replica runs use only the first.
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2
    )
    model = ModelConfig.from_json(args.model_config)
    data = DataConfig(
        data_dir=args.data_dir, window_frames=args.window_frames, batch_size=args.batch_size
    )
    train = TrainConfig()
    sampling = reader.SamplingSpec(model.noise_dim, model.noise_std, train.frame_samples)
    frames = args.batch_size * args.window_frames
    print(f"{args.model_config}, batch {args.batch_size} x {args.window_frames} frames, "
          f"{os.cpu_count()} CPU cores, {args.steps} timed steps")  # fmt: skip

    dataset = reader.training_dataset(data, model.audio, sampling)
    input_s = time_input(dataset, args.steps)
    gan = build_gan(model, train)
    compute_s = time_compute(gan, next(iter(dataset)), args.steps)
    print(
        f"input pipeline alone : {input_s * 1000:7.1f} ms/batch ({frames / input_s:7.1f} frames/s)"
    )
    print(
        f"train_step alone     : {compute_s * 1e3:7.1f} ms/step ({frames / compute_s:.1f} frames/s)"
    )
    print(
        f"input / compute      : {input_s / compute_s:7.3f} (input runs in parallel via prefetch)"
    )

    one = time_fit(["/cpu:0"], model, data, train, sampling, args.steps)
    two = time_fit(["/cpu:0", "/cpu:1"], model, data, train, sampling, args.steps)
    print(f"fit, 1 replica       : {one * 1e3:7.1f} ms/step  ({frames / one:7.1f} frames/s)")
    print(f"fit, 2 CPU replicas  : {two * 1e3:7.1f} ms/step  ({frames / two:7.1f} frames/s)")
    print(f"2 replicas / 1       : {one / two:7.2f}x throughput")


if __name__ == "__main__":
    main()
