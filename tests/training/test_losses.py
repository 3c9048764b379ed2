"""training/losses.py: each loss follows its definition, and the registry is the one place a
loss is named, weighted, checked and logged."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from lipsync_tf.config import ModelConfig, TrainConfig
from lipsync_tf.errors import ConfigError
from lipsync_tf.face_geometry import EYE_DISTANCE, LIPS, MOUTH_CELLS_BOX, lips_to_pixels
from lipsync_tf.training import losses
from lipsync_tf.training.losses import StepTensors
from lipsync_tf.training.trainer import build_gan
from tests.training.gans import lip_sync_gan, make_batch


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    return make_batch(tmp_path_factory.mktemp("loss_shards"))


@pytest.fixture(scope="module")
def gan():
    return build_gan(ModelConfig.tiny(), TrainConfig())


def _loss(name, gan, batch, **outputs):
    return losses.GENERATOR_LOSSES[name].fn(StepTensors(batch, outputs, gan, training=False))


def test_every_registered_loss_has_a_weight_field_with_help():
    fields = {field.name: field for field in dataclasses.fields(TrainConfig)}
    for loss in losses.GENERATOR_LOSSES.values():
        assert loss.weight_field in fields, loss.name
        assert fields[loss.weight_field].metadata["help"], loss.name
        if loss.needs:
            assert hasattr(ModelConfig(), loss.needs), loss.name
        if loss.expert:
            assert loss.expert in fields, loss.name


def test_only_weighted_losses_are_computed_and_logged():
    config = TrainConfig(motion_weight=0.5, l1_weight=0.0)
    assert [loss.name for loss in losses.active_losses(config)] == [
        "frame_adv", "seq_adv", "motion"
    ]  # fmt: skip
    assert losses.logged_names(config) == [
        "d_loss", "d_frame_loss", "d_seq_loss", "g_loss", "frame_adv", "seq_adv", "motion"
    ]  # fmt: skip


def test_the_mouth_discriminator_loss_exists_only_with_its_generator_loss():
    assert "d_mouth_loss" not in losses.active_discriminator_losses(TrainConfig())
    assert losses.logged_names(TrainConfig(mouth_adv_weight=0.5, l1_weight=0.0)) == [
        "d_loss", "d_frame_loss", "d_seq_loss", "d_mouth_loss",
        "g_loss", "frame_adv", "seq_adv", "mouth_adv",
    ]  # fmt: skip


def test_the_objective_is_the_weighted_sum_of_the_terms():
    config = TrainConfig(motion_weight=7.0)
    terms = {"l1": tf.constant([1.0, 2.0]), "motion": tf.constant([0.5, 0.0])}
    np.testing.assert_allclose(losses.weighted_sum(terms, config), [103.5, 200.0])


def test_a_weight_without_the_model_output_or_expert_it_needs_is_refused():
    with pytest.raises(ConfigError, match="--mask_weight needs a model config with blend_mask"):
        losses.check_losses(ModelConfig.tiny(), TrainConfig(mask_weight=1.0))
    with pytest.raises(ConfigError, match="--sync_weight needs --sync_expert"):
        losses.check_losses(ModelConfig.tiny(), TrainConfig(sync_weight=1.0))
    losses.check_losses(ModelConfig.tiny(), TrainConfig(motion_weight=1.0))


def test_l1_weights_the_lower_face(gan, batch):
    real = batch["frames"].numpy()

    def error_in_row(row):
        fake = real.copy()
        fake[..., row, :, :] += 0.5
        return _loss("l1", gan, batch, frames=tf.constant(fake)).numpy()

    mouth_weight = gan.train_config.mouth_weight
    np.testing.assert_allclose(error_in_row(100), (1 + mouth_weight) * error_in_row(10), rtol=1e-4)
    np.testing.assert_allclose(_loss("l1", gan, batch, frames=batch["frames"]), 0.0)


def test_motion_charges_a_still_for_the_mouth_movement_it_leaves_out(gan, batch):
    real = batch["frames"].numpy()
    # Make the real lower face move: frame t gets +0.01 * t on the mouth rows.
    moving = real.copy()
    steps = 0.01 * np.arange(real.shape[1], dtype=np.float32)
    moving[:, :, 64:] += steps[None, :, None, None, None]
    moving_batch = dict(batch, frames=tf.constant(moving))
    # The real video itself has no motion error; a still repeated on every frame is charged the
    # whole real change (0.01 per frame on every lower-face pixel, plus the clip's own motion).
    exact = _loss("motion", gan, moving_batch, frames=tf.constant(moving))
    np.testing.assert_allclose(exact, 0.0, atol=1e-7)
    still = np.repeat(moving[:, :1], real.shape[1], axis=1)
    frozen = _loss("motion", gan, moving_batch, frames=tf.constant(still))
    real_change = np.abs(np.diff(moving[:, :, 64:], axis=1)).mean(axis=(1, 2, 3, 4))
    np.testing.assert_allclose(frozen, real_change, rtol=1e-4)
    assert np.all(real_change > 0.009)
    # The upper face does not count: changing it frame to frame costs no motion.
    top_moving = moving.copy()
    top_moving[:, :, :64] += steps[None, :, None, None, None]
    upper = _loss("motion", gan, moving_batch, frames=tf.constant(top_moving))
    np.testing.assert_allclose(upper, 0.0, atol=1e-7)


def test_mouth_dynamics_follow_the_mouth_box_and_ignore_the_rest():
    frames = np.zeros((1, 4, 128, 96, 3), np.float32)
    rows, cols = MOUTH_CELLS_BOX
    # Frame 2: the middle of the mouth box goes dark (an open mouth); frame 3: the forehead does.
    frames[0, 2, rows.start + 8 : rows.start + 24, cols.start + 16 : cols.start + 24] = -1.0
    frames[0, 3, :40] = 0.7
    dynamics = losses.mouth_dynamics(tf.constant(frames)).numpy()[0].reshape(4, 4, 5)
    # The two middle rows of the grid's middle column darken on frame 2 only (by 1 x 3/4 of the
    # window, as the window mean removes a quarter); every other cell stays flat.
    np.testing.assert_allclose(dynamics[2, 1:3, 2], -0.75, rtol=1e-6)
    np.testing.assert_allclose(dynamics[[0, 1, 3], 1:3, 2], 0.25, rtol=1e-6)
    dynamics[:, 1:3, 2] = 0.0
    np.testing.assert_allclose(dynamics, 0.0, atol=1e-7)


def test_mouth_head_and_sync_follow_their_definitions(batch):
    from lipsync_tf.models.sync_expert import SYNC_FRAMES

    gan = lip_sync_gan()
    real = losses.real_mouth_shape(batch)
    np.testing.assert_allclose(_loss("mouth_head", gan, batch, mouth_shape=real), 0.0, atol=1e-7)
    off = _loss("mouth_head", gan, batch, mouth_shape=real + 2.0).numpy()
    np.testing.assert_allclose(off, 4.0 * batch["lips_valid"].numpy().mean(axis=1), rtol=1e-5)
    # Sync: mean over the window's non-overlapping 5-frame stretches of -log sigmoid(logit).
    frames = batch["frames"]
    logit = gan.sync_expert((frames[:, :SYNC_FRAMES], batch["audio"][:, :SYNC_FRAMES]))
    expected = np.log1p(np.exp(-logit.numpy()))
    np.testing.assert_allclose(_loss("sync", gan, batch, frames=frames), expected, rtol=1e-5)


def test_flow_lips_is_the_pixel_error_of_the_warp_at_the_real_lips(batch):
    gan = lip_sync_gan(flow_lips_weight=1.0)
    b, t = batch["frames"].shape[:2]
    # Every real lip point i of frame t wants the displacement still_i - lip_i (in pixels); a
    # flow that is that displacement everywhere is exact only where all points agree, so make
    # them agree: real lips = the still's lips shifted by one constant offset per frame.
    offset = np.array([0.02, -0.05], np.float32)  # face-frame units
    shifted = dict(batch)
    shifted["lips"] = tf.repeat(batch["still_lips"][:, None], t, axis=1) + offset
    exact = np.broadcast_to(-offset * EYE_DISTANCE, (b, t, 128, 96, 2)).astype(np.float32)
    np.testing.assert_allclose(
        _loss("flow_lips", gan, shifted, flow=tf.constant(exact)), 0.0, atol=1e-5
    )
    # A zero flow misses by |offset| in pixels, averaged over x and y, on the trusted frames.
    expected = np.abs(offset * EYE_DISTANCE).mean() * batch["lips_valid"].numpy().mean(axis=1)
    zero = tf.zeros_like(exact)
    np.testing.assert_allclose(_loss("flow_lips", gan, shifted, flow=zero), expected, rtol=1e-5)


def test_flow_lips_finds_the_lips_where_the_jitter_moved_them(batch):
    from lipsync_tf.data.reader import frame_points

    gan = lip_sync_gan(flow_lips_weight=1.0)
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
    np.testing.assert_allclose(
        _loss("flow_lips", gan, framed, flow=tf.constant(flow)), 0.0, atol=1e-5
    )
    # Read at the lips' place in the untouched crop, the same flow misses.
    untouched = {**framed, "framing": tf.constant([[1.0, 0.0, 0.0]] * b)}
    valid = batch["lips_valid"].numpy().mean(axis=1) > 0
    missed = _loss("flow_lips", gan, untouched, flow=tf.constant(flow)).numpy()
    assert np.all(missed[valid] > 0.1)


def test_polygon_masks_fill_the_inside_of_a_polygon():
    square = tf.constant([[[10.0, 20.0], [30.0, 20.0], [30.0, 40.0], [10.0, 40.0]]])
    mask = losses.polygon_masks(square, 128, 96).numpy()[0]
    # Pixel centres x in 10..29 and y in 20..39 are inside (20 x 20).
    assert mask.sum() == 400
    assert mask[30, 20] == 1 and mask[19, 20] == 0 and mask[30, 9] == 0


def test_mouth_mask_wants_the_mask_on_the_mouths_inside_and_nowhere_else(batch):
    gan = lip_sync_gan(mouth_mask_weight=1.0)
    edge = gan.train_config.mouth_mask_edge
    inside = losses.mouth_inside(batch, edge).numpy()
    prior = gan.generator.mask_prior.numpy()[..., 0]
    valid = batch["lips_valid"].numpy().mean(axis=1)
    b, t = inside.shape[:2]
    # A mask that is the (softened) inside of the real mouth costs nothing.
    exact = tf.constant((inside * prior)[..., None])
    np.testing.assert_allclose(_loss("mouth_mask", gan, batch, mask=exact), 0.0, atol=1e-6)
    # A closed mask costs the inside's area; drawing over the chin costs that area too, both
    # per pixel of the prior.
    closed = np.zeros((b, t, 128, 96, 1), np.float32)
    expected = (inside * prior).sum(axis=(2, 3)).mean(axis=1) / prior.sum() * valid
    got = _loss("mouth_mask", gan, batch, mask=tf.constant(closed))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    chin = (inside * prior)[..., None].copy()
    chin[:, :, 92:96, 40:50] = 1.0  # 40 pixels below the mouth, inside the prior
    extra = np.abs(chin[..., 0] - inside * prior).sum(axis=(2, 3)).mean(axis=1)
    got = _loss("mouth_mask", gan, batch, mask=tf.constant(chin))
    np.testing.assert_allclose(got, extra / prior.sum() * valid, rtol=1e-4)
    assert np.all(extra > 20)
    # The inside follows the real mouth: an open mouth has more of it than a closed one.
    opened = dict(batch)
    lips = batch["lips"].numpy().copy()
    lower_lip = [LIPS.index(p) for p in (324, 318, 402, 317, 14, 87, 178, 88, 95)]
    lips[:, :, lower_lip, 1] += 0.15  # the lower inner lip drops by 0.15 eye distances
    opened["lips"] = tf.constant(lips)
    assert losses.mouth_inside(opened, edge).numpy().sum() > inside.sum() + 10 * b * t


def test_rgb_to_lab_matches_known_colours():
    colours = tf.constant([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0], [1.0, -1.0, -1.0]])
    lab = losses.rgb_to_lab(colours).numpy()
    np.testing.assert_allclose(lab[0], [100.0, 0.0, 0.0], atol=0.05)
    np.testing.assert_allclose(lab[1], [0.0, 0.0, 0.0], atol=0.05)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.1)  # sRGB red


def test_lip_color_is_the_ab_distance_of_the_lips_mean_colours(gan, batch):
    real = batch["frames"].numpy()
    np.testing.assert_allclose(
        _loss("lip_color", gan, batch, frames=batch["frames"]), 0.0, atol=1e-3
    )
    # Tinting only the lips changes it; tinting only the forehead does not.
    flesh = losses.lip_flesh_masks(batch).numpy()[..., None] > 0
    tint = np.array([0.1, -0.1, 0.1], np.float32)
    tinted = np.where(flesh, np.clip(real + tint, -1, 1), real).astype(np.float32)
    assert np.all(_loss("lip_color", gan, batch, frames=tf.constant(tinted)).numpy() > 1.0)
    forehead = real.copy()
    forehead[:, :, :30] += 0.2
    np.testing.assert_allclose(
        _loss("lip_color", gan, batch, frames=tf.constant(forehead)), 0.0, atol=1e-3
    )


def test_inside_quantiles_are_the_quantiles_of_the_masked_pixels_only():
    values = np.arange(40, dtype=np.float32)[None, :, None].repeat(3, axis=2) / 40
    inside = np.zeros((1, 40), bool)
    inside[0, 10:26] = True  # 16 pixels: one per quantile
    got = losses.inside_quantiles(tf.constant(values), tf.constant(inside)).numpy()
    np.testing.assert_allclose(got[0, :, 0], values[0, 10:26, 0])
    # Order does not matter, pixels outside do not count.
    shuffled, outside = values.copy(), values.copy()
    shuffled[0, 10:26] = shuffled[0, 10:26][::-1]
    outside[0, :10] = -5.0
    for other in (shuffled, outside):
        again = losses.inside_quantiles(tf.constant(other), tf.constant(inside)).numpy()
        np.testing.assert_allclose(again, got)


def test_mouth_tones_asks_for_the_real_spread_of_tones_over_the_batchs_open_mouths(batch):
    gan = lip_sync_gan(mouth_tones_weight=1.0)
    real = batch["frames"].numpy()
    inside = losses._contour_masks(batch, losses.INNER_LIP_CONTOUR).numpy() > 0.5
    is_open = inside.sum(axis=(2, 3)) >= losses.MIN_OPEN_MOUTH_PIXELS
    counted = is_open & (batch["lips_valid"].numpy() > 0)
    assert counted.sum() >= 2, "the test batch needs open, trusted mouths"

    def tones(frames):
        got = _loss("mouth_tones", gan, batch, frames=tf.constant(frames.astype(np.float32)))
        assert np.ptp(got.numpy()) == 0  # one value for the batch
        return float(got.numpy()[0])

    assert tones(real) == 0.0
    # Tones moved around inside a mouth, or between the frames of the batch, cost nothing;
    # so does anything outside the mouths.
    moved = real.copy()
    for b, t in np.argwhere(inside.any(axis=(2, 3))):
        rows, cols = np.nonzero(inside[b, t])
        moved[b, t, rows, cols] = real[b, t, rows[::-1], cols[::-1]]
    # Two mouths that trade a dark and a bright inside: same tones in the batch, no cost (a
    # loss pairing each frame with its real one would charge |bright - dark| twice).
    (b0, t0), (b1, t1) = np.argwhere(counted)[[0, -1]]
    traded_real, traded = real.copy(), real.copy()
    for (b, t), dark_in_real in (((b0, t0), True), ((b1, t1), False)):
        traded_real[b, t][inside[b, t]] = -0.8 if dark_in_real else 0.6
        traded[b, t][inside[b, t]] = 0.6 if dark_in_real else -0.8
    traded_batch = dict(batch, frames=tf.constant(traded_real))
    got = losses.GENERATOR_LOSSES["mouth_tones"].fn(
        StepTensors(traded_batch, {"frames": tf.constant(traded)}, gan, training=False)
    )
    np.testing.assert_allclose(got, 0.0, atol=1e-6)
    outside = np.where(inside[..., None], real, 1.0)
    for frames in (moved, outside):
        assert tones(frames) < 1e-6
    # One flat tone per mouth (each frame's median: what a per-frame regression settles on)
    # costs the spread it lost; a batch with every mouth lit alike (teeth in every frame)
    # costs too.
    median = np.nanmedian(
        np.where(inside[..., None], real, np.nan).reshape(*real.shape[:2], -1, 3), 2
    )
    flat = np.where(inside[..., None], np.nan_to_num(median)[:, :, None, None], real)
    assert tones(flat) > 0.005
    lit = np.where(inside[..., None], np.clip(real + 0.5, -1, 1), real)
    assert tones(lit) > 0.1
    # Only trusted, open mouths count: lighting a mouth the face mesh did not trust is free.
    untrusted = dict(batch)
    untrusted["lips_valid"] = tf.zeros_like(batch["lips_valid"])
    got = losses.GENERATOR_LOSSES["mouth_tones"].fn(
        StepTensors(untrusted, {"frames": tf.constant(lit.astype(np.float32))}, gan, False)
    )
    np.testing.assert_allclose(got, 0.0)


def test_a_narrower_mouth_edge_lets_a_thin_gap_ask_for_a_full_mask(batch):
    soft, sharp = (losses.mouth_inside(batch, edge).numpy() for edge in (3, 1))
    hard = losses._contour_masks(batch, losses.INNER_LIP_CONTOUR).numpy()
    # Both soften the same inside; the narrow edge stays closer to it.
    assert np.abs(sharp - hard).sum() < np.abs(soft - hard).sum()
    np.testing.assert_allclose(sharp.sum(), hard.sum(), rtol=0.05)
    # Lips parted by three rows at most (a lens, thinner towards the corners): the default
    # edge asks for under half a mask (about a quarter to a third), edge 1 for twice that.
    inner = losses.contour_positions(losses.INNER_LIP_CONTOUR)
    lips = batch["lips"].numpy().copy()
    rows = np.nonzero(hard.any(axis=(0, 1, 3)))[0]
    squeeze = 3.5 / (rows.max() - rows.min() + 1)
    centre = lips[:, :, inner, 1].mean(axis=2, keepdims=True)
    lips[:, :, inner, 1] = centre + (lips[:, :, inner, 1] - centre) * squeeze
    thin = dict(batch, lips=tf.constant(lips))
    assert losses._contour_masks(thin, losses.INNER_LIP_CONTOUR).numpy().sum(axis=2).max() <= 4
    soft_peak, sharp_peak = (losses.mouth_inside(thin, edge).numpy().max() for edge in (3, 1))
    assert soft_peak < 0.45 and sharp_peak > 0.65 and sharp_peak > 2 * soft_peak
