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
| `lip_landmarks`| float list     | [num_frames * 40 * 2] face-mesh lip points of each crop in the |
|                |                | face frame of `landmarks.normalized_lips` (eye-line axes, unit |
|                |                | = outer-eye-corner distance)                                   |
| `mouth_opening`| float list     | [num_frames] inner-lip gap / face height (`mouth_opening`)     |
| `landmark_scores` | float list  | [num_frames] face-mesh face probability; < 0.5: not trusted    |

Audio is stored as raw float32 so a write/read round trip returns the very same samples. The
landmark fields are the mouth-shape targets: what the audio predicts and the generated mouth must
match. Records written before they existed (data format 2) lack them and must be prepared again.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

SHARD_PREFIX = "train.tfrecord"
# Lip points per frame (MediaPipe's FACE_LANDMARKS_LIPS) and their coordinates.
NUM_LIP_POINTS = 40
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
    lip_landmarks: np.ndarray  # float32 [frames, 40, 2], normalised (landmarks.normalized_lips)
    mouth_opening: np.ndarray  # float32 [frames]
    landmark_scores: np.ndarray  # float32 [frames], face-mesh face probability

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
        "lip_landmarks": _floats(np.asarray(record.lip_landmarks, np.float32).reshape(-1)),
        "mouth_opening": _floats(np.asarray(record.mouth_opening, np.float32).reshape(-1)),
        "landmark_scores": _floats(np.asarray(record.landmark_scores, np.float32).reshape(-1)),
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
    "lip_landmarks": tf.io.VarLenFeature(tf.float32),
    "mouth_opening": tf.io.VarLenFeature(tf.float32),
    "landmark_scores": tf.io.VarLenFeature(tf.float32),
}


def parse(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
    """Parses one serialized clip (graph-friendly).

    Returns dense tensors: `frames` string [num_frames] (still encoded), `audio` float32
    [num_samples], `crop_boxes` float32 [num_frames, 4], `lip_landmarks` float32
    [num_frames, 40, 2], `mouth_opening` and `landmark_scores` float32 [num_frames], and the
    scalar fields. A record without landmarks (an older data format) fails with a message that
    says to run bin/prepare_data again.
    """
    example = tf.io.parse_single_example(serialized, FEATURE_SPEC)
    example["frames"] = tf.sparse.to_dense(example["frames"])
    example["crop_boxes"] = tf.reshape(tf.sparse.to_dense(example["crop_boxes"]), [-1, 4])
    example["audio"] = tf.io.decode_raw(example["audio"], tf.float32, little_endian=True)
    num_frames = tf.shape(example["frames"])[0]
    scores = tf.sparse.to_dense(example["landmark_scores"])
    has_landmarks = tf.debugging.assert_equal(
        tf.shape(scores)[0],
        num_frames,
        message="this TFRecord has no lip landmarks (data format < 3); prepare the data again "
        "with bin/prepare_data --overwrite",
    )
    with tf.control_dependencies([has_landmarks]):
        example["landmark_scores"] = tf.identity(scores)
        example["lip_landmarks"] = tf.reshape(
            tf.sparse.to_dense(example["lip_landmarks"]), [num_frames, NUM_LIP_POINTS, 2]
        )
        example["mouth_opening"] = tf.reshape(
            tf.sparse.to_dense(example["mouth_opening"]), [num_frames]
        )
    return example


def shard_name(index: int, num_shards: int) -> str:
    return f"{SHARD_PREFIX}-{index:05d}-of-{num_shards:05d}"


def shard_pattern(directory: str) -> str:
    return f"{directory.rstrip('/')}/{SHARD_PREFIX}-*-of-*"
