"""Full-integer int8 TFLite: calibrated on real clips, close to the float model, wired through
bin/generate's backends; and the representative samples it is calibrated on."""

import json

import numpy as np
import pytest
import tensorflow as tf

from lipsync_tf.errors import InputError
from lipsync_tf.export.calibration import calibration_samples
from lipsync_tf.export.contract import CHUNK_FRAMES, LAYERS_SIGNATURE, TFLITE_INT8_NAME
from lipsync_tf.export.signatures import GeneratorSignatures
from lipsync_tf.export.tflite import chunk_audio_samples, speech_path_layers, tensors_of_layers
from lipsync_tf.face_geometry import lower_face_prior
from lipsync_tf.inference.generate import (
    GenerateOptions,
    crop_photo,
    generate_video,
    load_speech,
)
from lipsync_tf.inference.media import load_image
from lipsync_tf.inference.runners import SavedModelRunner, TfliteRunner, make_runner
from lipsync_tf.model_dir import restore_generator
from tests.preprocessing.media import moving_gradient, tone, write_video

pytestmark = pytest.mark.large  # an export with calibration: ~1 min

PHOTO = "stills/sadtalker_people_0.png"
SPEECH = "audio/makeittalk_M6_04_16k.wav"


def _frames(runner, face, audio) -> np.ndarray:
    identity = runner.encode_face(face)
    return np.concatenate([frames for _, frames in runner.iter_chunks(identity, audio, seed=3)])


def test_int8_tflite_is_calibrated_on_real_clips_and_stays_close_to_float(int8_export, shared_data):
    _, export_dir = int8_export
    info = json.loads((export_dir / "tflite_info.json").read_text())
    assert len(info["int8_calibration_clips"]) == 2
    assert all(
        clip.startswith(str(shared_data / "clips")) for clip in info["int8_calibration_clips"]
    )
    assert info["sizes_bytes"][TFLITE_INT8_NAME] == (export_dir / TFLITE_INT8_NAME).stat().st_size

    _, face = crop_photo(load_image(shared_data / PHOTO), PHOTO)
    audio = load_speech(shared_data / SPEECH, 640)[: 2 * 16000]
    reference = _frames(SavedModelRunner(export_dir), face, audio).astype(int)
    int8 = _frames(TfliteRunner(export_dir, "tflite_int8"), face, audio).astype(int)
    assert int8.shape == reference.shape == (50, 128, 96, 3)
    error = np.abs(int8 - reference)
    # Where the blend keeps the still, only the int8 steps of the still, the blend and the
    # warp's sampling positions are lost; the untrained tiny decoder's drawing drifts more.
    # Measured on this (seed 0) model: 3.33 levels outside the lower face, 3.08 overall. How
    # much the passed-through still drifts depends on the untrained weights' ranges: 1.4 to 16
    # levels over seeds 0-5 (the bound here once held only for whichever weights the tests run
    # before happened to leave; the shipped model's int8 file: 2.3 overall, 3.1 before its
    # speech path was kept float). A single packed
    # identity vector gave 8.1 and 7.5 on the earlier model.
    assert error[:, lower_face_prior()[..., 0] == 0].mean() <= 4.0
    assert error.mean() <= 6.0


def _op_outputs(flatbuffer: bytes) -> list[tuple[str, str, int]]:
    """(op name, output tensor name, output tensor type) of every op of every signature."""
    from tensorflow.lite.python.schema_py_generated import BuiltinOperator
    from tensorflow.lite.tools import flatbuffer_utils

    op_names = {code: name for name, code in vars(BuiltinOperator).items() if name.isupper()}
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    outputs = []
    for graph in model.subgraphs:
        for op in graph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            name = op_names[max(code.builtinCode, code.deprecatedBuiltinCode)]
            outputs += [
                (name, graph.tensors[i].name.decode(), graph.tensors[i].type) for i in op.outputs
            ]
    return outputs


def test_int8_tflite_keeps_the_speech_path_float_and_the_decoder_int8(int8_export):
    from tensorflow.lite.python.schema_py_generated import TensorType

    model_dir, export_dir = int8_export
    generator, values, _ = restore_generator(model_dir)
    layers = speech_path_layers(GeneratorSignatures(generator, generator_config(values)))
    flatbuffer = (export_dir / TFLITE_INT8_NAME).read_bytes()
    speech = set(tensors_of_layers(flatbuffer, layers))
    outputs = _op_outputs(flatbuffer)
    compute = ("CONV_2D", "FULLY_CONNECTED", "LOGISTIC", "TANH", "ADD", "MUL")
    speech_ops = [(op, kind) for op, name, kind in outputs if name in speech and op in compute]
    # MFCC, five convs, two FC layers and two GRUs unrolled over 25 frames, all in float (an
    # all-int8 file has every one of them int8).
    assert len(speech_ops) > 300
    assert all(kind == TensorType.FLOAT32 for _, kind in speech_ops)
    # Every other convolution (the identity encoder's, the decoder's, its transposed convs in
    # their forward form) is int8.
    others = [kind for op, name, kind in outputs if op == "CONV_2D" and name not in speech]
    assert len(others) > 20 and all(kind == TensorType.INT8 for kind in others)


