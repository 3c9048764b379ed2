"""Every loss of the GAN, one function each, and the registry the train step loops over.

A generator loss is a function of one `StepTensors` (the batch, the generator's outputs and
the networks) that returns a per-example loss [batch], registered with `@generator_loss`. Its
weight is the `TrainConfig` field `<name>_weight`, its TensorBoard name is `<name>`, and a loss
whose weight is 0 is never computed. So adding a loss is one function here plus one weight
field in `TrainConfig`:

    @generator_loss(needs="blend_mask")
    def mask(step: StepTensors) -> tf.Tensor:
        return tf.reduce_mean(step.outputs["mask"], axis=[1, 2, 3, 4])

`needs` names the `ModelConfig` switch whose outputs the loss reads and `expert` the
`TrainConfig` field of the frozen expert it runs; `check_losses` refuses a run that weights a
loss without them. Every loss is per example, so the train step can reduce the weighted sum by
the global batch size (`tf.nn.compute_average_loss`) and N replicas apply one device's update.

The discriminators' losses (`DISCRIMINATOR_LOSSES`) have weight 1 each; the mouth
discriminator's is computed only when its generator loss, `mouth_adv`, is weighted (it exists
only then: `active_discriminator_losses`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import tensorflow as tf

from lipsync_tf.config import IMAGE_CHANNELS, IMAGE_HEIGHT, IMAGE_WIDTH, ModelConfig, TrainConfig
from lipsync_tf.data.reader import frame_points
from lipsync_tf.errors import ConfigError
from lipsync_tf.face_geometry import (
    INNER_LIP_CONTOUR,
    LIP_SHAPE_DIM,
    LIP_SHAPE_SCALE,
    LOWER_FACE_ROWS,
    MOUTH_CELLS_BOX,
    MOUTH_GRID,
    OUTER_LIP_CONTOUR,
    contour_positions,
    lips_to_pixels,
    lower_half_weights,
)
from lipsync_tf.models.mouth_discriminator import mouth_patches
from lipsync_tf.models.sync_expert import SYNC_FRAMES
from lipsync_tf.models.warp import sample_points


@dataclasses.dataclass(frozen=True)
class StepTensors:
    """What a loss reads in one step.

    batch: a batch dict of `data.reader` (still, frames, audio, lips, ...);
    outputs: `Generator.generate`'s dict for that batch (frames, mask, drawn, flow,
      mouth_shape; None where the model has no such output);
    gan: the `TalkingFaceGAN` (its discriminators, frozen experts, auxiliary heads and
      `train_config`);
    training: whether the networks run in training mode.
    """

    batch: Mapping[str, tf.Tensor]
    outputs: Mapping[str, Any]
    gan: Any
    training: bool = True

    @property
    def fake(self) -> tf.Tensor:
        """Generated frames [b, T, 128, 96, 3] in [-1, 1]."""
        return self.outputs["frames"]

    @property
    def real(self) -> tf.Tensor:
        """Real frames [b, T, 128, 96, 3] in [-1, 1]."""
        return self.batch["frames"]

    @property
    def config(self) -> TrainConfig:
        return self.gan.train_config


@dataclasses.dataclass(frozen=True)
class GeneratorLoss:
    """One registered generator loss: `fn(step) -> [batch]` with weight `<name>_weight`."""

    name: str
    fn: Callable[[StepTensors], tf.Tensor]
    needs: str = ""
    expert: str = ""

    @property
    def weight_field(self) -> str:
        return f"{self.name}_weight"

    def weight(self, config: TrainConfig) -> float:
        return getattr(config, self.weight_field)


GENERATOR_LOSSES: dict[str, GeneratorLoss] = {}


def generator_loss(needs: str = "", expert: str = ""):
    """Registers the decorated function as the generator loss named after it."""

    def register(fn: Callable[[StepTensors], tf.Tensor]):
        if fn.__name__ in GENERATOR_LOSSES:
            raise ValueError(f"a generator loss named {fn.__name__!r} is already registered")
        GENERATOR_LOSSES[fn.__name__] = GeneratorLoss(fn.__name__, fn, needs, expert)
        return fn

    return register


def active_losses(config: TrainConfig) -> list[GeneratorLoss]:
    """The generator losses with a nonzero weight, in registry order."""
    return [loss for loss in GENERATOR_LOSSES.values() if loss.weight(config) != 0]


def check_losses(model: ModelConfig, config: TrainConfig) -> None:
    """Refuses weights of losses whose model outputs or experts the run does not have."""
    for loss in active_losses(config):
        if loss.needs and not getattr(model, loss.needs):
            raise ConfigError(
                f"--{loss.weight_field} needs a model config with {loss.needs}: true."
            )
        if loss.expert and not getattr(config, loss.expert):
            raise ConfigError(
                f"--{loss.weight_field} needs --{loss.expert} (a .keras file of bin/train_expert)."
            )


def logged_names(config: TrainConfig) -> list[str]:
    """Every value a training step logs: the totals and each loss it computes."""
    return [
        "d_loss",
        *active_discriminator_losses(config),
        "g_loss",
        *(loss.name for loss in active_losses(config)),
    ]


def weighted_sum(terms: Mapping[str, tf.Tensor], config: TrainConfig) -> tf.Tensor:
    """Per-example generator objective [b]: sum of weight * term over `terms`."""
    return tf.add_n([GENERATOR_LOSSES[name].weight(config) * term for name, term in terms.items()])


# --- helpers --------------------------------------------------------------------------------


def bce(logits: tf.Tensor, label: float) -> tf.Tensor:
    """Per-example sigmoid cross-entropy: logits [batch, 1] -> [batch]."""
    labels = tf.fill(tf.shape(logits), label)
    return tf.reduce_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits), axis=-1
    )


def sampled_frames(batch, frames):
    """S(x): frames [b, T, ...] at batch["frame_index"] [b, k] -> ([b*k, ...], stills, k)."""
    picked = tf.gather(frames, batch["frame_index"], axis=1, batch_dims=1)
    k = tf.shape(batch["frame_index"])[1]
    picked = tf.reshape(picked, [-1, IMAGE_HEIGHT, IMAGE_WIDTH, IMAGE_CHANNELS])
    stills = tf.repeat(batch["still"], k, axis=0)
    return picked, stills, k


def per_clip(values: tf.Tensor, k) -> tf.Tensor:
    """[b * k] values of each clip's k sampled frames -> their mean per clip [b]."""
    return tf.reduce_mean(tf.reshape(values, [-1, k]), axis=1)


