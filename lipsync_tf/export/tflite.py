"""The chunked generator as a TFLite model (float and dynamic-range quantised).

The .tflite file has two signatures that mirror the SavedModel's chunked path, with fixed shapes
(TFLite prefers them) and the noise as an input (TFLite has no stateless RNG builtin):

  encode_face(face uint8 [128, 96, 3]) -> identity float32 [identity_size]
  generate_chunk(identity, audio float32 [left + 25 * 640 + right], state float32 [state_size],
                 noise float32 [25, noise_dim]) -> frames uint8 [25, 128, 96, 3], state

The caller pads the last chunk of a recording to 25 frames and drops the extra frames; the GRUs are
causal, so the frames before the padding are unaffected.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import keras
import tensorflow as tf

from lipsync_tf.config import IMAGE_CHANNELS, IMAGE_HEIGHT, IMAGE_WIDTH
from lipsync_tf.export.signatures import CHUNK_FRAMES, GeneratorSignatures

TFLITE_NAME = "generator_chunk.tflite"
TFLITE_QUANTIZED_NAME = "generator_chunk_dynamic_range.tflite"
TFLITE_SIGNATURES = ("encode_face", "generate_chunk")


def chunk_audio_samples(signatures: GeneratorSignatures) -> int:
    """Samples of audio (with context) the TFLite chunk takes: left + 25 * 640 + right."""
    left, right = signatures.context_samples
    return left + CHUNK_FRAMES * signatures.samples_per_frame + right


def convert_to_tflite(signatures: GeneratorSignatures, quantize: bool) -> bytes:
    """The chunk path as a flatbuffer; `quantize`: dynamic-range (int8 weight) quantisation."""
    archive = keras.export.ExportArchive()
    archive.track(signatures.generator)
    archive.add_endpoint(
        "encode_face",
        signatures.encode_face,
        input_signature=[
            tf.TensorSpec([IMAGE_HEIGHT, IMAGE_WIDTH, IMAGE_CHANNELS], tf.uint8, name="face")
        ],
    )
    archive.add_endpoint(
        "generate_chunk",
        signatures.generate_chunk_with_noise,
        input_signature=[
            tf.TensorSpec([signatures.identity_size], tf.float32, name="identity"),
            tf.TensorSpec([chunk_audio_samples(signatures)], tf.float32, name="audio"),
            tf.TensorSpec([signatures.state_size], tf.float32, name="state"),
            tf.TensorSpec([CHUNK_FRAMES, signatures.config.noise_dim], tf.float32, name="noise"),
        ],
    )
    with tempfile.TemporaryDirectory(prefix="lipsync_tflite_") as staging:
        archive.write_out(staging, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            staging, signature_keys=list(TFLITE_SIGNATURES)
        )
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        return converter.convert()


def write_tflite_models(signatures: GeneratorSignatures, directory: Path) -> dict[str, int]:
    """Writes the float and quantised .tflite files into `directory`; returns {name: bytes}."""
    sizes = {}
    for name, quantize in ((TFLITE_NAME, False), (TFLITE_QUANTIZED_NAME, True)):
        flatbuffer = convert_to_tflite(signatures, quantize)
        path = directory / name
        temp = path.with_name(f".{name}.tmp")
        temp.write_bytes(flatbuffer)
        temp.replace(path)
        sizes[name] = len(flatbuffer)
    return sizes
