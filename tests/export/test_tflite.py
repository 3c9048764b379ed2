"""TFLite chunk model under LiteRT vs the SavedModel it was exported beside.

Tolerances: the float model must match the SavedModel to within 1 uint8 level on every pixel
(measured: max 1, mean 2e-5 on the tiny model). Dynamic-range quantisation stores weights as int8,
so only the mean error is bounded: <= 5 levels. Measured on these inputs over five untrained tiny
models (keras seeds 0-3 and 1234): 0.83, 1.85, 2.61, 2.90 and 3.27 levels (3.27 is this
session's model; random weights make it a harsh case); the bound is 1.5x the worst. A model
whose output had lost the picture would be off by about its spread, ~40 levels.

The layers without the frames (`generate_layers`, and the pruned call for SavedModels exported
before it) must equal the layers made beside the frames, to the bit, in both backends.
"""

from pathlib import Path

import numpy as np
import pytest

from lipsync_tf.export.contract import CHUNK_FRAMES, LAYERS_SIGNATURE
from lipsync_tf.inference.runners import SavedModelRunner, TfliteRunner

REPO = Path(__file__).resolve().parents[2]


def _frames(runner, face, audio, seed=5) -> np.ndarray:
    identity = runner.encode_face(face)
    return np.concatenate([frames for _, frames in runner.iter_chunks(identity, audio, seed)])


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    face = rng.integers(0, 256, (128, 96, 3), dtype=np.uint8)
    t = np.arange(int(2.3 * 16000)) / 16000
    audio = 0.3 * np.sin(2 * np.pi * 180 * t) + 0.02 * rng.normal(size=len(t))
    return face, audio.astype(np.float32)


@pytest.fixture
def saved_model_frames(each_export, inputs):
    return _frames(SavedModelRunner(each_export[1]), *inputs).astype(np.int32)


def test_tflite_chunks_match_the_saved_model_within_one_level(
    each_export, inputs, saved_model_frames
):
    runner = TfliteRunner(each_export[1])
    frames = _frames(runner, *inputs)
    # 58 frames = 3 chunks of 25, the last one padded to the model's fixed length and trimmed.
    assert frames.shape == (58, 128, 96, 3) and frames.shape[0] > 2 * CHUNK_FRAMES
    assert np.abs(frames.astype(np.int32) - saved_model_frames).max() <= 1


def test_dynamic_range_tflite_is_smaller_and_close_on_average(
    each_export, inputs, saved_model_frames
):
    _, export_dir = each_export
    float_size = (export_dir / "generator_chunk.tflite").stat().st_size
    quantized_size = (export_dir / "generator_chunk_dynamic_range.tflite").stat().st_size
    assert quantized_size < float_size
    frames = _frames(TfliteRunner(export_dir, "tflite_dynamic_range"), *inputs).astype(np.int32)
    assert frames.shape == saved_model_frames.shape
    assert np.abs(frames - saved_model_frames).mean() <= 5.0


def test_tflite_runner_accepts_a_version_folder(tiny_export):
    runner = TfliteRunner(tiny_export[1] / "1")
    assert runner.path == tiny_export[1] / "generator_chunk.tflite"


def test_lip_sync_options_convert_and_match_the_saved_model(tiny_lip_sync_export, inputs):
    # Mouth head, per-stage condition, blend mask and warp (a gather of the still's pixels) all
    # run in LiteRT with builtin ops, and the chunked paths agree within one level.
    _, export_dir = tiny_lip_sync_export
    reference = _frames(SavedModelRunner(export_dir), *inputs).astype(np.int32)
    frames = _frames(TfliteRunner(export_dir), *inputs).astype(np.int32)
    assert frames.shape == reference.shape == (58, 128, 96, 3)
    assert np.abs(frames - reference).max() <= 1
    # Above the nose the frames are the face itself (the still is blended back unchanged).
    face = inputs[0].astype(np.int32)
    assert np.abs(reference[:, :50] - face[None, :50]).max() <= 1


def test_tflite_gives_the_same_layers_as_the_saved_model(tiny_lip_sync_export, inputs):
    _, export_dir = tiny_lip_sync_export
    face, audio = inputs
    saved, lite = SavedModelRunner(export_dir), TfliteRunner(export_dir)
    assert lite.has_layers
    (_, expected), (_, got) = (
        next(runner.iter_outputs(runner.encode_face(face), audio, 5)) for runner in (saved, lite)
    )
    assert set(got) == set(expected) == {"frames", "flow", "mask", "drawn", "mouth_shape"}
    np.testing.assert_allclose(got["flow"], expected["flow"], atol=1e-3)
    np.testing.assert_allclose(got["mask"], expected["mask"], atol=1e-4)
    assert np.abs(got["drawn"].astype(int) - expected["drawn"]).max() <= 1


def _all_outputs(runner, face, audio, with_frames=True) -> dict[str, np.ndarray]:
    identity = runner.encode_face(face)
    chunks = [out for _, out in runner.iter_outputs(identity, audio, 5, with_frames=with_frames)]
    return {name: np.concatenate([chunk[name] for chunk in chunks]) for name in chunks[0]}


@pytest.mark.parametrize("backend", ["savedmodel", "tflite"])
def test_layers_without_frames_are_the_layers_with_them(tiny_lip_sync_export, inputs, backend):
    # generate_layers (SavedModel and TFLite) gives the same layers as the chunk that also
    # makes the 128x96 frames, over three chunks carrying the state.
    _, export_dir = tiny_lip_sync_export
    runner = SavedModelRunner(export_dir) if backend == "savedmodel" else TfliteRunner(export_dir)
    if backend == "tflite":
        assert LAYERS_SIGNATURE in runner.interpreter.get_signature_list()
    else:
        assert LAYERS_SIGNATURE in runner.loaded.signatures
    full, lean = (_all_outputs(runner, *inputs, made) for made in (True, False))
    assert set(lean) == {"flow", "mask", "drawn", "mouth_shape"}
    assert lean["flow"].shape == (58, 128, 96, 2)
    for name, value in lean.items():
        np.testing.assert_array_equal(value, full[name], err_msg=name)


def test_a_model_without_layers_gives_frames_even_when_asked_for_layers(tiny_export, inputs):
    runner = TfliteRunner(tiny_export[1])
    assert not runner.has_layers
    assert LAYERS_SIGNATURE not in runner.interpreter.get_signature_list()
    outputs = _all_outputs(runner, *inputs, with_frames=False)
    assert outputs["frames"].shape == (58, 128, 96, 3)


def test_a_saved_model_without_generate_layers_still_gives_layers_alone(inputs):
    # The shipped version 3 was exported before generate_layers: the runner drops the frames
    # of its generate_chunk in a tf.function (TensorFlow prunes the ops only they need).
    runner = SavedModelRunner(REPO / "exported_models" / "lipsync" / "3")
    assert runner.has_layers and LAYERS_SIGNATURE not in runner.loaded.signatures
    face, audio = inputs
    identity = runner.encode_face(face)
    (_, full), (_, lean) = (
        next(runner.iter_outputs(identity, audio, 5, with_frames=made)) for made in (True, False)
    )
    assert "frames" in full and set(lean) == {"flow", "mask", "drawn", "mouth_shape"}
    for name, value in lean.items():
        np.testing.assert_array_equal(value, full[name], err_msg=name)
