"""Run as a script, either as one worker of a TF_CONFIG cluster or as a lone process: what this
process's replicas receive from the training input pipeline, and one `fit` step of the tiny GAN.

    python tests/training/worker_step.py DATA_DIR INIT_WEIGHTS OUT_PREFIX

Writes OUT_PREFIX.json (windows, variable paths) and OUT_PREFIX.npz (variable values by index):
- windows: for each of the first STEPS global batches of 4, the examples this process's replicas
  got, each as (clip code, first frame index, fingerprint of its noise). The test's clips carry
  their clip code and frame index in their pixels; the noise is drawn per example of the stream
  from its own seed, so the fingerprint tells apart two examples of the same window;
- unsharded: the same with tf.data's auto-sharding turned off (the control: then every worker
  reads every example);
- weights after one SGD step from INIT_WEIGHTS (written by the lone process first), with the
  loss reduced over the global batch, and after one step with the bug the reduction prevents
  (each replica averaging its own examples only), for the multi-worker processes.

SGD, not Adam: Adam's first step is scale-free and would hide an N-times too large gradient.
"""

import hashlib
import json
import sys

import numpy as np
import tensorflow as tf

from lipsync_tf.config import AudioFeatureConfig, DataConfig, ModelConfig
from lipsync_tf.data import reader
from lipsync_tf.training import cluster as cluster_lib
from lipsync_tf.training.strategy import make_strategy
from tests.training.updates import per_replica_mean, sgd_step

STEPS = 4
GLOBAL_BATCH = 4


def data_config(data_dir: str) -> DataConfig:
    return DataConfig(
        data_dir=data_dir,
        window_frames=6,
        batch_size=GLOBAL_BATCH,
        validation_speakers=("s2",),
        deterministic=True,
    )


def window_ids(batch) -> list[list]:
    """(clip code, first frame index, noise fingerprint) of every example of a batch."""
    pixels = np.rint((batch["frames"].numpy()[:, 0, 0, 0, :2] + 1.0) * 127.5).astype(int)
    noise = batch["noise"].numpy()
    ids = []
    for (index_code, clip_code), example_noise in zip(pixels, noise, strict=True):
        frame = index_code * pow(7, -1, 256) % 256  # make_clip stores frame i as i * 7 % 256
        ids.append([int(clip_code), int(frame), hashlib.sha1(example_noise.tobytes()).hexdigest()])
    return ids


def read_windows(strategy, dataset) -> list[list]:
    """Per global step: the window ids this process's replicas receive."""
    steps = []
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    for _ in range(STEPS):
        batch = next(iterator)
        local = strategy.experimental_local_results(batch)
        steps.append([window for replica in local for window in window_ids(replica)])
    return steps


def main():
    data_dir, init_weights, out = sys.argv[1], sys.argv[2], sys.argv[3]
    cluster = cluster_lib.cluster_from_environment()
    strategy = make_strategy(peer_timeout=120)
    tiny = ModelConfig.tiny()
    sampling = reader.SamplingSpec(tiny.noise_dim, tiny.noise_std, 2)
    dataset = reader.training_dataset(data_config(data_dir), AudioFeatureConfig(), sampling)
    result = {"windows": read_windows(strategy, dataset)}
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    result["unsharded"] = read_windows(strategy, dataset.with_options(options))
    names, before, after = sgd_step(strategy, dataset, init_weights)
    result["variables"] = names
    arrays = {f"before/{i}": value for i, value in enumerate(before)}
    arrays.update({f"after/{i}": value for i, value in enumerate(after)})
    if cluster is not None:
        tf.nn.compute_average_loss = per_replica_mean
        _, _, wrong = sgd_step(strategy, dataset, init_weights)
        arrays.update({f"per_replica_mean/{i}": value for i, value in enumerate(wrong)})
    np.savez(f"{out}.npz", **arrays)
    with open(f"{out}.json", "w") as stream:
        json.dump(result, stream)


if __name__ == "__main__":
    main()
