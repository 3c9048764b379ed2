"""Run as a script (a fresh process, so the CPU can be split into 2 logical devices first): one
`fit` step of the tiny GAN on 1 replica and on 2 replicas from the same weights and batch; prints
how much the two updates differ, as JSON. SGD, not Adam: Adam's first step is scale-free and would
hide a wrongly reduced (N-times too large) gradient."""

import json
import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from lipsync_tf.config import AudioFeatureConfig, DataConfig, ModelConfig, TrainConfig  # noqa: E402
from lipsync_tf.data import reader  # noqa: E402
from lipsync_tf.training.gan import TalkingFaceGAN  # noqa: E402


def one_step(devices, data_dir, weights_path):
    strategy = tf.distribute.MirroredStrategy(devices=devices)
    tiny = ModelConfig.tiny()
    with strategy.scope():
        keras.utils.set_random_seed(0)
        gan = TalkingFaceGAN.from_configs(tiny, TrainConfig())
        gan.build()
        gan.compile(g_optimizer=keras.optimizers.SGD(0.5), d_optimizer=keras.optimizers.SGD(0.5))
        gan.build_optimizers()
        if weights_path.endswith(".weights.h5") and tf.io.gfile.exists(weights_path):
            gan.load_weights(weights_path)
        else:
            gan.save_weights(weights_path)
    config = DataConfig(data_dir=data_dir, window_frames=6, batch_size=4, deterministic=True)
    sampling = reader.SamplingSpec(tiny.noise_dim, tiny.noise_std, 2)
    dataset = reader.training_dataset(config, AudioFeatureConfig(), sampling)
    variables = gan.generator.weights + gan.discriminator_variables
    before = [v.numpy() for v in variables]
    gan.fit(dataset, steps_per_epoch=1, epochs=1, verbose=0, shuffle=False)
    return before, [v.numpy() for v in variables]


def main():
    data_dir, weights_path = sys.argv[1], sys.argv[2]
    before, single = one_step(["/cpu:0"], data_dir, weights_path)
    _, double = one_step(["/cpu:0", "/cpu:1"], data_dir, weights_path)
    # Compare the updates each run applied: their largest difference relative to the largest
    # update of that variable (a mis-scaled gradient gives ~0.5 or 1.0).
    relative = []
    for start, a, b in zip(before, single, double, strict=True):
        update = float(np.max(np.abs(a - start)))
        if update > 0:
            relative.append(float(np.max(np.abs(a - b))) / update)
    print(json.dumps({"max_relative_diff": max(relative), "num_variables": len(relative)}))


if __name__ == "__main__":
    main()
