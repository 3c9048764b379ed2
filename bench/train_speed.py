"""Training throughput of the CPU demo config: 1 vs 2 replicas, and input pipeline vs compute.

    python bench/train_speed.py --data_dir /tmp/lipsync_shared_data [--steps 20]

Prints, measured side by side in one process:
- input pipeline alone: batches/s the tf.data reader delivers (decode JPEG + MFCC);
- compute alone: seconds per `train_step` on a batch already in memory;
- end to end: `fit` frames/s on 1 replica and on 2 logical-CPU replicas (MirroredStrategy).
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

# Two logical CPUs must exist before TensorFlow starts; the 1-replica runs use only the first.
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2
)

from lipsync_tf.config import DataConfig, ModelConfig, TrainConfig  # noqa: E402
from lipsync_tf.data import reader  # noqa: E402
from lipsync_tf.training.trainer import build_gan  # noqa: E402


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default="/tmp/lipsync_shared_data")
    parser.add_argument("--model_config", default="configs/models/cpu_demo.json")
    parser.add_argument("--batch_size", type=int, default=4)
    parser.add_argument("--window_frames", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()

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