def real_mouth_shape(batch) -> tf.Tensor:
    """The real frames' mouth shapes as the mouth head predicts them: [b, T, 80], the lip
    landmarks minus the clip's mean shape, in LIP_SHAPE_SCALE units."""
    delta = batch["lips_delta"]
    shape = tf.shape(delta)
    return tf.reshape(delta, [shape[0], shape[1], LIP_SHAPE_DIM]) / LIP_SHAPE_SCALE


def mouth_dynamics(frames: tf.Tensor) -> tf.Tensor:
    """frames [b, T, 128, 96, 3] in [-1, 1] -> [b, T, 20]: the mouth box's mean brightness on a
    4x5 grid, minus each cell's mean over the window.

    An opening mouth darkens the middle cells and a smile brightens the sides, so these numbers
    follow the mouth's motion within a clip, independent of skin tone and lighting offsets.
    """
    rows, cols = MOUTH_CELLS_BOX
    gray = tf.reduce_mean(frames[:, :, rows, cols, :], axis=-1)
    batch, time = tf.shape(frames)[0], tf.shape(frames)[1]
    grid_rows, grid_cols = MOUTH_GRID
    cell_h = (rows.stop - rows.start) // grid_rows
    cell_w = (cols.stop - cols.start) // grid_cols
    cells = tf.reshape(gray, [batch, time, grid_rows, cell_h, grid_cols, cell_w])
    cells = tf.reshape(tf.reduce_mean(cells, axis=[3, 5]), [batch, time, grid_rows * grid_cols])
    return cells - tf.reduce_mean(cells, axis=1, keepdims=True)


# --- discriminator losses -------------------------------------------------------------------


