"""One training update of the tiny GAN from given weights, and comparing two such updates
variable by variable, in norm (for the replica and multi-worker scripts beside this file)."""

import keras
import numpy as np
import tensorflow as tf

from lipsync_tf.config import ModelConfig, TrainConfig
from lipsync_tf.training.gan import TalkingFaceGAN


def sgd_step(strategy, dataset, weights_path: str):
    """(variable paths, values before, values after) of one `fit` step of the tiny GAN under
    `strategy`, from the weights at `weights_path` (written there first if it does not exist).

    SGD, not Adam: Adam's first step is scale-free and would hide an N-times too large gradient.
    """
    with strategy.scope():
        keras.utils.set_random_seed(0)
        gan = TalkingFaceGAN.from_configs(ModelConfig.tiny(), TrainConfig())
        gan.build()
        gan.compile(g_optimizer=keras.optimizers.SGD(0.5), d_optimizer=keras.optimizers.SGD(0.5))
        gan.build_optimizers()
        if tf.io.gfile.exists(weights_path):
            gan.load_weights(weights_path)
        else:
            gan.save_weights(weights_path)
    variables = gan.generator.weights + gan.discriminator_variables
    before = [v.numpy() for v in variables]
    gan.fit(dataset, steps_per_epoch=1, epochs=1, verbose=0, shuffle=False)
    return [v.path for v in variables], before, [v.numpy() for v in variables]


def per_replica_mean(per_example, **_):
    """The bug the global-batch reduction prevents: each replica averages its own examples.
    Set as `tf.nn.compute_average_loss` to check that a test can see it."""
    return tf.reduce_mean(per_example)


def compare(names, before, reference, other) -> dict:
    """Relative norm differences of the updates: worst variable, and all variables together.

    For each variable, ||other - reference|| / ||reference - before||: how far the second update
    lands from the first, relative to the size of the first.
    """
    per_variable = {}
    total_diff, total_update = 0.0, 0.0
    for name, start, a, b in zip(names, before, reference, other, strict=True):
        update = np.linalg.norm((a - start).astype(np.float64))
        diff = np.linalg.norm((a - b).astype(np.float64))
        total_diff, total_update = total_diff + diff**2, total_update + update**2
        if update > 0:
            per_variable[name] = diff / update
    worst = max(per_variable, key=per_variable.get)
    return {
        "max_relative_diff": per_variable[worst],
        "worst_variable": worst,
        "median_relative_diff": float(np.median(list(per_variable.values()))),
        "overall_relative_diff": float(np.sqrt(total_diff / total_update)),
        "num_variables": len(per_variable),
    }
