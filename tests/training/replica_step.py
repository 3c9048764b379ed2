"""Run as a script (a fresh process, so the CPU can be split into 2 logical devices first): one
`fit` step of the tiny GAN on 1 replica and on 2 replicas from the same weights and batch, then
on 2 replicas again with the loss wrongly reduced per replica (`--control`); prints how much the
updates differ, as JSON.

SGD, not Adam: Adam's first step is scale-free and would hide a wrongly reduced (N-times too
large) gradient.

Each variable's update is compared in norm, relative to the norm of that update:
||update_1 - update_2|| / ||update_1||. A float32 summation order that differs between 1 and 2
replicas moves this by up to a few 1e-3 for the audio encoder's normalisation parameters, whose
gradients are small sums of large terms of both signs (measured: 3e-5 with oneDNN's AVX-512
kernels, 3.4e-3 with its AVX2 ones); a per-replica mean instead of the global-batch mean moves
every variable by ~0.5-1.
"""

import json
import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from lipsync_tf.config import AudioFeatureConfig, DataConfig, ModelConfig  # noqa: E402
from lipsync_tf.data import reader  # noqa: E402
from tests.training.updates import compare, per_replica_mean, sgd_step  # noqa: E402


def one_step(devices, data_dir, weights_path):
    """(names, weights before, weights after) of one SGD step on `devices`."""
    strategy = tf.distribute.MirroredStrategy(devices=devices)
    tiny = ModelConfig.tiny()
    # Building the input pipeline draws from the global seeds: reset them, same batch every call.
    keras.utils.set_random_seed(0)
    config = DataConfig(data_dir=data_dir, window_frames=6, batch_size=4, deterministic=True)
    sampling = reader.SamplingSpec(tiny.noise_dim, tiny.noise_std, 2)
    dataset = reader.training_dataset(config, AudioFeatureConfig(), sampling)
    return sgd_step(strategy, dataset, weights_path)


def main():
    data_dir, weights_path = sys.argv[1], sys.argv[2]
    names, before, single = one_step(["/cpu:0"], data_dir, weights_path)
    _, _, double = one_step(["/cpu:0", "/cpu:1"], data_dir, weights_path)
    result = {"global_batch_mean": compare(names, before, single, double)}
    if "--control" in sys.argv:
        tf.nn.compute_average_loss = per_replica_mean
        _, _, wrong = one_step(["/cpu:0", "/cpu:1"], data_dir, weights_path)
        result["per_replica_mean"] = compare(names, before, single, wrong)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