def d_frame_loss(step: StepTensors) -> tf.Tensor:
    """Frame D: real vs generated frames sampled from each clip, S(x), each conditioned on the
    clip's still; mean over the clip's sampled frames ([b])."""
    batch, disc = step.batch, step.gan.frame_discriminator
    real_frames, stills, k = sampled_frames(batch, step.real)
    fake_frames, _, _ = sampled_frames(batch, step.fake)
    real_logits = disc((real_frames, stills), training=step.training)
    fake_logits = disc((fake_frames, stills), training=step.training)
    return per_clip(bce(real_logits, 1.0) + bce(fake_logits, 0.0), k)


def d_seq_loss(step: StepTensors) -> tf.Tensor:
    """Sequence D: real frames with their audio (real) vs generated frames with that audio and
    real frames with the same clip's audio from elsewhere (both fake), so it learns lip sync and
    not only realism ([b])."""
    batch, disc, training = step.batch, step.gan.sequence_discriminator, step.training
    real = disc((step.real, batch["audio"]), training=training)
    fake = disc((step.fake, batch["audio"]), training=training)
    offsync = disc((step.real, batch["offsync_audio"]), training=training)
    return bce(real, 1.0) + 0.5 * (bce(fake, 0.0) + bce(offsync, 0.0))


def sampled_mouths(step: StepTensors, *videos: tf.Tensor) -> tuple[list[tf.Tensor], tf.Tensor, Any]:
    """The mouths of S(x), the frames the frame discriminator sees, in each of `videos`
    ([b, T, 128, 96, 3] each), and of their stills: ([patches [b*k, 32, 48, 3] per video],
    still patches [b*k, 32, 48, 3], k).

    Each frame's patch is cut where the real lips are placed (`target_lip_points`), in real and
    generated frames alike, so both are judged at the same place; the still's at its own lips.
    """
    batch = step.batch
    sampled = [sampled_frames(batch, video) for video in videos]
    _, stills, k = sampled[0]
    points = tf.gather(target_lip_points(batch), batch["frame_index"], axis=1, batch_dims=1)
    points = tf.reshape(points, [-1, tf.shape(points)[2], 2])
    still_points = frame_points(lips_to_pixels(batch["still_lips"]), batch["framing"])
    still_points = tf.repeat(still_points, k, axis=0)
    patches = [mouth_patches(picked, points) for picked, _, _ in sampled]
    return patches, mouth_patches(stills, still_points), k


def sampled_lips_valid(batch, k) -> tf.Tensor:
    """Whether the face mesh trusted each frame of S(x): float32 [b * k]."""
    valid = tf.gather(batch["lips_valid"], batch["frame_index"], axis=1, batch_dims=1)
    return tf.reshape(valid, [-1])


def d_mouth_loss(step: StepTensors) -> tf.Tensor:
    """Mouth D: the mouths of real vs generated frames of S(x), each next to the still's
    mouth; mean over the clip's sampled frames the face mesh trusted ([b])."""
    disc = step.gan.mouth_discriminator
    (real, fake), still, k = sampled_mouths(step, step.real, step.fake)
    valid = sampled_lips_valid(step.batch, k)
    loss = bce(disc((real, still), training=step.training), 1.0)
    loss += bce(disc((fake, still), training=step.training), 0.0)
    return per_clip(loss * valid, k)


DISCRIMINATOR_LOSSES: dict[str, Callable[[StepTensors], tf.Tensor]] = {
    "d_frame_loss": d_frame_loss,
    "d_seq_loss": d_seq_loss,
    "d_mouth_loss": d_mouth_loss,
}
# Discriminator losses that exist only while a generator loss weight is nonzero.
_DISCRIMINATOR_SWITCHES = {"d_mouth_loss": "mouth_adv_weight"}


def active_discriminator_losses(config: TrainConfig) -> dict[str, Callable]:
    """The discriminator losses this run computes, by name."""
    return {
        name: loss
        for name, loss in DISCRIMINATOR_LOSSES.items()
        if name not in _DISCRIMINATOR_SWITCHES or getattr(config, _DISCRIMINATOR_SWITCHES[name])
    }


# --- generator losses -----------------------------------------------------------------------


