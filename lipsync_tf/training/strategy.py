"""Which tf.distribute strategy a run uses.

- `TF_CONFIG` set (a cluster): `MultiWorkerMirroredStrategy`, one process per worker
  (training/cluster.py: TF_CONFIG checked, bounded waits; a worker whose peers do not join
  within `peer_timeout` stops with a one-line error).
- `num_cpu_replicas > 1`: the CPU is split into that many logical devices and `MirroredStrategy`
  runs a replica on each, which exercises the real multi-replica code path on a laptop or CI.
- otherwise: `MirroredStrategy` over all local devices (every GPU, or the one CPU).
"""

from __future__ import annotations

import tensorflow as tf

from lipsync_tf.errors import ConfigError
from lipsync_tf.training import cluster as cluster_lib

# Seconds a worker waits for the others to start and join (workers of a real cluster can start
# minutes apart); past it, it stops with an error naming those that did not answer.
DEFAULT_PEER_TIMEOUT = 600.0


def make_strategy(
    num_cpu_replicas: int = 0, peer_timeout: float = DEFAULT_PEER_TIMEOUT
) -> tf.distribute.Strategy:
    cluster = cluster_lib.cluster_from_environment()
    if cluster is not None:
        if num_cpu_replicas > 1:
            raise ConfigError(
                "--num_cpu_replicas splits one process's CPU; with TF_CONFIG each worker runs one "
                "replica per GPU, or one on a CPU-only machine; drop one of the two."
            )
        with cluster_lib.joining(cluster, peer_timeout):
            return cluster_lib.make_multi_worker_strategy(cluster, peer_timeout)
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
