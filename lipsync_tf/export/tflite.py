"""The chunked generator as TFLite models: float, dynamic-range and full-integer int8.

The .tflite file has signatures that mirror the SavedModel's chunked path, with fixed shapes
(TFLite prefers them), the noise as an input (TFLite has no stateless RNG builtin) and the
identity as separate parts (`GeneratorSignatures.identity_part_names`: code, one term per decoder
stage, the still for a blending model), so that int8 gives each part its own range:

  encode_face(face uint8 [128, 96, 3]) -> identity_code, identity_term1..4[, identity_still]
  generate_chunk(identity_code, identity_term1..4[, identity_still],
                 audio float32 [left + 25 * 640 + right], state float32 [state_size],
                 noise float32 [25, noise_dim]) -> frames uint8 [25, 128, 96, 3], state
                 (and a warping model's layers: flow, mask, drawn, mouth_shape)
  generate_layers(the same inputs) -> generate_chunk's outputs but frames (a warping model only)

`generate_layers` is for clients that composite the layers at the photo's resolution: without
the 128x96 frames its graph has no warp of the still and no blend, and takes about a quarter
less time per chunk than generate_chunk on the shipped model. It shares generate_chunk's
weights: the float file grows by 3 %, the quantised ones by 10 to 14 %.

The caller pads the last chunk of a recording to 25 frames and drops the extra frames; the GRUs are
causal, so the frames before the padding are unaffected. The chunk length is fixed, so the GRUs
are unrolled over its 25 steps: the int8 calibrator cannot run a model with a loop in it.

Three variants, one file each:
- float32 (`TFLITE_NAME`);
- dynamic range (`TFLITE_QUANTIZED_NAME`): int8 weights, activations quantised on the fly;
- full-integer int8 (`TFLITE_INT8_NAME`): weights and activations int8, their ranges calibrated
  on a representative dataset of real clips (`calibration.py`), except the speech path
  (`speech_path_layers`: MFCC, audio encoder, and the mouth and flow heads fed by its code),
  which stays float, as do the few ops without an int8 kernel (the uint8 conversion). Quantising
  the speech path too loses the lip sync: on the shipped model the int8 mouth opening followed
  the float model's with r = 0.09; with the speech path float, 0.83, about 8 % slower
  (`bench/int8_float_parts.py`). Only written when calibration data is given.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import keras
import tensorflow as tf

from lipsync_tf.config import IMAGE_CHANNELS, IMAGE_HEIGHT, IMAGE_WIDTH
from lipsync_tf.export.contract import (
    CHUNK_FRAMES,
    LAYERS_SIGNATURE,
    TFLITE_INT8_NAME,
    TFLITE_NAME,
    TFLITE_QUANTIZED_NAME,
)
from lipsync_tf.export.signatures import GeneratorSignatures

# One calibration sample: (signature name, {input name: value}).
Sample = tuple[str, dict]


def chunk_audio_samples(signatures: GeneratorSignatures) -> int:
    """Samples of audio (with context) the TFLite chunk takes: left + 25 * 640 + right."""
    left, right = signatures.context_samples
    return left + CHUNK_FRAMES * signatures.samples_per_frame + right


@contextlib.contextmanager
def unrolled_grus(generator) -> Iterator[None]:
    """While tracing: every GRU of the generator unrolled over the fixed chunk length."""
    grus = [
        gru
        for stack in (generator.audio_encoder.grus, generator.noise_generator.grus)
        for gru in stack.grus
    ]
    before = [gru.unroll for gru in grus]
    for gru in grus:
        gru.unroll = True
    try:
        yield
    finally:
        for gru, unroll in zip(grus, before, strict=True):
            gru.unroll = unroll


def speech_path_layers(signatures: GeneratorSignatures) -> tuple[str, ...]:
    """Names of the layers from the waveform to the speech condition the decoder is given."""
    generator = signatures.generator
    heads = [head for head in (generator.mouth_head, generator.flow_head) if head is not None]
    return (signatures.mfcc.name, generator.audio_encoder.name, *(head.name for head in heads))


def tensors_of_layers(flatbuffer: bytes, layers: Iterable[str]) -> list[str]:
    """Names of the tensors in `flatbuffer` (any signature) that the given layers compute.

    A traced layer's ops are named "<layer>/..." or "<layer>_<n>/..."; TFLite keeps the name of the
    first op it fuses into one, so a fused op named after another layer is left out."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    pattern = re.compile(rf"^(?:{'|'.join(map(re.escape, layers))})(?:_\d+)?/")
    names = {tensor.name.decode() for subgraph in model.subgraphs for tensor in subgraph.tensors}
    return sorted(name for name in names if pattern.match(name))


