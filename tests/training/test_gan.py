"""TalkingFaceGAN's steps: each updates only its own networks, losses are finite and sensible."""

import numpy as np
import pytest
import tensorflow as tf

from lipsync_tf.config import AudioFeatureConfig, DataConfig, ModelConfig, TrainConfig
from lipsync_tf.data import reader
from lipsync_tf.training.gan import LOSS_NAMES, TalkingFaceGAN, lower_face_mask
from lipsync_tf.training.trainer import build_gan
from tests.data.helpers import make_clip, write_shards


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    rng = np.random.default_rng(1)
    directory = tmp_path_factory.mktemp("gan_shards")
    write_shards(directory, [make_clip(f"c{i}", f"s{i}", 30, rng, clip_code=i) for i in range(3)])
    config = DataConfig(data_dir=str(directory), window_frames=6, batch_size=2, deterministic=True)
    tiny = ModelConfig.tiny()
    sampling = reader.SamplingSpec(tiny.noise_dim, tiny.noise_std, frame_samples=2)
    return next(iter(reader.training_dataset(config, AudioFeatureConfig(), sampling)))


def _values(variables):
    return [v.numpy().copy() for v in variables]


def _changed(before, variables):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables, strict=True)]


@pytest.fixture
def gan():
    return build_gan(ModelConfig.tiny(), TrainConfig())


def test_discriminator_step_leaves_the_generator_unchanged(gan, batch):
    generator_before = _values(gan.generator.variables)
    discriminator_before = _values(gan.discriminator_variables)
    losses = gan.discriminator_step(batch)
    assert not any(_changed(generator_before, gan.generator.variables))
    assert all(_changed(discriminator_before, gan.discriminator_variables))
    for name in ("d_loss", "d_frame_loss", "d_seq_loss"):
        assert losses[name].shape == (2,) and np.isfinite(losses[name]).all()


def test_generator_step_leaves_the_discriminators_unchanged(gan, batch):
    generator_before = _values(gan.generator.trainable_variables)
    discriminator_before = _values(
        gan.frame_discriminator.variables + gan.sequence_discriminator.variables
    )
    gan.generator_step(batch)
    assert not any(
        _changed(
            discriminator_before,
            gan.frame_discriminator.variables + gan.sequence_discriminator.variables,
        )
    )
    assert sum(_changed(generator_before, gan.generator.trainable_variables)) > 0.9 * len(
        generator_before
    )
    assert int(gan.step.numpy()) == 1


def test_train_step_reports_every_loss_and_fresh_discriminators_are_near_chance(gan, batch):
    logs = gan.train_step(batch)
    assert set(logs) == set(LOSS_NAMES)
    assert all(np.isfinite(float(v)) for v in logs.values())
    # Untrained discriminators: real and fake each cost about log 2 per term.
    assert 1.0 < float(logs["d_frame_loss"]) < 2.2
    assert 1.0 < float(logs["d_seq_loss"]) < 2.2


def test_l1_term_weights_the_lower_face(gan, batch):
    fake = tf.identity(batch["frames"])
    offset = np.zeros(batch["frames"].shape, np.float32)
    offset[..., 100, :, :] = 0.5  # an error in a mouth row
    _, _, l1_mouth, weighted_mouth = gan.generator_losses(batch, fake + offset, training=False)
    offset = np.zeros(batch["frames"].shape, np.float32)
    offset[..., 10, :, :] = 0.5  # the same error in a forehead row
    _, _, l1_top, weighted_top = gan.generator_losses(batch, fake + offset, training=False)
    np.testing.assert_allclose(l1_mouth, l1_top, rtol=1e-5)
    mouth_weight = gan.train_config.mouth_weight
    np.testing.assert_allclose(weighted_mouth, (1 + mouth_weight) * weighted_top, rtol=1e-4)
    assert lower_face_mask()[100, 0, 0] == 1 and lower_face_mask()[10, 0, 0] == 0


def test_gan_config_round_trips(gan):
    clone = TalkingFaceGAN.from_config(gan.get_config())
    assert clone.train_config == gan.train_config
    assert clone.audio_window == gan.audio_window
