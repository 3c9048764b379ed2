"""tf.data pipeline from preprocessed shards to training batches.

A batch is a dict (Keras `fit` reads a dict as x):

    still:          float32 [batch, 128, 96, 3] in [-1, 1], identity still from the same clip
    frames:         float32 [batch, T, 128, 96, 3] in [-1, 1], T = DataConfig.window_frames
    audio:          float32 [batch, T, window, n_mfcc], MFCC windows of the same stretch of audio
    offsync_audio:  float32 [batch, T, window, n_mfcc], the same clip's audio at least
                    `offsync_min_frames` away: a real-but-out-of-sync negative for the sequence D
                    (a clip too short for that lends the next example's audio instead)
    noise:          float32 [batch, T, noise_dim], N(0, noise_std) input of the noise generator
    frame_index:    int32 [batch, k], frames shown to the frame discriminator, S(x)
    lips:           float32 [batch, T, 40, 2], the real frames' normalised lip landmarks
    lips_delta:     float32 [batch, T, 40, 2], `lips` minus the clip's mean lip shape: the part
                    of the mouth's shape that speech moves, free of the speaker's own lip shape
    still_lips:     float32 [batch, 40, 2], the still's normalised lip landmarks
    mouth_opening:  float32 [batch, T], the real frames' mouth opening
    lips_valid:     float32 [batch, T], 1 where the face mesh trusted the frame, else 0
    framing:        float32 [batch, 3], how `--jitter` reframed still and frames (zoom, shift
                    x, y; `frame_points` moves crop pixels by it), (1, 0, 0) when untouched

All randomness comes from stateless ops seeded per example from `DataConfig.seed`, so the same
config yields the same batches, and a training step does not depend on how many replicas share it.

Only the frames of the chosen window are JPEG-decoded, and MFCC is computed in the graph by the same
`MfccWindows` layer the exported model uses, so training and serving see identical features.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable

import tensorflow as tf

from lipsync_tf.audio.mfcc import MfccWindows
from lipsync_tf.config import (
    IMAGE_CHANNELS,
    IMAGE_HEIGHT,
    IMAGE_WIDTH,
    AudioFeatureConfig,
    DataConfig,
)
from lipsync_tf.data import audio_augment, schema
from lipsync_tf.errors import InputError
from lipsync_tf.face_geometry import MIN_FACE_SCORE, lip_mirror_order


def data_dirs(data_dir: str) -> list[str]:
    """The directories named by `DataConfig.data_dir`: one, or several separated by commas."""
    return [part.strip() for part in data_dir.split(",") if part.strip()]


def shard_files(data_dir: str) -> list[str]:
    """Every shard of every directory in `data_dir` (comma-separated for several datasets)."""
    files = []
    for directory in data_dirs(data_dir) or [data_dir]:
        found = sorted(tf.io.gfile.glob(schema.shard_pattern(directory)))
        if not found:
            raise InputError(
                f"no {schema.SHARD_PREFIX}-*-of-* shards in {directory!r}; run bin/prepare_data "
                "first."
            )
        files += found
    return files


def list_speakers(data_dir: str) -> list[str]:
    """Every speaker id present in the shards (reads only the small fields)."""
    return sorted(clips_per_speaker(data_dir))


def clips_per_speaker(data_dir: str) -> dict[str, int]:
    """How many clips each speaker has in the shards (reads only the small fields)."""
    spec = {"speaker_id": schema.FEATURE_SPEC["speaker_id"]}
    dataset = tf.data.TFRecordDataset(shard_files(data_dir)).map(
        lambda record: tf.io.parse_single_example(record, spec)["speaker_id"]
    )
    counts: dict[str, int] = {}
    for speaker in dataset.as_numpy_iterator():
        counts[speaker.decode()] = counts.get(speaker.decode(), 0) + 1
    return counts


def _hash_fraction(speaker: str) -> float:
    return int(hashlib.sha256(speaker.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def validation_speakers(config: DataConfig, speakers: Iterable[str] | None = None) -> list[str]:
    """The held-out speakers: the configured list, or a stable hash-based fraction of them."""
    if config.validation_speakers:
        return sorted(config.validation_speakers)
    if config.validation_fraction <= 0:
        return []
    speakers = list_speakers(config.data_dir) if speakers is None else speakers
    return sorted(s for s in speakers if _hash_fraction(s) < config.validation_fraction)


def decode_frames(encoded: tf.Tensor) -> tf.Tensor:
    """string [n] -> float32 [n, H, W, 3] in [-1, 1] (JPEG or PNG)."""
    images = tf.map_fn(
        lambda image: tf.io.decode_image(image, channels=3, expand_animations=False),
        encoded,
        fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8),
    )
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def jitter_framing(
    amount: float, seed: tf.Tensor, max_scale: float = 0.0, min_scale: float = 0.0
) -> tf.Tensor:
    """A random framing, float32 [3]: (zoom, shift_x, shift_y) for `frame_images`.

    Zoom in [1 - amount, 1 + amount] about the centre, shift up to `amount` of the width and
    height: a face cropped by another tool is framed about this differently, and the model should
    not care. With `max_scale` (DataConfig.jitter_max_scale) the crop window's size factor
    (1 / zoom) is drawn from [1 / (1 + amount), max_scale] instead, and with `min_scale`
    (DataConfig.jitter_min_scale) from [min_scale, max_scale or 1 + amount].
    """
    zoom_seed, shift_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    if max_scale or min_scale:
        low = min_scale or 1.0 / (1.0 + amount)
        high = max_scale or 1.0 + amount
        scale = tf.random.stateless_uniform([], zoom_seed, low, high)
        zoom = 1.0 / scale
    else:
        zoom = tf.random.stateless_uniform([], zoom_seed, 1.0 - amount, 1.0 + amount)
    shift = tf.random.stateless_uniform([2], shift_seed, -amount, amount)
    return tf.concat([zoom[None], shift], axis=0)


# The framing of an untouched crop.
NO_FRAMING = (1.0, 0.0, 0.0)


def frame_images(images: tf.Tensor, framing: tf.Tensor) -> tf.Tensor:
    """Every image of [n, H, W, 3] reframed alike by `framing` (`jitter_framing`): output pixel
    (x, y) reads input ((x - cx) / zoom + cx + shift_x W, (y - cy) / zoom + cy + shift_y H).
    Edges are filled by reflection. Normalised lip landmarks do not change; their pixels move
    as `frame_points` says."""
    zoom, shift = framing[0], framing[1:]
    height, width = float(IMAGE_HEIGHT), float(IMAGE_WIDTH)
    center_x, center_y = (width - 1) / 2, (height - 1) / 2
    inverse = 1.0 / zoom
    transform = tf.stack(
        [
            inverse, 0.0, center_x * (1 - inverse) + shift[0] * width,
            0.0, inverse, center_y * (1 - inverse) + shift[1] * height,
            0.0, 0.0,
        ]
    )  # fmt: skip
    n = tf.shape(images)[0]
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=tf.tile(transform[None], [n, 1]),
        output_shape=tf.constant([IMAGE_HEIGHT, IMAGE_WIDTH]),
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )


def frame_points(points: tf.Tensor, framing: tf.Tensor) -> tf.Tensor:
    """Where crop pixels (x, y) [b, ..., 2] land in the images `frame_images` reframed by
    `framing` [b, 3] (one framing per example)."""
    framing = tf.reshape(framing, [-1] + [1] * (len(points.shape) - 2) + [3])
    zoom, shift = framing[..., :1], framing[..., 1:]
    center = tf.constant([(IMAGE_WIDTH - 1) / 2, (IMAGE_HEIGHT - 1) / 2])
    size = tf.constant([float(IMAGE_WIDTH), float(IMAGE_HEIGHT)])
    return (points - center - shift * size) * zoom + center


def tilt_audio(waveform: tf.Tensor, coefficient: tf.Tensor) -> tf.Tensor:
    """A first-order filter, y[n] = (x[n] - c x[n-1]) / (1 + |c|): c > 0 lifts the highs (as
    pre-emphasis does) and c < 0 the lows, as another microphone or room would; the division keeps
    samples within [-1, 1]. waveform: [samples]."""
    previous = tf.concat([waveform[:1], waveform[:-1]], axis=0)
    return (waveform - coefficient * previous) / (1.0 + tf.abs(coefficient))


def color_jitter_frames(images: tf.Tensor, amount: float, seed: tf.Tensor) -> tf.Tensor:
    """The same random saturation, contrast and brightness change on every image of
    [n, H, W, 3] in [-1, 1]: saturation and contrast factors in [1 - amount, 1 + amount]
    (contrast about the images' mean), a brightness shift in [-amount, amount]; clipped to
    [-1, 1]. Lighting and colour grading differ from clip to clip far more than 21 training
    speakers show; the geometry (and so the lips) is untouched.
    """
    saturation_seed, contrast_seed, brightness_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 3)
    )
    saturation = tf.random.stateless_uniform([], saturation_seed, 1.0 - amount, 1.0 + amount)
    contrast = tf.random.stateless_uniform([], contrast_seed, 1.0 - amount, 1.0 + amount)
    brightness = tf.random.stateless_uniform([], brightness_seed, -amount, amount)
    gray = tf.reduce_mean(images, axis=-1, keepdims=True)
    images = gray + saturation * (images - gray)
    mean = tf.reduce_mean(images)
    images = mean + contrast * (images - mean) + brightness
    return tf.clip_by_value(images, -1.0, 1.0)


def mirror_lips(lips: tf.Tensor) -> tf.Tensor:
    """Normalised lip landmarks [..., 40, 2] of the mirrored face: x -> -x, sides swapped."""
    swapped = tf.gather(lips, lip_mirror_order(), axis=-2)
    return swapped * tf.constant([-1.0, 1.0])


@dataclasses.dataclass(frozen=True)
class SamplingSpec:
    """What the model needs drawn per example besides the data: noise and S(x) frame picks."""

    noise_dim: int = 10
    noise_std: float = 0.77
    frame_samples: int = 2


class ClipWindows:
    """Cuts training/validation examples out of parsed clips."""

    def __init__(
        self,
        config: DataConfig,
        audio: AudioFeatureConfig,
        sampling: SamplingSpec | None = None,
        images: bool = True,
    ):
        self.config = config
        self.audio = audio
        self.sampling = sampling or SamplingSpec()
        # False: audio and mouth-shape targets only, no JPEG decoding (audio-only training).
        self.images = images
        self.mfcc = MfccWindows(audio)
        self.context_left, self.context_right = self.mfcc.context_samples

    def audio_slice(self, waveform: tf.Tensor, start: tf.Tensor) -> tf.Tensor:
        """Samples for frames [start, start + T) plus MFCC context, zeros outside the clip."""
        spf = self.audio.samples_per_video_frame
        t = self.config.window_frames
        begin = tf.cast(start, tf.int32) * spf - self.context_left
        length = t * spf + self.context_left + self.context_right
        num_samples = tf.shape(waveform)[0]
        pad_before = tf.maximum(-begin, 0)
        pad_after = tf.maximum(begin + length - num_samples, 0)
        padded = tf.pad(waveform, [[pad_before, pad_after]])
        return tf.slice(padded, [begin + pad_before], [length])

    def example(self, clip: dict[str, tf.Tensor], seed: tf.Tensor, random_start: bool):
        """One example from one parsed clip; `seed` is a [2] stateless seed."""
        t = self.config.window_frames
        seeds = tf.random.experimental.stateless_split(seed, 8)
        # Augmentations (seeds[5], seeds[6] and streams folded from it) touch training only.
        augment = random_start
        start, max_start = self._window_start(clip, seeds[0], random_start)
        offsync_start, offsync_found = self._offsync_start(start, max_start, seeds[1])
        still_index = self._still_index(clip, start, seeds[2])
        images, framing = self._images(clip, start, still_index, seeds[6], augment)
        lips, still_lips, lips_mean, lips_valid = self._lips(clip, start, still_index)
        if self.config.flip and augment:
            images, lips, still_lips, lips_mean, framing = self._mirror(
                seeds[5], images, lips, still_lips, lips_mean, framing
            )
        waveform, offsync_waveform = self._augment_audio(
            self.audio_slice(clip["audio"], start),
            self.audio_slice(clip["audio"], offsync_start),
            seeds[6],
            augment,
        )
        example = {
            "noise": self.sampling.noise_std
            * tf.random.stateless_normal([t, self.sampling.noise_dim], seeds[3]),
            "frame_index": tf.random.stateless_uniform(
                [self.sampling.frame_samples], seeds[4], 0, t, tf.int32
            ),
            "lips": lips,
            "lips_delta": lips - lips_mean,
            "still_lips": still_lips,
            "mouth_opening": clip["mouth_opening"][start : start + t],
            "lips_valid": lips_valid,
            "framing": framing,
            "waveform": waveform,
            "offsync_waveform": offsync_waveform,
            "offsync_found": offsync_found,
            "clip_id": clip["clip_id"],
            # Per-example uniform draw: the GAN shows the decoder the real mouth shape when it
            # is below --teacher_forcing.
            "teacher_coin": tf.random.stateless_uniform([], seeds[7]),
        }
        if images is not None:
            example.update(still=images[0], frames=images[1:])
        return example

    def _window_start(self, clip, seed, random_start):
        """The window's first frame (random, or 0) and the last start the clip allows."""
        t = self.config.window_frames
        num_frames = tf.cast(tf.shape(clip["frames"])[0], tf.int32)
        # Audio may be a little shorter than the video; only start where both cover the window.
        audio_frames = tf.shape(clip["audio"])[0] // self.audio.samples_per_video_frame
        max_start = tf.minimum(num_frames, tf.maximum(audio_frames, t)) - t
        if random_start:
            start = tf.random.stateless_uniform([], seed, 0, max_start + 1, tf.int32)
        else:
            start = tf.constant(0, tf.int32)
        return start, max_start

    def _offsync_start(self, start, max_start, seed):
        """Out-of-sync audio: a start drawn uniformly from those at least offsync_min_frames away
        ([0, start - gap] and [start + gap, max_start]), and whether there was one. In a clip
        too short to have one, `add_mfcc` takes another clip's audio from the batch instead."""
        gap = self.config.offsync_min_frames
        before = tf.maximum(start - gap + 1, 0)
        after = tf.maximum(max_start - start - gap + 1, 0)
        pick = tf.random.stateless_uniform([], seed, 0, tf.maximum(before + after, 1), tf.int32)
        offsync_start = tf.where(pick < before, pick, start + gap + pick - before)
        return offsync_start, before + after > 0

    def _still_index(self, clip, start, seed):
        """Identity still: first frame, or a random frame outside the window when there is one."""
        if self.config.still == "first":
            return tf.constant(0, tf.int32)
        t = self.config.window_frames
        outside = tf.cast(tf.shape(clip["frames"])[0], tf.int32) - t
        pick = tf.random.stateless_uniform([], seed, 0, tf.maximum(outside, 1), tf.int32)
        return tf.where(outside > 0, tf.where(pick < start, pick, pick + t), 0)

    def _images(self, clip, start, still_index, seed, augment):
        """Still and window frames decoded [t + 1, H, W, 3] (None without images), reframed and
        colour-graded when augmenting, and the framing used."""
        framing = tf.constant(NO_FRAMING)
        if not self.images:
            return None, framing
        t = self.config.window_frames
        encoded = tf.concat(
            [clip["frames"][still_index : still_index + 1], clip["frames"][start : start + t]],
            axis=0,
        )
        images = tf.ensure_shape(
            decode_frames(encoded), [t + 1, IMAGE_HEIGHT, IMAGE_WIDTH, IMAGE_CHANNELS]
        )
        if self.config.jitter and augment:
            framing = jitter_framing(
                self.config.jitter, seed, self.config.jitter_max_scale, self.config.jitter_min_scale
            )
            images = frame_images(images, framing)
        if self.config.color_jitter and augment:
            # Its own stream, folded from the zoom's: every other draw stays as it was.
            color_seed = tf.random.experimental.stateless_fold_in(seed, 1)
            images = color_jitter_frames(images, self.config.color_jitter, color_seed)
        return images, framing

    @staticmethod
    def _mirror(seed, images, lips, still_lips, lips_mean, framing):
        """Half the examples mirrored left-right: images, lip landmarks and framing alike."""
        mirror = tf.random.stateless_uniform([], seed) < 0.5
        if images is not None:
            images = tf.cond(mirror, lambda: tf.reverse(images, axis=[2]), lambda: images)
        lips, still_lips, lips_mean = (
            tf.cond(mirror, lambda v=v: mirror_lips(v), lambda v=v: v)
            for v in (lips, still_lips, lips_mean)
        )
        # Mirroring after the reframing mirrors its horizontal shift.
        framing = tf.where(mirror, framing * tf.constant([1.0, -1.0, 1.0]), framing)
        return images, lips, still_lips, lips_mean, framing

    def _augment_audio(self, waveform, offsync_waveform, seed, augment):
        """Gain, tilt and recording degradations, when configured and augmenting. Each has its
        own stream folded from the zoom's `seed`, so every other draw stays as it was, and draws
        once per example: the in-sync and the out-of-sync audio are the same recording."""
        config = self.config
        if not augment:
            return waveform, offsync_waveform
        if config.audio_gain_db:
            gain_seed = tf.random.experimental.stateless_fold_in(seed, 2)
            limit = config.audio_gain_db
            decibels = tf.random.stateless_uniform([], gain_seed, -limit, limit)
            gain = 10.0 ** (decibels / 20.0)
            waveform, offsync_waveform = (
                tf.clip_by_value(gain * w, -1.0, 1.0) for w in (waveform, offsync_waveform)
            )
        if config.audio_tilt:
            tilt_seed = tf.random.experimental.stateless_fold_in(seed, 3)
            limit = config.audio_tilt
            coefficient = tf.random.stateless_uniform([], tilt_seed, -limit, limit)
            waveform, offsync_waveform = (
                tilt_audio(w, coefficient) for w in (waveform, offsync_waveform)
            )
        degradations = dict(
            reverb=config.audio_reverb,
            noise=config.audio_noise,
            band=config.audio_band_limit,
            codec=config.audio_codec,
        )
        if any(degradations.values()):
            degrade_seed = tf.random.experimental.stateless_fold_in(seed, 4)
            both = audio_augment.degrade(
                tf.stack([waveform, offsync_waveform]), degrade_seed, **degradations
            )
            waveform, offsync_waveform = both[0], both[1]
        return waveform, offsync_waveform

    def _lips(self, clip, start, still_index):
        """The window's lip landmarks, the still's, the clip's mean lip shape (over the frames
        the mesh trusted) and the window's trust flags."""
        t = self.config.window_frames
        trusted = tf.cast(clip["landmark_scores"] >= MIN_FACE_SCORE, tf.float32)
        weights = trusted[:, None, None]
        lips_mean = tf.reduce_sum(clip["lip_landmarks"] * weights, axis=0) / tf.maximum(
            tf.reduce_sum(weights, axis=0), 1.0
        )
        lips = tf.ensure_shape(
            clip["lip_landmarks"][start : start + t], [t, schema.NUM_LIP_POINTS, 2]
        )
        still_lips = clip["lip_landmarks"][still_index]
        return lips, still_lips, lips_mean, trusted[start : start + t]

    def add_mfcc(self, batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Replaces the waveform slices by their MFCC windows (batched: one STFT per batch).

        An example whose clip has no stretch far enough away takes the audio of the next example
        of another clip in the batch as its out-of-sync negative; in a batch of that one clip
        alone it gets silence (the window past the clip's end).
        """
        batch = dict(batch)
        found = batch.pop("offsync_found")
        offsync = batch.pop("offsync_waveform")
        clip_ids = batch.pop("clip_id")
        size = tf.shape(clip_ids)[0]
        # other[i, k] = example i + 1 + k (cyclically) is from another clip; take the first.
        following = tf.math.floormod(tf.range(size)[:, None] + 1 + tf.range(size)[None, :], size)
        other = tf.not_equal(clip_ids[:, None], tf.gather(clip_ids, following))
        donor = tf.gather(following, tf.argmax(tf.cast(other, tf.int32), axis=1), batch_dims=1)
        borrow = tf.logical_and(tf.logical_not(found), tf.reduce_any(other, axis=1))
        offsync = tf.where(borrow[:, None], tf.gather(batch["waveform"], donor), offsync)
        batch["audio"] = self.mfcc(batch.pop("waveform"), context_included=True)
        batch["offsync_audio"] = self.mfcc(offsync, context_included=True)
        return batch


def _speaker_filter(speakers: list[str], keep: bool):
    """Keeps clips of `speakers` (keep=True) or of everyone else (keep=False)."""
    table = tf.constant(speakers or ["\0no speaker\0"], tf.string)

    def predicate(clip):
        member = tf.reduce_any(tf.equal(clip["speaker_id"], table))
        return member if keep else tf.logical_not(member)

    return predicate


def parsed_clips(config: DataConfig, speakers: list[str], keep: bool, min_frames: int):
    files = shard_files(config.data_dir)
    dataset = tf.data.TFRecordDataset(files).map(schema.parse)
    dataset = dataset.filter(_speaker_filter(speakers, keep))
    return dataset.filter(lambda clip: tf.shape(clip["frames"])[0] >= min_frames)


def _options(deterministic: bool) -> tf.data.Options:
    options = tf.data.Options()
    options.deterministic = deterministic
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options


def training_dataset(
    config: DataConfig,
    audio: AudioFeatureConfig,
    sampling: SamplingSpec | None = None,
    skip_batches: int = 0,
    images: bool = True,
) -> tf.data.Dataset:
    """Endless batches of random windows from the training speakers.

    `skip_batches` (deterministic mode) fast-forwards to where a resumed run left off;
    `images=False` leaves out still and frames (no JPEG decoding) for audio-only training.
    """
    held_out = validation_speakers(config)
    windows = ClipWindows(config, audio, sampling, images)
    clips = parsed_clips(config, held_out, keep=False, min_frames=config.window_frames)
    # Clips are small once encoded; keeping them in memory avoids re-reading shards every epoch.
    clips = clips.cache()
    seed = config.seed
    clips = clips.repeat()
    if config.speaker_balance:
        clips = _balance_speakers(clips, config, held_out)
    clips = clips.shuffle(config.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed + 1).batch(2)
    dataset = tf.data.Dataset.zip(clips, seeds).map(
        lambda clip, s: windows.example(clip, s, random_start=True),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    dataset = dataset.batch(config.batch_size, drop_remainder=True).map(windows.add_mfcc)
    if skip_batches and config.deterministic:
        dataset = dataset.skip(skip_batches)
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(_options(config.deterministic))


def _balance_speakers(clips: tf.data.Dataset, config: DataConfig, held_out: list[str]):
    """Keeps each clip of a speaker with c clips with probability (c_min / c) ** balance, so
    speaker k's share of the examples goes as c_k ** (1 - balance): 0 = every clip alike,
    1 = every speaker alike. Without it, 999 GRID clips of one talker would drown 20 others."""
    counts = {s: c for s, c in clips_per_speaker(config.data_dir).items() if s not in held_out}
    fewest = min(counts.values())
    speakers = tf.constant(sorted(counts))
    keep = tf.constant(
        [(fewest / counts[s]) ** config.speaker_balance for s in sorted(counts)], tf.float32
    )
    seeds = tf.data.Dataset.random(seed=config.seed + 3).batch(2)

    def accept(clip, seed):
        index = tf.argmax(tf.cast(tf.equal(speakers, clip["speaker_id"]), tf.int32))
        return tf.random.stateless_uniform([], seed) < tf.gather(keep, index)

    return tf.data.Dataset.zip(clips, seeds).filter(accept).map(lambda clip, _: clip)


def validation_dataset(
    config: DataConfig, audio: AudioFeatureConfig, sampling: SamplingSpec | None = None
) -> tf.data.Dataset | None:
    """Fixed windows (the start of each held-out clip) from the validation speakers, or None."""
    held_out = validation_speakers(config)
    if not held_out:
        return None
    fixed = dataclasses.replace(config, still="first")
    windows = ClipWindows(fixed, audio, sampling)
    clips = parsed_clips(fixed, held_out, keep=True, min_frames=config.window_frames)
    seeds = tf.data.Dataset.random(seed=config.seed + 2).batch(2)
    dataset = tf.data.Dataset.zip(clips, seeds).map(
        lambda clip, s: windows.example(clip, s, random_start=False)
    )
    dataset = dataset.batch(config.batch_size).map(windows.add_mfcc)
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(_options(True))
