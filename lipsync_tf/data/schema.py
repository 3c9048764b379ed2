"""The TFRecord schema of a preprocessed clip: the one place both the writer and the reader use.

One `tf.train.Example` per clip:

| key            | type           | meaning                                                        |
|----------------|----------------|----------------------------------------------------------------|
| `clip_id`      | bytes          | unique id (speaker/video/clip)                                 |
| `speaker_id`   | bytes          | speaker, from the folder layout; validation splits by this     |
| `source_path`  | bytes          | the input video file                                           |
| `fps`          | float          | frame rate of `frames` (always 25 after preprocessing)         |
| `num_frames`   | int64          | number of frames                                               |
| `frames`       | bytes list     | one encoded image (JPEG or PNG) per frame, 128x96 (HxW) RGB    |
| `image_format` | bytes          | b"jpeg" or b"png"                                              |
| `sample_rate`  | int64          | 16000                                                          |
| `num_samples`  | int64          | audio length in samples                                        |
| `audio`        | bytes          | float32 little-endian mono waveform in [-1, 1]                 |
| `crop_boxes`   | float list     | [num_frames * 4] crop windows x0, y0, x1, y1 in source pixels  |
| `source_size`  | int64 list     | [height, width] of the source video                            |

Audio is stored as raw float32 so a write/read round trip returns the very same samples.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

SHARD_PREFIX = "train.tfrecord"
MANIFEST_NAME = "manifest.json"


@dataclasses.dataclass
class ClipRecord:
    """A preprocessed clip in memory (writer side)."""

    clip_id: str
    speaker_id: str
    source_path: str
    fps: float
    frames: list[bytes]  # encoded images
    image_format: str
    sample_rate: int
    audio: np.ndarray  # float32 [samples]
    crop_boxes: np.ndarray  # float32 [frames, 4]
    source_size: tuple[int, int]

    @property
    def num_frames(self) -> int:
        return len(self.frames)


def _bytes(values: list[bytes]) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _ints(values) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def _floats(values) -> tf.train.Feature:
    return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))


def serialize(record: ClipRecord) -> bytes:
    """A `ClipRecord` as a serialized `tf.train.Example`."""
    audio = np.asarray(record.audio, dtype="<f4")
    feature = {
        "clip_id": _bytes([record.clip_id.encode()]),
        "speaker_id": _bytes([record.speaker_id.encode()]),
        "source_path": _bytes([record.source_path.encode()]),
        "fps": _floats([record.fps]),
        "num_frames": _ints([record.num_frames]),
        "frames": _bytes(list(record.frames)),
        "image_format": _bytes([record.image_format.encode()]),
        "sample_rate": _ints([record.sample_rate]),
        "num_samples": _ints([audio.shape[0]]),
        "audio": _bytes([audio.tobytes()]),
        "crop_boxes": _floats(np.asarray(record.crop_boxes, np.float32).reshape(-1)),
        "source_size": _ints(record.source_size),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


FEATURE_SPEC = {
    "clip_id": tf.io.FixedLenFeature([], tf.string),
    "speaker_id": tf.io.FixedLenFeature([], tf.string),
    "source_path": tf.io.FixedLenFeature([], tf.string),
    "fps": tf.io.FixedLenFeature([], tf.float32),
    "num_frames": tf.io.FixedLenFeature([], tf.int64),
    "frames": tf.io.VarLenFeature(tf.string),
    "image_format": tf.io.FixedLenFeature([], tf.string),
    "sample_rate": tf.io.FixedLenFeature([], tf.int64),
    "num_samples": tf.io.FixedLenFeature([], tf.int64),
    "audio": tf.io.FixedLenFeature([], tf.string),
    "crop_boxes": tf.io.VarLenFeature(tf.float32),
    "source_size": tf.io.FixedLenFeature([2], tf.int64),
}


def parse(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
    """Parses one serialized clip (graph-friendly).

    Returns dense tensors: `frames` string [num_frames] (still encoded), `audio` float32
    [num_samples], `crop_boxes` float32 [num_frames, 4], and the scalar fields.
    """
    example = tf.io.parse_single_example(serialized, FEATURE_SPEC)
    example["frames"] = tf.sparse.to_dense(example["frames"])
    example["crop_boxes"] = tf.reshape(tf.sparse.to_dense(example["crop_boxes"]), [-1, 4])
    example["audio"] = tf.io.decode_raw(example["audio"], tf.float32, little_endian=True)
    return example


def shard_name(index: int, num_shards: int) -> str:
    return f"{SHARD_PREFIX}-{index:05d}-of-{num_shards:05d}"


def shard_pattern(directory: str) -> str:
    return f"{directory.rstrip('/')}/{SHARD_PREFIX}-*-of-*"