@generator_loss()
def frame_adv(step: StepTensors) -> tf.Tensor:
    """Non-saturating adversarial loss against the frame discriminator ([b])."""
    fake_frames, stills, k = sampled_frames(step.batch, step.fake)
    logits = step.gan.frame_discriminator((fake_frames, stills), training=step.training)
    return per_clip(bce(logits, 1.0), k)


@generator_loss()
def seq_adv(step: StepTensors) -> tf.Tensor:
    """Non-saturating adversarial loss against the sequence discriminator ([b])."""
    disc = step.gan.sequence_discriminator
    return bce(disc((step.fake, step.batch["audio"]), training=step.training), 1.0)


@generator_loss()
def mouth_adv(step: StepTensors) -> tf.Tensor:
    """Non-saturating adversarial loss against the mouth discriminator, on the trusted frames
    of S(x) ([b]): a dark average of every possible mouth is told apart from real mouths."""
    (fake,), still, k = sampled_mouths(step, step.fake)
    logits = step.gan.mouth_discriminator((fake, still), training=step.training)
    return per_clip(bce(logits, 1.0) * sampled_lips_valid(step.batch, k), k)


@generator_loss()
def l1(step: StepTensors) -> tf.Tensor:
    """L1 to the real frames, weighted 1 + `mouth_weight` on the lower half of the crop ([b]).

    A blending generator's drawn image (before the blend) is also held to the real frame wherever
    it may be used (`lower_face_prior`): with a small mask the blended frame passes little of it
    on, and the decoder would hardly learn to draw.
    """
    weights = 1.0 + step.config.mouth_weight * tf.constant(lower_half_weights())
    loss = tf.reduce_mean(tf.abs(step.fake - step.real) * weights, axis=[1, 2, 3, 4])
    drawn = step.outputs.get("drawn")
    if drawn is not None:
        drawn_error = tf.abs(drawn - step.real) * step.gan.generator.mask_prior * weights
        loss += tf.reduce_mean(drawn_error, axis=[1, 2, 3, 4])
    return loss


@generator_loss()
def motion(step: StepTensors) -> tf.Tensor:
    """L1 between the generated and the real frame-to-frame change of the lower face ([b]): a
    still copied to every frame is charged the whole mouth movement."""
    fake, real = step.fake[:, :, LOWER_FACE_ROWS], step.real[:, :, LOWER_FACE_ROWS]
    error = tf.abs((fake[:, 1:] - fake[:, :-1]) - (real[:, 1:] - real[:, :-1]))
    return tf.reduce_mean(error, axis=[1, 2, 3, 4])


@generator_loss()
def audio_mouth(step: StepTensors) -> tf.Tensor:
    """L1 between a linear head on the audio codes and the real `mouth_dynamics` ([b]): a direct
    signal for the audio encoder (the GAN owns the head when this weight is nonzero)."""
    codes = step.gan.generator.audio_encoder(step.batch["audio"], training=step.training)
    predicted = step.gan.audio_mouth_head(codes)
    predicted -= tf.reduce_mean(predicted, axis=1, keepdims=True)
    return tf.reduce_mean(tf.abs(predicted - mouth_dynamics(step.real)), axis=[1, 2])


@generator_loss(needs="mouth_head")
def mouth_head(step: StepTensors) -> tf.Tensor:
    """Squared error of the mouth head's lip shapes (LIP_SHAPE_SCALE units), averaged over the
    frames the face mesh trusted ([b])."""
    error = tf.square(step.outputs["mouth_shape"] - real_mouth_shape(step.batch))
    return tf.reduce_mean(tf.reduce_mean(error, axis=-1) * step.batch["lips_valid"], axis=1)


@generator_loss(expert="lip_reader")
def lip_reader(step: StepTensors) -> tf.Tensor:
    """L1 between the lips a frozen `LipReader` sees in the generated frames and the real
    frames' lips (LIP_SHAPE_SCALE units, trusted frames) ([b]): copying the still's mouth costs
    what the mouth should have moved, however blurry the pixels."""
    fake = step.fake
    batch_size, time = tf.shape(fake)[0], tf.shape(fake)[1]
    flat = tf.reshape(fake, [-1, IMAGE_HEIGHT, IMAGE_WIDTH, IMAGE_CHANNELS])
    seen = tf.reshape(step.gan.lip_reader(flat, training=False), [batch_size, time, -1])
    real = tf.reshape(step.batch["lips"], [batch_size, time, -1])
    error = tf.reduce_mean(tf.abs(seen - real), axis=-1) / LIP_SHAPE_SCALE
    return tf.reduce_mean(error * step.batch["lips_valid"], axis=1)