def test_int8_layers_signature_gives_the_chunks_layers(int8_export, shared_data):
    # Both signatures are calibrated on the same samples, so their int8 ranges, and the layers
    # bin/generate composites, are the same whichever one runs.
    _, export_dir = int8_export
    runner = TfliteRunner(export_dir, "tflite_int8")
    assert LAYERS_SIGNATURE in runner.interpreter.get_signature_list()
    _, face = crop_photo(load_image(shared_data / PHOTO), PHOTO)
    audio = load_speech(shared_data / SPEECH, 640)[:16000]
    identity = runner.encode_face(face)
    (_, full), (_, lean) = (
        next(runner.iter_outputs(identity, audio, 3, with_frames=made)) for made in (True, False)
    )
    assert "frames" in full and "frames" not in lean
    for name in ("flow", "mask", "drawn", "mouth_shape"):
        np.testing.assert_array_equal(lean[name], full[name], err_msg=name)


def test_bin_generate_runs_the_int8_backend(int8_export, shared_data, tmp_path):
    _, export_dir = int8_export
    report = generate_video(
        shared_data / PHOTO,
        shared_data / SPEECH,
        tmp_path / "int8.mp4",
        GenerateOptions(model=export_dir, backend="tflite_int8", progress=False),
    )
    assert report.output.is_file() and report.frames == 122  # ceil(4.877 s * 25)


def test_export_without_calibration_data_writes_no_int8_file(tiny_export):
    _, export_dir = tiny_export
    assert not (export_dir / TFLITE_INT8_NAME).exists()
    assert "int8_calibration_clips" not in json.loads((export_dir / "tflite_info.json").read_text())
    with pytest.raises(InputError, match="--calibration_data"):
        make_runner(export_dir, "tflite_int8")


def test_calibration_samples_are_real_faces_and_consecutive_chunks_of_speech(
    tiny_lip_sync_export, shared_data
):
    model_dir, _ = tiny_lip_sync_export
    generator, values, _ = restore_generator(model_dir)
    signatures = GeneratorSignatures(generator, generator_config(values))
    samples, clips = calibration_samples(signatures, shared_data / "clips", max_clips=2, seconds=3)
    assert len(clips) == 2
    faces = [inputs for name, inputs in samples if name == "encode_face"]
    chunks = [inputs for name, inputs in samples if name == "generate_chunk"]
    assert len(faces) == 6 and len(chunks) == 6  # 3 faces and 3 one-second chunks per clip
    assert all(
        face["face"].shape == (128, 96, 3) and face["face"].dtype == np.uint8 for face in faces
    )
    first = tf.function(signatures.encode_face_parts)(faces[0]["face"])
    assert sorted(first) == sorted(signatures.identity_part_names)
    for name in signatures.identity_part_names:  # the identity of the clip's first face
        np.testing.assert_allclose(chunks[0][name], first[name], atol=1e-5)
    for chunk in chunks:
        assert chunk["audio"].shape == (chunk_audio_samples(signatures),)
        assert chunk["noise"].shape == (CHUNK_FRAMES, signatures.config.noise_dim)
    # Each clip starts from a zero state and carries it on, as bin/generate does.
    assert (
        not chunks[0]["state"].any() and chunks[1]["state"].any() and not chunks[3]["state"].any()
    )


def test_calibration_without_a_usable_clip_says_what_to_give(tiny_lip_sync_export, tmp_path):
    model_dir, _ = tiny_lip_sync_export
    generator, values, _ = restore_generator(model_dir)
    signatures = GeneratorSignatures(generator, generator_config(values))
    clips = tmp_path / "clips"
    clips.mkdir()
    write_video(clips / "no_face.mp4", moving_gradient(30), audio=tone(1.2))
    with pytest.raises(InputError, match="face and a second of speech"):
        calibration_samples(signatures, clips)


def generator_config(values):
    from lipsync_tf.config import ModelConfig

    return ModelConfig.from_dict(values["model"])
