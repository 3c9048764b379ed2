"""TalkingFaceGAN's steps: each updates only its own networks, losses are finite and sensible."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from lipsync_tf.config import AudioFeatureConfig, DataConfig, ModelConfig, TrainConfig
from lipsync_tf.data import reader
from lipsync_tf.errors import ConfigError
from lipsync_tf.training.gan import (
    LOSS_NAMES,
    MOUTH_BOX,
    TalkingFaceGAN,
    lower_face_mask,
    mouth_dynamics,
)
from lipsync_tf.training.trainer import build_gan, init_generator
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
    mouth = gan.generator_losses(batch, fake + offset, training=False)
    offset = np.zeros(batch["frames"].shape, np.float32)
    offset[..., 10, :, :] = 0.5  # the same error in a forehead row
    top = gan.generator_losses(batch, fake + offset, training=False)
    np.testing.assert_allclose(mouth["l1"], top["l1"], rtol=1e-5)
    mouth_weight = gan.train_config.mouth_weight
    np.testing.assert_allclose(
        mouth["weighted_l1"], (1 + mouth_weight) * top["weighted_l1"], rtol=1e-4
    )
    assert lower_face_mask()[100, 0, 0] == 1 and lower_face_mask()[10, 0, 0] == 0


def test_motion_term_charges_a_still_for_the_mouth_movement_it_leaves_out(gan, batch):
    real = batch["frames"].numpy()
    # Make the real lower face move: frame t gets +0.01 * t on the mouth rows.
    moving = real.copy()
    steps = 0.01 * np.arange(real.shape[1], dtype=np.float32)
    moving[:, :, 64:] += steps[None, :, None, None, None]
    moving_batch = dict(batch, frames=tf.constant(moving))
    # The real video itself has no motion error; a still repeated on every frame is charged the
    # whole real change (0.01 per frame on every lower-face pixel, plus the clip's own motion).
    exact = gan.generator_losses(moving_batch, tf.constant(moving), training=False)
    np.testing.assert_allclose(exact["motion"], 0.0, atol=1e-7)
    still = np.repeat(moving[:, :1], real.shape[1], axis=1)
    frozen = gan.generator_losses(moving_batch, tf.constant(still), training=False)
    real_change = np.abs(np.diff(moving[:, :, 64:], axis=1)).mean(axis=(1, 2, 3, 4))
    np.testing.assert_allclose(frozen["motion"], real_change, rtol=1e-4)
    assert np.all(real_change > 0.009)
    # The upper face does not count: changing it frame to frame costs no motion.
    top_moving = moving.copy()
    top_moving[:, :, :64] += steps[None, :, None, None, None]
    upper = gan.generator_losses(moving_batch, tf.constant(top_moving), training=False)
    np.testing.assert_allclose(upper["motion"], 0.0, atol=1e-7)


def test_motion_weight_adds_the_motion_term_to_the_generator_loss(gan, batch):
    fake = tf.zeros_like(batch["frames"])
    terms = gan.generator_losses(batch, fake, training=False)
    base = gan.generator_objective(terms).numpy()
    weighted = TalkingFaceGAN.from_config(gan.get_config())
    weighted.train_config = dataclasses.replace(gan.train_config, motion_weight=7.0)
    np.testing.assert_allclose(
        weighted.generator_objective(terms), base + 7.0 * terms["motion"].numpy(), rtol=1e-5
    )


def test_mouth_dynamics_follow_the_mouth_box_and_ignore_the_rest():
    frames = np.zeros((1, 4, 128, 96, 3), np.float32)
    rows, cols = MOUTH_BOX
    # Frame 2: the middle of the mouth box goes dark (an open mouth); frame 3: the forehead does.
    frames[0, 2, rows.start + 8 : rows.start + 24, cols.start + 16 : cols.start + 24] = -1.0
    frames[0, 3, :40] = 0.7
    dynamics = mouth_dynamics(tf.constant(frames)).numpy()[0].reshape(4, 4, 5)
    # The two middle rows of the grid's middle column darken on frame 2 only (by 1 x 3/4 of the
    # window, as the window mean removes a quarter); every other cell stays flat.
    np.testing.assert_allclose(dynamics[2, 1:3, 2], -0.75, rtol=1e-6)
    np.testing.assert_allclose(dynamics[[0, 1, 3], 1:3, 2], 0.25, rtol=1e-6)
    dynamics[:, 1:3, 2] = 0.0
    np.testing.assert_allclose(dynamics, 0.0, atol=1e-7)


def test_audio_mouth_head_is_off_by_default_and_trains_the_audio_encoder_when_on(gan, batch):
    assert gan.audio_mouth_head is None
    np.testing.assert_array_equal(gan.generator_losses(batch, batch["frames"])["audio_mouth"], 0)
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


def _lip_sync_gan(**train_changes):
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


def test_lip_sync_terms_are_trained_and_the_experts_stay_frozen(batch):
    gan = _lip_sync_gan()
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
    from lipsync_tf.training.gan import real_mouth_shape

    always = _lip_sync_gan(teacher_forcing=1.0)
    generator = always.generator
    identity = generator.encode_identity(batch["still"])
    real = {"shape": real_mouth_shape(batch), "use": tf.ones([2])}
    expected = generator.generate(identity, batch["audio"], batch["noise"], teacher=real)
    np.testing.assert_allclose(always.generate(batch, training=True), expected["frames"], atol=1e-6)
    # At inference (training=False) the head's own shapes are drawn, whatever the rate.
    own = generator.generate(identity, batch["audio"], batch["noise"])
    np.testing.assert_allclose(always.generate(batch, training=False), own["frames"], atol=1e-6)
    assert np.abs(own["frames"] - expected["frames"]).max() > 1e-4


def test_mouth_head_and_sync_losses_follow_their_definitions(batch):
    from lipsync_tf.models.sync_expert import SYNC_FRAMES
    from lipsync_tf.training.gan import real_mouth_shape

    gan = _lip_sync_gan()
    real = real_mouth_shape(batch)
    np.testing.assert_allclose(gan.mouth_head_loss(batch, real), [0.0, 0.0], atol=1e-7)
    off = gan.mouth_head_loss(batch, real + 2.0).numpy()
    np.testing.assert_allclose(off, 4.0 * batch["lips_valid"].numpy().mean(axis=1), rtol=1e-5)
    # Sync: mean over the window's non-overlapping 5-frame stretches of -log sigmoid(logit).
    frames = batch["frames"]
    logit = gan.sync_expert((frames[:, :SYNC_FRAMES], batch["audio"][:, :SYNC_FRAMES]))
    expected = np.log1p(np.exp(-logit.numpy()))
    np.testing.assert_allclose(gan.sync_loss(batch, frames), expected, rtol=1e-5)


def test_flow_lips_loss_is_the_pixel_error_of_the_warp_at_the_real_lips(batch):
    from lipsync_tf.models.mouth_region import EYE_DISTANCE

    gan = _lip_sync_gan(flow_lips_weight=1.0)
    b, t = batch["frames"].shape[:2]
    # Every real lip point i of frame t wants the displacement still_i - lip_i (in pixels); a
    # flow that is that displacement everywhere is exact only where all points agree, so make
    # them agree: real lips = the still's lips shifted by one constant offset per frame.
    offset = np.array([0.02, -0.05], np.float32)  # face-frame units
    shifted = dict(batch)
    shifted["lips"] = tf.repeat(batch["still_lips"][:, None], t, axis=1) + offset
    exact = np.broadcast_to(-offset * EYE_DISTANCE, (b, t, 128, 96, 2)).astype(np.float32)
    np.testing.assert_allclose(gan.flow_lips_loss(shifted, tf.constant(exact)), 0.0, atol=1e-5)
    # A zero flow misses by |offset| in pixels, averaged over x and y, on the trusted frames.
    zero = tf.zeros_like(exact)
    expected = np.abs(offset * EYE_DISTANCE).mean() * batch["lips_valid"].numpy().mean(axis=1)
    np.testing.assert_allclose(gan.flow_lips_loss(shifted, zero), expected, rtol=1e-5)
    # Without a warp the term is off.
    np.testing.assert_allclose(gan.flow_lips_loss(shifted, None), 0.0)


def test_flow_lips_loss_finds_the_lips_where_the_jitter_moved_them(batch):
    from lipsync_tf.data.reader import frame_points
    from lipsync_tf.models.mouth_region import EYE_DISTANCE, lips_to_pixels

    gan = _lip_sync_gan(flow_lips_weight=1.0)
    b, t = batch["frames"].shape[:2]
    offset = np.array([0.02, -0.05], np.float32)
    framed = dict(batch)
    framed["lips"] = tf.repeat(batch["still_lips"][:, None], t, axis=1) + offset
    framed["framing"] = tf.constant([[1.25, 0.05, -0.03]] * b)
    # Zoomed 1.25x, the displacement each lip wants is 1.25x larger, and only there: the
    # flow is that displacement in a box 2 pixels around the reframed lips, zero elsewhere.
    points = frame_points(lips_to_pixels(framed["lips"]), framed["framing"]).numpy()
    flow = np.zeros((b, t, 128, 96, 2), np.float32)
    for example in range(b):
        (x0, y0), (x1, y1) = points[example].min(axis=(0, 1)), points[example].max(axis=(0, 1))
        box = np.s_[int(y0) - 2 : int(y1) + 3, int(x0) - 2 : int(x1) + 3]
        flow[example][:, box[0], box[1]] = -offset * EYE_DISTANCE * 1.25
    np.testing.assert_allclose(gan.flow_lips_loss(framed, tf.constant(flow)), 0.0, atol=1e-5)
    # Read at the lips' place in the untouched crop, the same flow misses.
    untouched = {**framed, "framing": tf.constant([[1.0, 0.0, 0.0]] * b)}
    valid = batch["lips_valid"].numpy().mean(axis=1) > 0
    assert np.all(gan.flow_lips_loss(untouched, tf.constant(flow)).numpy()[valid] > 0.1)


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
    gan = _lip_sync_gan(lip_reader_weight=0.0, sync_weight=0.0)
    to_rgb = gan.generator.frame_decoder.to_rgb
    bias = to_rgb.bias.numpy()
    bias[3] = -50.0  # mask logit: sigmoid(-50) = 0, the still everywhere
    to_rgb.bias.assign(bias)
    with tf.GradientTape() as tape:
        outputs = gan.generate_all(batch, training=True)
        terms = gan.generator_losses(batch, outputs["frames"], outputs=outputs)
        loss = tf.reduce_mean(gan.generator_objective(terms))
    np.testing.assert_allclose(outputs["mask"], 0.0, atol=1e-12)
    kernel_gradient = tape.gradient(loss, to_rgb.kernel).numpy()
    # The RGB part of the last layer still learns to draw the real frame.
    assert np.abs(kernel_gradient[..., :3, :]).max() > 1e-6
