"""tf.data pipeline from preprocessed shards to training batches.

A batch is a dict (Keras `fit` reads a dict as x):

    still:          float32 [batch, 128, 96, 3] in [-1, 1], identity still from the same clip
    frames:         float32 [batch, T, 128, 96, 3] in [-1, 1], T = DataConfig.window_frames
    audio:          float32 [batch, T, window, n_mfcc], MFCC windows of the same stretch of audio
    offsync_audio:  float32 [batch, T, window, n_mfcc], the same clip's audio at least
                    `offsync_min_frames` away: a real-but-out-of-sync negative for the sequence D
    noise:          float32 [batch, T, noise_dim], N(0, noise_std) input of the noise generator
    frame_index:    int32 [batch, k], frames shown to the frame discriminator, S(x)

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
from lipsync_tf.data import schema
from lipsync_tf.errors import InputError


def shard_files(data_dir: str) -> list[str]:
    files = sorted(tf.io.gfile.glob(schema.shard_pattern(data_dir)))
    if not files:
        raise InputError(
            f"no {schema.SHARD_PREFIX}-*-of-* shards in {data_dir!r}; run bin/prepare_data first."
        )
    return files


def list_speakers(data_dir: str) -> list[str]:
    """Every speaker id present in the shards (reads only the small fields)."""
    spec = {"speaker_id": schema.FEATURE_SPEC["speaker_id"]}
    dataset = tf.data.TFRecordDataset(shard_files(data_dir)).map(
        lambda record: tf.io.parse_single_example(record, spec)["speaker_id"]
    )
    return sorted({speaker.decode() for speaker in dataset.as_numpy_iterator()})


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


def _decode_frames(encoded: tf.Tensor) -> tf.Tensor:
    """string [n] -> float32 [n, H, W, 3] in [-1, 1] (JPEG or PNG)."""
    images = tf.map_fn(
        lambda image: tf.io.decode_image(image, channels=3, expand_animations=False),
        encoded,
        fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8),
    )
    return tf.cast(images, tf.float32) / 127.5 - 1.0


@dataclasses.dataclass(frozen=True)
class SamplingSpec:
    """What the model needs drawn per example besides the data: noise and S(x) frame picks."""

    noise_dim: int = 10
    noise_std: float = 0.77
    frame_samples: int = 2


class ClipWindows:
    """Cuts training/validation examples out of parsed clips."""

    def __init__(
        self, config: DataConfig, audio: AudioFeatureConfig, sampling: SamplingSpec | None = None
    ):
        self.config = config
        self.audio = audio
        self.sampling = sampling or SamplingSpec()
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
        num_frames = tf.cast(tf.shape(clip["frames"])[0], tf.int32)
        # Audio may be a little shorter than the video; only start where both cover the window.
        spf = self.audio.samples_per_video_frame
        audio_frames = tf.shape(clip["audio"])[0] // spf
        usable = tf.minimum(num_frames, tf.maximum(audio_frames, t))
        max_start = usable - t
        seeds = tf.random.experimental.stateless_split(seed, 6)
        if random_start:
            start = tf.random.stateless_uniform([], seeds[0], 0, max_start + 1, tf.int32)
        else:
            start = tf.constant(0, tf.int32)
        # Out-of-sync audio: a start at least offsync_min_frames away (wrapping inside the clip).
        gap = self.config.offsync_min_frames
        span = tf.maximum(max_start + 1 - 2 * gap, 1)
        offset = gap + tf.random.stateless_uniform([], seeds[1], 0, span, tf.int32)
        offsync_start = tf.math.floormod(start + offset, max_start + 1)
        # Identity still: first frame, or a random frame outside the window when there is one.
        if self.config.still == "first":
            still_index = tf.constant(0, tf.int32)
        else:
            outside = num_frames - t
            pick = tf.random.stateless_uniform([], seeds[2], 0, tf.maximum(outside, 1), tf.int32)
            still_index = tf.where(outside > 0, tf.where(pick < start, pick, pick + t), 0)
        encoded = tf.concat(
            [clip["frames"][still_index : still_index + 1], clip["frames"][start : start + t]],
            axis=0,
        )
        images = tf.ensure_shape(
            _decode_frames(encoded), [t + 1, IMAGE_HEIGHT, IMAGE_WIDTH, IMAGE_CHANNELS]
        )
        if self.config.flip and random_start:
            mirror = tf.random.stateless_uniform([], seeds[5]) < 0.5
            images = tf.cond(mirror, lambda: tf.reverse(images, axis=[2]), lambda: images)
        noise = self.sampling.noise_std * tf.random.stateless_normal(
            [t, self.sampling.noise_dim], seeds[3]
        )
        frame_index = tf.random.stateless_uniform(
            [self.sampling.frame_samples], seeds[4], 0, t, tf.int32
        )
        return {
            "still": images[0],
            "frames": images[1:],
            "noise": noise,
            "frame_index": frame_index,
            "waveform": self.audio_slice(clip["audio"], start),
            "offsync_waveform": self.audio_slice(clip["audio"], offsync_start),
        }

    def add_mfcc(self, batch: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Replaces the waveform slices by their MFCC windows (batched: one STFT per batch)."""
        batch = dict(batch)
        batch["audio"] = self.mfcc(batch.pop("waveform"), context_included=True)
        batch["offsync_audio"] = self.mfcc(batch.pop("offsync_waveform"), context_included=True)
        return batch


def _speaker_filter(speakers: list[str], keep: bool):
    """Keeps clips of `speakers` (keep=True) or of everyone else (keep=False)."""
    table = tf.constant(speakers or ["\0no speaker\0"], tf.string)

    def predicate(clip):
        member = tf.reduce_any(tf.equal(clip["speaker_id"], table))
        return member if keep else tf.logical_not(member)

    return predicate


def _parsed_clips(config: DataConfig, speakers: list[str], keep: bool, min_frames: int):
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
) -> tf.data.Dataset:
    """Endless batches of random windows from the training speakers.

    `skip_batches` (deterministic mode) fast-forwards to where a resumed run left off.
    """
    held_out = validation_speakers(config)
    windows = ClipWindows(config, audio, sampling)
    clips = _parsed_clips(config, held_out, keep=False, min_frames=config.window_frames)
    # Clips are small once encoded; keeping them in memory avoids re-reading shards every epoch.
    clips = clips.cache()
    seed = config.seed
    clips = clips.repeat().shuffle(config.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed + 1).batch(2)
    dataset = tf.data.Dataset.zip(clips, seeds).map(
        lambda clip, s: windows.example(clip, s, random_start=True),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    dataset = dataset.batch(config.batch_size, drop_remainder=True).map(windows.add_mfcc)
    if skip_batches and config.deterministic:
        dataset = dataset.skip(skip_batches)
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(_options(config.deterministic))


def validation_dataset(
    config: DataConfig, audio: AudioFeatureConfig, sampling: SamplingSpec | None = None
) -> tf.data.Dataset | None:
    """Fixed windows (the start of each held-out clip) from the validation speakers, or None."""
    held_out = validation_speakers(config)
    if not held_out:
        return None
    fixed = dataclasses.replace(config, still="first")
    windows = ClipWindows(fixed, audio, sampling)
    clips = _parsed_clips(fixed, held_out, keep=True, min_frames=config.window_frames)
    seeds = tf.data.Dataset.random(seed=config.seed + 2).batch(2)
    dataset = tf.data.Dataset.zip(clips, seeds).map(
        lambda clip, s: windows.example(clip, s, random_start=False)
    )
    dataset = dataset.batch(config.batch_size).map(windows.add_mfcc)
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(_options(True))
