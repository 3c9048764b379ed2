"""Which tf.distribute strategy a run uses.

- `TF_CONFIG` set (a cluster): `MultiWorkerMirroredStrategy`, one process per worker.
- `num_cpu_replicas > 1`: the CPU is split into that many logical devices and `MirroredStrategy`
  runs a replica on each, which exercises the real multi-replica code path on a laptop or CI.
- otherwise: `MirroredStrategy` over all local devices (every GPU, or the one CPU).
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from lipsync_tf.errors import ConfigError


def make_strategy(num_cpu_replicas: int = 0) -> tf.distribute.Strategy:
    if os.environ.get("TF_CONFIG"):
        try:
            json.loads(os.environ["TF_CONFIG"])
        except json.JSONDecodeError as error:
            raise ConfigError(f"TF_CONFIG is not valid JSON: {error}") from error
        return tf.distribute.MultiWorkerMirroredStrategy()
    if num_cpu_replicas > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * num_cpu_replicas
            )
        except RuntimeError as error:
            # Logical devices can only be configured before TensorFlow initialises its runtime.
            existing = len(tf.config.list_logical_devices("CPU"))
            if existing != num_cpu_replicas:
                raise ConfigError(
                    f"cannot split the CPU into {num_cpu_replicas} replicas after TensorFlow "
                    f"started ({existing} logical CPUs exist): {error}"
                ) from error
        devices = [device.name for device in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices[:num_cpu_replicas])
    if not tf.config.list_physical_devices("GPU"):
        # MirroredStrategy on the one CPU: same code path as GPUs, a single replica.
        return tf.distribute.MirroredStrategy(devices=["/cpu:0"])
    return tf.distribute.MirroredStrategy()