@generator_loss(expert="sync_expert")
def sync(step: StepTensors) -> tf.Tensor:
    """A frozen `SyncExpert`'s "out of sync" cross-entropy, -log sigmoid(logit), on every
    non-overlapping SYNC_FRAMES stretch of the generated window, averaged ([b])."""
    fake, audio = step.fake, step.batch["audio"]
    starts = range(0, fake.shape[1] - SYNC_FRAMES + 1, SYNC_FRAMES)
    losses = [
        tf.nn.softplus(
            -step.gan.sync_expert(
                (fake[:, s : s + SYNC_FRAMES], audio[:, s : s + SYNC_FRAMES]), training=False
            )
        )
        for s in starts
    ]
    return tf.add_n(losses) / len(losses)


@generator_loss(needs="blend_mask")
def mask(step: StepTensors) -> tf.Tensor:
    """Mean of the blend mask ([b]): drawing where the (warped) still would do costs."""
    return tf.reduce_mean(step.outputs["mask"], axis=[1, 2, 3, 4])


@generator_loss(needs="warp_still")
def flow_lips(step: StepTensors) -> tf.Tensor:
    """L1 in pixels between the still's warp at each real lip point and the displacement that
    brings the still's own lip point there ([b]).

    Both lip sets are placed in the still's crop by the fixed face frame of
    `face_geometry.lips_to_pixels`, then moved as the example's `framing` moved its pixels: the
    generated frame keeps the still's pose, so the real frame's lip shape is drawn where the
    still's face is. The warp reads the still at (point + flow), so at the real lip point q the
    flow should be p_still - q. Unlike the pixel losses, this reaches the warp even where the
    skin is flat and where the still's and the real frame's head poses differ.
    """
    batch, flow = step.batch, step.outputs["flow"]
    batch_size, time = tf.shape(flow)[0], tf.shape(flow)[1]
    # Where --jitter moved the crop's lips to ([b, T, 40, 2] and [b, 1, 40, 2]).
    target_points = frame_points(lips_to_pixels(batch["lips"]), batch["framing"])
    still_points = frame_points(lips_to_pixels(batch["still_lips"]), batch["framing"])[:, None]
    wanted = still_points - target_points
    flat = tf.reshape(flow, [batch_size * time, IMAGE_HEIGHT, IMAGE_WIDTH, 2])
    points = tf.reshape(target_points, [batch_size * time, -1, 2])
    moved = tf.reshape(sample_points(flat, points), tf.shape(wanted))
    error = tf.reduce_mean(tf.abs(moved - wanted), axis=[2, 3])
    return tf.reduce_mean(error * batch["lips_valid"], axis=1)


# --- the mouth's inside and the lips' colour -------------------------------------------------


