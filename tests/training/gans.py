"""Tiny GANs and a real batch for the GAN and loss tests."""

import dataclasses

import numpy as np
import tensorflow as tf

from lipsync_tf.config import AudioFeatureConfig, DataConfig, ModelConfig, TrainConfig
from lipsync_tf.data import reader
from lipsync_tf.training.gan import TalkingFaceGAN
from tests.data.helpers import make_clip, write_shards


def make_batch(directory):
    """One deterministic batch (2 windows of 6 frames) from three made-up clips."""
    rng = np.random.default_rng(1)
    write_shards(directory, [make_clip(f"c{i}", f"s{i}", 30, rng, clip_code=i) for i in range(3)])
    config = DataConfig(data_dir=str(directory), window_frames=6, batch_size=2, deterministic=True)
    tiny = ModelConfig.tiny()
    sampling = reader.SamplingSpec(tiny.noise_dim, tiny.noise_std, frame_samples=2)
    return next(iter(reader.training_dataset(config, AudioFeatureConfig(), sampling)))


def lip_sync_gan(**train_changes) -> TalkingFaceGAN:
    """A tiny GAN with the mouth head, speech at every decoder stage, the blend mask and both
    frozen experts (untrained), every lip-sync weight on unless `train_changes` says otherwise."""
    from lipsync_tf.models.lip_reader import LipReader
    from lipsync_tf.models.sync_expert import SyncExpert

    model = dataclasses.replace(
        ModelConfig.tiny(), mouth_head=True, decoder_condition_channels=2, blend_mask=True
    )
    weights = dict(
        mouth_head_weight=1.0,
        teacher_forcing=0.5,
        lip_reader_weight=1.0,
        sync_weight=1.0,
        mask_weight=1.0,
    )
    train = TrainConfig(**{**weights, **train_changes})
    lip_reader = LipReader(filters=(4, 4, 4, 4, 4), fc_units=8)
    sync_expert = SyncExpert(filters=(4, 4, 4, 4), embedding_dim=4)
    lip_reader.build(), sync_expert.build()
    gan = TalkingFaceGAN.from_configs(model, train, lip_reader=lip_reader, sync_expert=sync_expert)
    gan.build()
    gan.compile(
        g_optimizer=tf.keras.optimizers.Adam(1e-3), d_optimizer=tf.keras.optimizers.Adam(1e-3)
    )
    return gan
