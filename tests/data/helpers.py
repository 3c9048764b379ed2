"""Small but real TFRecord shards (written through the schema writer) for reader and GAN tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from lipsync_tf.config import IMAGE_HEIGHT, IMAGE_WIDTH
from lipsync_tf.data import schema


def encode_png(image: np.ndarray) -> bytes:
    return tf.io.encode_png(image).numpy()


def make_clip(
    clip_id: str,
    speaker_id: str,
    num_frames: int,
    rng: np.random.Generator,
    clip_code: int = 0,
    seconds_short: float = 0.0,
) -> schema.ClipRecord:
    """A clip whose frames say where they come from after decoding: channel 0 holds the frame index
    (i * 7 % 256), channel 1 the `clip_code`; PNG keeps them exact. Audio: noise whose loudness
    follows the frame index, so every window's MFCC differs."""
    frames = []
    for index in range(num_frames):
        image = rng.integers(0, 255, (IMAGE_HEIGHT, IMAGE_WIDTH, 3), dtype=np.uint8)
        image[..., 0] = (index * 7) % 256
        image[..., 1] = clip_code
        frames.append(encode_png(image))
    samples = round((num_frames / 25 - seconds_short) * 16000)
    loudness = 0.05 + 0.4 * ((np.arange(samples) // 640) % 10) / 10
    audio = (loudness * rng.uniform(-1, 1, samples)).astype(np.float32)
    opening = (0.01 + 0.05 * (np.arange(num_frames) % 10) / 10).astype(np.float32)
    lip_landmarks = np.tile(rng.normal(0, 0.2, (1, schema.NUM_LIP_POINTS, 2)), (num_frames, 1, 1))
    lip_landmarks[:, :, 1] += opening[:, None] * np.linspace(0, 1, schema.NUM_LIP_POINTS)
    lip_landmarks = lip_landmarks.astype(np.float32)
    return schema.ClipRecord(
        clip_id=clip_id,
        speaker_id=speaker_id,
        source_path=f"/nowhere/{clip_id}.mp4",
        fps=25.0,
        frames=frames,
        image_format="png",
        sample_rate=16000,
        audio=audio,
        crop_boxes=np.tile(np.array([[0, 0, 96, 128]], np.float32), (num_frames, 1)),
        source_size=(128, 96),
        # A mouth that opens and closes with the loudness: lower lip points move with it.
        lip_landmarks=lip_landmarks,
        mouth_opening=opening,
        landmark_scores=np.ones(num_frames, np.float32),
    )


def write_shards(directory: Path, clips: list[schema.ClipRecord], num_shards: int = 2) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for shard in range(num_shards):
        path = directory / schema.shard_name(shard, num_shards)
        with tf.io.TFRecordWriter(str(path)) as writer:
            for clip in clips[shard::num_shards]:
                writer.write(schema.serialize(clip))


def write_training_shards(directory: Path) -> Path:
    """Six clips of 24 to 44 frames by three speakers (s0, s1, s2): enough for short training
    runs with a held-out speaker. Returns `directory`."""
    rng = np.random.default_rng(2)
    clips = [make_clip(f"c{i}", f"s{i % 3}", 24 + 4 * i, rng, clip_code=i) for i in range(6)]
    write_shards(directory, clips)
    return directory
