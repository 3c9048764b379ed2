"""TalkingFaceGAN's steps: each updates only its own networks, losses are finite and sensible."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from lipsync_tf.config import ModelConfig, TrainConfig
from lipsync_tf.errors import ConfigError
from lipsync_tf.training.gan import TalkingFaceGAN
from lipsync_tf.training.trainer import build_gan, init_generator
from tests.training.gans import lip_sync_gan, make_batch


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    return make_batch(tmp_path_factory.mktemp("gan_shards"))


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
    # The paper's losses are on by default; the opt-in ones cost nothing and are not logged.
    assert set(logs) == {
        "d_loss", "d_frame_loss", "d_seq_loss", "g_loss", "frame_adv", "seq_adv", "l1"
    }  # fmt: skip
    assert all(np.isfinite(float(v)) for v in logs.values())
    # Untrained discriminators: real and fake each cost about log 2 per term.
    assert 1.0 < float(logs["d_frame_loss"]) < 2.2
    assert 1.0 < float(logs["d_seq_loss"]) < 2.2


def test_audio_mouth_head_is_off_by_default_and_trains_the_audio_encoder_when_on(gan, batch):
    assert gan.audio_mouth_head is None
    assert "audio_mouth" not in gan.generator_losses(batch, gan.generate_all(batch))
    aux = build_gan(ModelConfig.tiny(), TrainConfig(audio_mouth_weight=10.0))
    head_before = _values(aux.audio_mouth_head.trainable_variables)
    encoder_before = _values(aux.generator.audio_encoder.trainable_variables)
    losses = aux.generator_step(batch)
    assert np.all(losses["audio_mouth"] > 0)
    assert all(_changed(head_before, aux.audio_mouth_head.trainable_variables))
    assert any(_changed(encoder_before, aux.generator.audio_encoder.trainable_variables))
    # The head is part of the GAN's saved state, so a run with it resumes with it.
    clone = TalkingFaceGAN.from_config(aux.get_config())
    assert clone.audio_mouth_head is not None


def test_init_generator_loads_a_generator_checkpoint_into_a_fresh_run(gan, tmp_path):
    path = str(tmp_path / "generator-00000010.weights.h5")
    gan.generator.save_weights(path)
    other = build_gan(ModelConfig.tiny(), TrainConfig(seed=5))
    other_d = _values(other.discriminator_variables)
    init_generator(other, path)
    for mine, theirs in zip(gan.generator.weights, other.generator.weights, strict=True):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert not any(_changed(other_d, other.discriminator_variables))
    with pytest.raises(ConfigError, match="does not exist"):
        init_generator(other, str(tmp_path / "missing.weights.h5"))
    wider = build_gan(dataclasses.replace(ModelConfig.tiny(), identity_dim=7), TrainConfig())
    with pytest.raises(ConfigError, match="does not fit"):
        init_generator(wider, path)


def test_gan_config_round_trips(gan):
    clone = TalkingFaceGAN.from_config(gan.get_config())
    assert clone.train_config == gan.train_config
    assert clone.audio_window == gan.audio_window


def test_lip_sync_terms_are_trained_and_the_experts_stay_frozen(batch):
    gan = lip_sync_gan()
    experts = gan.lip_reader.variables + gan.sync_expert.variables
    expert_before = _values(experts)
    logs = gan.train_step(batch)
    for name in ("mouth_head", "lip_reader", "sync", "mask"):
        assert np.isfinite(float(logs[name])) and float(logs[name]) > 0, name
    assert not any(_changed(expert_before, experts))
    # The experts are not part of the GAN's weights (so not of its checkpoints).
    gan_weights = {id(v) for v in gan.weights}
    assert not any(id(v) in gan_weights for v in experts)
    head_before = _values(gan.generator.mouth_head.variables)
    gan.generator_step(batch)
    assert all(_changed(head_before, gan.generator.mouth_head.variables))


def test_teacher_forcing_shows_the_decoder_the_real_mouth(batch):
    from lipsync_tf.training.losses import real_mouth_shape

    always = lip_sync_gan(teacher_forcing=1.0)
    generator = always.generator
    identity = generator.encode_identity(batch["still"])
    real = {"shape": real_mouth_shape(batch), "use": tf.ones([2])}
    expected = generator.generate(identity, batch["audio"], batch["noise"], teacher=real)
    np.testing.assert_allclose(always.generate(batch, training=True), expected["frames"], atol=1e-6)
    # At inference (training=False) the head's own shapes are drawn, whatever the rate.
    own = generator.generate(identity, batch["audio"], batch["noise"])
    np.testing.assert_allclose(always.generate(batch, training=False), own["frames"], atol=1e-6)
    assert np.abs(own["frames"] - expected["frames"]).max() > 1e-4


def test_lip_sync_weights_need_the_model_options_and_experts(tmp_path):
    with pytest.raises(ConfigError, match="mouth_head"):
        build_gan(ModelConfig.tiny(), TrainConfig(mouth_head_weight=1.0))
    with pytest.raises(ConfigError, match="blend_mask"):
        build_gan(ModelConfig.tiny(), TrainConfig(mask_weight=1.0))
    with pytest.raises(ConfigError, match="warp_still"):
        build_gan(ModelConfig.tiny(), TrainConfig(flow_lips_weight=1.0))
    with pytest.raises(ConfigError, match="--lip_reader"):
        build_gan(ModelConfig.tiny(), TrainConfig(lip_reader_weight=1.0))
    with pytest.raises(ConfigError, match="does not exist"):
        build_gan(
            ModelConfig.tiny(),
            TrainConfig(sync_weight=1.0, sync_expert=str(tmp_path / "none.keras")),
        )


def test_the_drawn_image_learns_even_while_the_blend_mask_is_closed(batch):
    gan = lip_sync_gan(lip_reader_weight=0.0, sync_weight=0.0)
    to_rgb = gan.generator.frame_decoder.to_rgb
    bias = to_rgb.bias.numpy()
    bias[3] = -50.0  # mask logit: sigmoid(-50) = 0, the still everywhere
    to_rgb.bias.assign(bias)
    with tf.GradientTape() as tape:
        outputs = gan.generate_all(batch, training=True)
        terms = gan.generator_losses(batch, outputs)
        loss = tf.reduce_mean(gan.generator_objective(terms))
    np.testing.assert_allclose(outputs["mask"], 0.0, atol=1e-12)
    kernel_gradient = tape.gradient(loss, to_rgb.kernel).numpy()
    # The RGB part of the last layer still learns to draw the real frame.
    assert np.abs(kernel_gradient[..., :3, :]).max() > 1e-6


def test_a_mouth_discriminator_trains_beside_the_others_when_its_loss_is_weighted(gan, batch):
    assert gan.mouth_discriminator is None  # off by default: the paper's two discriminators
    mouthed = build_gan(ModelConfig.tiny(), TrainConfig(mouth_adv_weight=1.0))
    mouth = mouthed.mouth_discriminator
    assert mouth is not None
    assert {id(v) for v in mouth.trainable_variables} <= {
        id(v) for v in mouthed.discriminator_variables
    }
    before = _values(mouth.variables)
    logs = mouthed.discriminator_step(batch)
    assert all(_changed(before, mouth.variables))
    assert logs["d_mouth_loss"].shape == (2,) and np.isfinite(logs["d_mouth_loss"]).all()
    # The generator is pushed by it, and the generator step leaves it alone.
    before = _values(mouth.variables)
    with tf.GradientTape() as tape:
        outputs = mouthed.generate_all(batch, training=True)
        term = mouthed.generator_losses(batch, outputs)["mouth_adv"]
    gradients = tape.gradient(term, mouthed.generator.trainable_variables)
    assert any(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in gradients)
    mouthed.generator_step(batch)
    assert not any(_changed(before, mouth.variables))
    clone = TalkingFaceGAN.from_config(mouthed.get_config())
    assert clone.mouth_discriminator.filters == mouth.filters


def test_the_mouth_discriminator_can_learn_at_its_own_rate(batch):
    train = TrainConfig(mouth_adv_weight=1.0, mouth_d_learning_rate=1e-3)
    gan = build_gan(ModelConfig.tiny(), train)
    assert gan.mouth_optimizer is not None and gan.mouth_optimizer is not gan.d_optimizer
    mouth = gan.mouth_discriminator.trainable_variables
    before_mouth, before_frame = _values(mouth), _values(gan.frame_discriminator.variables)
    gan.discriminator_step(batch)
    assert all(_changed(before_mouth, mouth))
    assert all(_changed(before_frame, gan.frame_discriminator.variables))
    assert int(gan.mouth_optimizer.iterations) == int(gan.d_optimizer.iterations) == 1
    assert float(gan.mouth_optimizer.learning_rate) == pytest.approx(1e-3)
    assert float(gan.d_optimizer.learning_rate) == pytest.approx(train.d_learning_rate)
    # Without a mouth discriminator the rate is ignored: one optimizer, as before.
    plain = build_gan(ModelConfig.tiny(), TrainConfig(mouth_d_learning_rate=1e-3))
    assert plain.mouth_optimizer is None