def polygon_masks(points: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """1 inside the closed polygon of `points` [..., n, 2] (x, y crop pixels), else 0, at each
    pixel centre of a height x width image: [..., height, width] (even-odd rule)."""
    x0, y0 = points[..., 0], points[..., 1]
    x1, y1 = tf.roll(x0, -1, axis=-1), tf.roll(y0, -1, axis=-1)
    rows = tf.range(height, dtype=tf.float32)[:, None, None]
    cols = tf.range(width, dtype=tf.float32)[None, :, None]
    # [..., 1, 1, n] edges against [h, w, 1] pixels.
    x0, y0, x1, y1 = (v[..., None, None, :] for v in (x0, y0, x1, y1))
    straddles = (y0 > rows) != (y1 > rows)
    safe_dy = tf.where(tf.abs(y1 - y0) < 1e-6, tf.ones_like(y0), y1 - y0)
    crossing_x = x0 + (rows - y0) * (x1 - x0) / safe_dy
    crossings = tf.reduce_sum(tf.cast(straddles & (cols < crossing_x), tf.int32), axis=-1)
    return tf.cast(crossings % 2 == 1, tf.float32)


def target_lip_points(batch) -> tf.Tensor:
    """Where the generated frames should have the real lips: [b, T, 40, 2] crop pixels (the
    real shape placed by the fixed face frame, moved as the example's framing moved it)."""
    return frame_points(lips_to_pixels(batch["lips"]), batch["framing"])


def _contour_masks(batch, contour) -> tf.Tensor:
    """[b, T, 128, 96]: the inside of one lip contour of the real frames (target placement)."""
    points = tf.gather(target_lip_points(batch), contour_positions(contour), axis=2)
    shape = tf.shape(points)
    flat = tf.reshape(points, [-1, len(contour), 2])
    masks = polygon_masks(flat, IMAGE_HEIGHT, IMAGE_WIDTH)
    return tf.reshape(masks, [shape[0], shape[1], IMAGE_HEIGHT, IMAGE_WIDTH])


def mouth_inside(batch, edge_pixels: int) -> tf.Tensor:
    """[b, T, 128, 96] in [0, 1]: the real frames' mouth inside (the inner-lip polygon, placed
    as `target_lip_points`), its edge softened by a box average over 2 * `edge_pixels` + 1
    crop pixels (`--mouth_mask_edge`): where drawn pixels belong (teeth, tongue, the dark gap),
    0 with closed lips."""
    inside = _contour_masks(batch, INNER_LIP_CONTOUR)
    shape = tf.shape(inside)
    size = 2 * edge_pixels + 1
    soft = tf.nn.avg_pool2d(tf.reshape(inside, [-1, IMAGE_HEIGHT, IMAGE_WIDTH, 1]), size, 1, "SAME")
    return tf.reshape(soft, shape)


def lip_flesh_masks(batch) -> tf.Tensor:
    """[b, T, 128, 96]: 1 on the real lips' flesh (outer minus inner contour, placed as
    `target_lip_points`), else 0."""
    outer = _contour_masks(batch, OUTER_LIP_CONTOUR)
    return tf.maximum(outer - _contour_masks(batch, INNER_LIP_CONTOUR), 0.0)


@generator_loss(needs="blend_mask")
def mouth_mask(step: StepTensors) -> tf.Tensor:
    """L1 between the blend mask and the real mouth's inside (`mouth_inside`), per pixel of the
    mask's prior ([b], trusted frames): drawn pixels where the lips part (teeth, tongue, the
    dark gap) and nowhere else, so lips, jaw and chin come from the warped photo."""
    prior = step.gan.generator.mask_prior[..., 0]
    inside = mouth_inside(step.batch, step.config.mouth_mask_edge)
    error = tf.abs(step.outputs["mask"][..., 0] - inside * prior)
    per_frame = tf.reduce_sum(error, axis=[2, 3]) / tf.reduce_sum(prior)
    return tf.reduce_mean(per_frame * step.batch["lips_valid"], axis=1)


def rgb_to_lab(rgb: tf.Tensor) -> tf.Tensor:
    """sRGB in [-1, 1] [..., 3] -> CIELAB (D65) [..., 3]: L* in [0, 100], a*, b* about +-100."""
    srgb = tf.clip_by_value((rgb + 1.0) / 2.0, 0.0, 1.0)
    linear = tf.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    to_xyz = tf.constant(
        [[0.4124, 0.2126, 0.0193], [0.3576, 0.7152, 0.1192], [0.1805, 0.0722, 0.9505]]
    )
    xyz = tf.tensordot(linear, to_xyz, 1) / tf.constant([0.95047, 1.0, 1.08883])
    delta = 6.0 / 29.0
    f = tf.where(
        xyz > delta**3, tf.pow(tf.maximum(xyz, 1e-12), 1.0 / 3.0), xyz / (3 * delta**2) + 4.0 / 29.0
    )
    fx, fy, fz = tf.unstack(f, axis=-1)
    return tf.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


@generator_loss()
def lip_color(step: StepTensors) -> tf.Tensor:
    """Distance (CIELAB a*b* units) between the mean colour of the generated and the real
    frames' lip flesh ([b], trusted frames): the lips keep their colour (no lilac tint)."""
    flesh = lip_flesh_masks(step.batch)[..., None]
    area = tf.maximum(tf.reduce_sum(flesh, axis=[2, 3]), 1.0)

    def mean_ab(frames):
        return tf.reduce_sum(rgb_to_lab(frames)[..., 1:] * flesh, axis=[2, 3]) / area

    distance = tf.norm(mean_ab(step.fake) - mean_ab(step.real) + 1e-6, axis=-1)
    return tf.reduce_mean(distance * step.batch["lips_valid"], axis=1)


# Quantiles of the mouth's inside that `mouth_tones` compares, and the fewest inside pixels
# (at 128x96) a frame's real mouth needs to count as open.
MOUTH_TONE_QUANTILES = 16
MIN_OPEN_MOUTH_PIXELS = 6


def inside_quantiles(frames: tf.Tensor, inside: tf.Tensor) -> tf.Tensor:
    """Per frame and channel, MOUTH_TONE_QUANTILES evenly spaced quantiles of the pixels where
    `inside` ([n, pixels] bool) holds, from `frames` [n, pixels, 3]: [n, quantiles, 3]."""
    count = tf.reduce_sum(tf.cast(inside, tf.int32), axis=1)
    ordered = tf.sort(tf.where(inside[..., None], frames, 1e3), axis=1)  # inside pixels first
    fractions = (tf.range(MOUTH_TONE_QUANTILES, dtype=tf.float32) + 0.5) / MOUTH_TONE_QUANTILES
    index = tf.cast(fractions[None] * tf.cast(count, tf.float32)[:, None], tf.int32)
    index = tf.minimum(index, tf.maximum(count - 1, 0)[:, None])
    return tf.gather(ordered, index, axis=1, batch_dims=1)


def open_mouths(batch) -> tuple[tf.Tensor, tf.Tensor]:
    """The real frames' mouth insides, flattened over batch and time: (inside [n, pixels] bool,
    the real inner-lip polygon; counted [n] bool, frames the face mesh trusted whose inside
    has at least MIN_OPEN_MOUTH_PIXELS), n = b * T."""
    inside = _contour_masks(batch, INNER_LIP_CONTOUR) > 0.5
    shape = tf.shape(inside)
    inside = tf.reshape(inside, [shape[0] * shape[1], -1])
    is_open = tf.reduce_sum(tf.cast(inside, tf.int32), axis=1) >= MIN_OPEN_MOUTH_PIXELS
    return inside, is_open & (tf.reshape(batch["lips_valid"], [-1]) > 0)


@generator_loss()
def mouth_tones(step: StepTensors) -> tf.Tensor:
    """How far the generated open mouths' tones are spread from the real ones' over the batch
    ([b], one value for all): per channel, the quantiles of the colours inside each frame's real
    inner-lip polygon, on trusted frames whose mouth is open; then each quantile sorted over
    those frames, generated against real, L1 (a 1-D Wasserstein distance per quantile).

    Any loss that pairs a generated frame with its real one (the L1, or these quantiles frame by
    frame) is minimised by each frame's median over the mouths the speech could make: teeth
    show in a minority of frames, so no frame shows them, and the inside is a dark blur. Sorted
    over frames, the batch must hold as many bright-toothed mouths as the real one; the
    per-frame terms decide which frames those are.
    """
    inside, counted = open_mouths(step.batch)
    frames = tf.shape(inside)[0]

    def spread(video):
        tones = inside_quantiles(tf.reshape(video, [frames, -1, IMAGE_CHANNELS]), inside)
        # Frames that do not count sort first in both spreads and meet each other there.
        return tf.sort(tf.where(counted[:, None, None], tones, -1e3), axis=0)

    error = tf.abs(spread(step.fake) - spread(step.real))
    distance = tf.reduce_sum(error) / tf.cast(
        frames * MOUTH_TONE_QUANTILES * IMAGE_CHANNELS, tf.float32
    )
    return tf.fill(tf.shape(step.fake)[:1], distance)