def convert_to_tflite(
    signatures: GeneratorSignatures,
    quantization: str = "float",
    representative: Callable[[], Iterable[Sample]] | None = None,
    float_tensors: Iterable[str] = (),
) -> bytes:
    """The chunk path as a flatbuffer.

    quantization: "float", "dynamic_range" (int8 weights) or "int8" (weights and activations,
    calibrated on `representative()`'s samples, except the ops computing `float_tensors`, which
    stay float: names as the float model has them, see `tensors_of_layers`).
    """
    if quantization not in ("float", "dynamic_range", "int8"):
        raise ValueError(f"unknown quantization {quantization!r}")
    if quantization == "int8" and representative is None:
        raise ValueError("int8 quantization needs representative samples")
    encode_face = tf.function(
        signatures.encode_face_parts,
        input_signature=[
            tf.TensorSpec([IMAGE_HEIGHT, IMAGE_WIDTH, IMAGE_CHANNELS], tf.uint8, name="face")
        ],
    )
    parts = len(signatures.identity_part_names)

    def chunk(*inputs):
        return signatures.generate_chunk_with_noise(list(inputs[:parts]), *inputs[parts:])

    def layers(*inputs):
        return signatures.generate_chunk_with_noise(
            list(inputs[:parts]), *inputs[parts:], with_frames=False
        )

    chunk_inputs = [
        *(
            tf.TensorSpec(shape, tf.float32, name=name)
            for name, shape in zip(
                signatures.identity_part_names, signatures.identity_parts, strict=True
            )
        ),
        tf.TensorSpec([chunk_audio_samples(signatures)], tf.float32, name="audio"),
        tf.TensorSpec([signatures.state_size], tf.float32, name="state"),
        tf.TensorSpec([CHUNK_FRAMES, signatures.config.noise_dim], tf.float32, name="noise"),
    ]
    endpoints = {
        "encode_face": encode_face,
        "generate_chunk": tf.function(chunk, input_signature=chunk_inputs),
    }
    if signatures.exports_layers:
        endpoints[LAYERS_SIGNATURE] = tf.function(layers, input_signature=chunk_inputs)
    generator = signatures.generator
    # Trace now; saving must not retrace them.
    # The decoder's transposed convs trace in their forward-conv form (`transposed_as_convs`),
    # as in the SavedModel: XNNPACK ran the shipped float file's chunk 9 % faster so than with
    # TRANSPOSE_CONV ops (the int8 file's at the same speed), the same layers up to rounding.
    with unrolled_grus(generator):
        for function in endpoints.values():
            function.get_concrete_function()
    archive = keras.export.ExportArchive()
    archive.track(signatures.generator)
    for name, function in endpoints.items():
        archive.add_endpoint(name, function)
    if quantization == "int8" and LAYERS_SIGNATURE in endpoints:
        representative = _with_layers_samples(representative)
    with tempfile.TemporaryDirectory(prefix="lipsync_tflite_") as staging:
        archive.write_out(staging, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            staging, signature_keys=list(endpoints)
        )
        if quantization != "float":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "int8":
            converter.representative_dataset = representative
            # int8 wherever an int8 kernel exists, float for the rest (FFT, uint8 conversion).
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                tf.lite.OpsSet.TFLITE_BUILTINS,
            ]
            float_tensors = list(float_tensors)
            if float_tensors:  # the converter's own way to keep chosen ops out of quantisation
                debugger = tf.lite.experimental.QuantizationDebugger(
                    converter=converter,
                    debug_dataset=representative,
                    debug_options=tf.lite.experimental.QuantizationDebugOptions(
                        denylisted_nodes=float_tensors
                    ),
                )
                return debugger.get_nondebug_quantized_model()
        return converter.convert()


def _with_layers_samples(
    representative: Callable[[], Iterable[Sample]],
) -> Callable[[], Iterator[Sample]]:
    """The calibration samples with each generate_chunk sample given to generate_layers too:
    the same inputs give both signatures the same ranges, hence the same int8 layers."""

    def samples() -> Iterator[Sample]:
        for name, inputs in representative():
            yield name, inputs
            if name == "generate_chunk":
                yield LAYERS_SIGNATURE, inputs

    return samples


def write_tflite_models(
    signatures: GeneratorSignatures,
    directory: Path,
    representative: Callable[[], Iterable[Sample]] | None = None,
) -> dict[str, int]:
    """Writes the float and dynamic-range .tflite files, and the int8 one when `representative`
    samples are given, into `directory`; returns {name: bytes}."""
    variants = [(TFLITE_NAME, "float"), (TFLITE_QUANTIZED_NAME, "dynamic_range")]
    if representative is not None:
        variants.append((TFLITE_INT8_NAME, "int8"))
    else:  # an int8 file of an earlier export would not match this one's signatures
        (directory / TFLITE_INT8_NAME).unlink(missing_ok=True)
    sizes = {}
    speech_path: list[str] = []  # filled from the float model, converted first
    for name, quantization in variants:
        float_tensors = speech_path if quantization == "int8" else ()
        flatbuffer = convert_to_tflite(signatures, quantization, representative, float_tensors)
        if quantization == "float" and representative is not None:
            speech_path = tensors_of_layers(flatbuffer, speech_path_layers(signatures))
        path = directory / name
        temp = path.with_name(f".{name}.tmp")
        temp.write_bytes(flatbuffer)
        temp.replace(path)
        sizes[name] = len(flatbuffer)
    return sizes
