"""What a client of an export needs besides the files: their names, the chunk length and the
seeded noise.

`bin/generate`, `bin/redub` and the demo run the exported SavedModel or TFLite files and never build
the Keras generator, so they take these from here rather than from the modules that write the
export (`saved_model.py`, `tflite.py`, `signatures.py`), which build on the model code. It imports
TensorFlow only to draw the noise in a graph: the TFLite backend draws the same noise with NumPy
(`noise_for_frames_numpy`) and so never imports it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lipsync_tf.config import ModelConfig
from lipsync_tf.errors import InputError
from lipsync_tf.export import philox

if TYPE_CHECKING:
    import tensorflow as tf

# Frames per chunk of the chunked path (one second at 25 fps); also the TFLite chunk length.
CHUNK_FRAMES = 25
# Noise is drawn per block of this many frames from seed (seed, block index).
NOISE_BLOCK_FRAMES = 25

EXPORT_INFO_NAME = "export_info.json"
TFLITE_INFO_NAME = "tflite_info.json"
MODEL_CARD_NAME = "MODEL_CARD.md"
TFLITE_NAME = "generator_chunk.tflite"
TFLITE_QUANTIZED_NAME = "generator_chunk_dynamic_range.tflite"
TFLITE_INT8_NAME = "generator_chunk_int8.tflite"
# The TFLite files' signature that gives generate_chunk's layers without its 128x96 frames
# (files of a model that exports its layers, exported since 2026-12-07).
LAYERS_SIGNATURE = "generate_layers"
# The bin/generate backend of each file.
TFLITE_FILES = {
    "tflite": TFLITE_NAME,
    "tflite_dynamic_range": TFLITE_QUANTIZED_NAME,
    "tflite_int8": TFLITE_INT8_NAME,
}


def numeric_versions(export_dir: str | Path) -> list[int]:
    """Version numbers of the SavedModels under `export_dir`, ascending."""
    export_dir = Path(export_dir)
    if not export_dir.is_dir():
        return []
    return sorted(
        int(child.name)
        for child in export_dir.iterdir()
        if child.name.isdigit() and (child / "saved_model.pb").is_file()
    )


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(f"cannot read {path} ({error}); export the model again.") from error


def noise_for_frames(
    seed: tf.Tensor, start_frame: tf.Tensor, num_frames: tf.Tensor, config: ModelConfig
) -> tf.Tensor:
    """Generator input noise for frames [start_frame, start_frame + num_frames).

    seed, start_frame, num_frames: int64 scalars. Returns float32 [num_frames, noise_dim]
    ~ N(0, noise_std), a pure function of (seed, frame index).
    """
    import tensorflow as tf

    seed = tf.cast(seed, tf.int64)
    start_frame = tf.cast(start_frame, tf.int64)
    num_frames = tf.cast(num_frames, tf.int64)
    first_block = start_frame // NOISE_BLOCK_FRAMES
    end_block = (start_frame + num_frames + NOISE_BLOCK_FRAMES - 1) // NOISE_BLOCK_FRAMES
    blocks = tf.map_fn(
        lambda block: tf.random.stateless_normal(
            [NOISE_BLOCK_FRAMES, config.noise_dim], seed=tf.stack([seed, block])
        ),
        tf.range(first_block, tf.maximum(end_block, first_block + 1)),
        fn_output_signature=tf.TensorSpec([NOISE_BLOCK_FRAMES, config.noise_dim], tf.float32),
    )
    flat = tf.reshape(blocks, [-1, config.noise_dim])
    offset = start_frame - first_block * NOISE_BLOCK_FRAMES
    return config.noise_std * flat[offset : offset + num_frames]


def noise_for_frames_numpy(
    seed: int, start_frame: int, num_frames: int, config: ModelConfig
) -> np.ndarray:
    """`noise_for_frames` drawn without TensorFlow: float32 [num_frames, noise_dim], the same
    Philox bits (`philox.stateless_normal`), within 1e-6 after the float32 transcendentals."""
    first_block = start_frame // NOISE_BLOCK_FRAMES
    end_block = max(-(-(start_frame + num_frames) // NOISE_BLOCK_FRAMES), first_block + 1)
    size = NOISE_BLOCK_FRAMES * config.noise_dim
    blocks = [philox.stateless_normal(size, (seed, b)) for b in range(first_block, end_block)]
    flat = np.concatenate(blocks).reshape(-1, config.noise_dim)
    offset = start_frame - first_block * NOISE_BLOCK_FRAMES
    return (np.float32(config.noise_std) * flat[offset : offset + num_frames]).astype(np.float32)
