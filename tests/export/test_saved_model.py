"""SavedModel export: TF Serving layout, signatures, parity with Keras in a fresh process."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import tensorflow as tf

from lipsync_tf import cpu
from lipsync_tf.audio.mfcc import MfccWindows
from lipsync_tf.config import ModelConfig
from lipsync_tf.errors import ConfigError, InputError
from lipsync_tf.export.contract import LAYERS_SIGNATURE, noise_for_frames
from lipsync_tf.export.saved_model import export_model
from lipsync_tf.inference.runners import make_runner
from lipsync_tf.model_dir import restore_generator
from tests.export.helpers import TRAINING_STEP, make_model_dir

REPO = Path(__file__).resolve().parents[2]
SAVED_MODEL_CLI = Path(sys.executable).parent / "saved_model_cli"

# Runs in a new interpreter: nothing of the exporting process (Python objects, traced functions,
# registered Keras classes) can leak into what the SavedModel computes.
FRESH_PROCESS_SCRIPT = """
import sys
import numpy as np
import tensorflow as tf
served = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
inputs = np.load(sys.argv[2])
outputs = {}
for seed in (3, 3, 4):
    result = served(face=tf.constant(inputs["face"]), audio=tf.constant(inputs["audio"]),
                    seed=tf.constant(seed, tf.int64))
    outputs.setdefault(f"seed{seed}", []).append(result["frames"].numpy())
first, again = outputs["seed3"]
np.savez(sys.argv[3], first=first, again=again, other=outputs["seed4"][0])
"""


def _speech_like(rng, seconds: float) -> np.ndarray:
    samples = int(seconds * 16000)
    t = np.arange(samples) / 16000
    tone = np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return (0.3 * tone + 0.02 * rng.normal(size=samples)).astype(np.float32)


def test_export_writes_a_tf_serving_version_folder_with_card_and_config(tiny_export):
    model_dir, export_dir = tiny_export
    version = export_dir / "1"
    for name in ("saved_model.pb", "variables", "config.json", "MODEL_CARD.md", "export_info.json"):
        assert (version / name).exists(), name
    assert json.loads((version / "config.json").read_text()) == json.loads(
        (model_dir / "config.json").read_text()
    )
    card = (version / "MODEL_CARD.md").read_text()
    assert f"Training steps: {TRAINING_STEP}" in card
    assert "## Training data\nunknown" in card  # the tiny model_dir has no "data" section
    for name in ("generator_chunk.tflite", "generator_chunk_dynamic_range.tflite"):
        assert (export_dir / name).stat().st_size > 10_000
    assert json.loads((export_dir / "tflite_info.json").read_text())["version"] == 1
    assert not list(export_dir.glob(".tmp-*"))


@pytest.mark.large  # a separate export or interpreter: ~10 s
def test_export_takes_the_next_free_version_and_never_overwrites(tmp_path):
    model_dir = make_model_dir(tmp_path / "model_dir")
    export_dir = tmp_path / "exported" / "m"
    (export_dir / "1").mkdir(parents=True)
    (export_dir / "1" / "marker").write_text("kept")
    assert export_model(model_dir, export_dir).version == 2
    with pytest.raises(InputError, match="already exists"):
        export_model(model_dir, export_dir, version=1)
    assert (export_dir / "1" / "marker").read_text() == "kept"
    assert sorted(path.name for path in export_dir.iterdir()) == ["1", "2"]


def test_saved_model_in_a_fresh_process_matches_the_keras_generator(each_export, tmp_path, rng):
    model_dir, export_dir = each_export
    face = rng.integers(0, 256, (128, 96, 3), dtype=np.uint8)
    audio = _speech_like(rng, 1.3)
    np.savez(tmp_path / "inputs.npz", face=face, audio=audio)
    subprocess.run(
        [
            sys.executable,
            "-c",
            FRESH_PROCESS_SCRIPT,
            str(export_dir / "1"),
            str(tmp_path / "inputs.npz"),
            str(tmp_path / "outputs.npz"),
        ],
        check=True,
        cwd=tmp_path,
    )
    served = np.load(tmp_path / "outputs.npz")

    generator, values, _ = restore_generator(model_dir)
    windows = MfccWindows(values["model"]["audio"])(audio[None])
    noise = noise_for_frames(3, 0, windows.shape[1], _model_config(values)).numpy()
    assert noise.shape == (windows.shape[1], generator.noise_generator.noise_dim)
    still = face[None].astype(np.float32) / 127.5 - 1
    frames = generator({"still": still, "audio": windows, "noise": noise[None]}).numpy()[0]
    keras_uint8 = np.round((np.clip(frames, -1, 1) + 1) * 127.5).astype(np.int32)

    assert served["first"].shape == (33, 128, 96, 3)  # ceil(1.3 s * 25)
    assert served["first"].dtype == np.uint8
    assert np.abs(served["first"].astype(np.int32) - keras_uint8).max() <= 1
    np.testing.assert_array_equal(served["first"], served["again"])  # same seed, same video
    assert np.abs(served["first"].astype(int) - served["other"].astype(int)).max() > 0


def test_export_with_a_mouth_gain_serves_the_amplified_mouth(tiny_lip_sync_export, tmp_path, rng):
    model_dir, plain_dir = tiny_lip_sync_export
    result = export_model(model_dir, tmp_path / "louder", mouth_gain=3.0)
    written = json.loads((result.version_dir / "config.json").read_text())
    assert written["model"]["mouth_gain"] == 3.0
    assert "Mouth gain: 3 " in (result.version_dir / "MODEL_CARD.md").read_text()
    face = tf.constant(rng.integers(0, 256, (128, 96, 3), dtype=np.uint8))
    audio = tf.constant(_speech_like(rng, 0.6))
    seed = tf.constant(5, tf.int64)
    served = {}
    for name, path in (("plain", plain_dir / "1"), ("louder", result.version_dir)):
        serve = tf.saved_model.load(str(path)).signatures["serving_default"]
        served[name] = serve(face=face, audio=audio, seed=seed)["frames"].numpy().astype(np.int32)
    generator, values, _ = restore_generator(model_dir)
    generator.mouth_gain = 3.0
    windows = MfccWindows(values["model"]["audio"])(audio.numpy()[None])
    noise = noise_for_frames(5, 0, windows.shape[1], _model_config(values)).numpy()
    still = face.numpy()[None].astype(np.float32) / 127.5 - 1
    frames = generator({"still": still, "audio": windows, "noise": noise[None]}).numpy()[0]
    keras_uint8 = np.round((np.clip(frames, -1, 1) + 1) * 127.5).astype(np.int32)
    assert np.abs(served["louder"] - keras_uint8).max() <= 1
    assert np.abs(served["louder"] - served["plain"]).max() > 1


def test_export_refuses_a_mouth_gain_for_a_model_without_a_mouth_head(tiny_export, tmp_path):
    model_dir, _ = tiny_export
    with pytest.raises(ConfigError, match="mouth_gain needs mouth_head"):
        export_model(model_dir, tmp_path / "louder", mouth_gain=2.0)
    assert not (tmp_path / "louder" / "1").exists()


@pytest.mark.large  # a second export with TFLite files: ~70 s
def test_export_with_bfloat16_convolutions_serves_nearly_the_same_frames(
    tiny_lip_sync_export, tmp_path, rng, monkeypatch
):
    model_dir, float_dir = tiny_lip_sync_export
    monkeypatch.setenv(cpu.NATIVE_BFLOAT16_ENV, "0")  # as on an AVX2 CPU
    notices = []
    result = export_model(
        model_dir, tmp_path / "bf16", conv_dtype="bfloat16", write_tflite=True,
        warn=notices.append,
    )  # fmt: skip
    assert len(notices) == 1 and "several times slower" in notices[0]
    assert "export without --conv_dtype (float32" in notices[0]
    _bfloat16_runners_say_so_once_where_it_is_emulated(result.version_dir, monkeypatch)
    written = json.loads((result.version_dir / "config.json").read_text())
    assert written["export"] == {"conv_dtype": "bfloat16"}
    assert "Convolutions multiply in bfloat16" in (result.version_dir / "MODEL_CARD.md").read_text()
    face = tf.constant(rng.integers(0, 256, (128, 96, 3), dtype=np.uint8))
    audio = tf.constant(_speech_like(rng, 0.6))
    served = {}
    for name, path in (("float32", float_dir / "1"), ("bfloat16", result.version_dir)):
        serve = tf.saved_model.load(str(path)).signatures["serving_default"]
        frames = serve(face=face, audio=audio, seed=tf.constant(2, tf.int64))["frames"]
        served[name] = frames.numpy().astype(np.int32)
    levels = np.abs(served["bfloat16"] - served["float32"])
    assert 0 < levels.max() <= 8 and levels.mean() < 1.0
    # The TFLite files are float32 whatever the SavedModel multiplies in.
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(tmp_path / "bf16" / "generator_chunk.tflite"))
    dtypes = {detail["dtype"] for detail in interpreter.get_tensor_details()}
    assert np.float32 in dtypes and not any("bfloat16" in str(dtype) for dtype in dtypes)


def _bfloat16_runners_say_so_once_where_it_is_emulated(version_dir, monkeypatch):
    """A runner loading a bfloat16 export gives the notice once, only where bfloat16 is
    emulated; there bin/generate's default backend is the float TFLite file."""
    for native, expected in (("0", 1), ("1", 0)):
        monkeypatch.setenv(cpu.NATIVE_BFLOAT16_ENV, native)
        notices = []
        make_runner(version_dir, "savedmodel", warn=notices.append)
        assert len(notices) == expected, notices
        assert all(notice.startswith(f"the model {version_dir} multiplies") for notice in notices)
    monkeypatch.setenv(cpu.NATIVE_BFLOAT16_ENV, "0")
    assert make_runner(version_dir, "auto").backend == "tflite"


def test_a_float32_export_gives_no_bfloat16_notice(tiny_export, tmp_path, monkeypatch):
    monkeypatch.setenv(cpu.NATIVE_BFLOAT16_ENV, "0")
    notices = []
    export_model(tiny_export[0], tmp_path / "float", warn=notices.append)
    make_runner(tmp_path / "float", "savedmodel", warn=notices.append)
    assert notices == []


def test_export_refuses_an_unknown_conv_dtype(tiny_export, tmp_path):
    with pytest.raises(ConfigError, match="conv_dtype must be one of"):
        export_model(tiny_export[0], tmp_path / "half", conv_dtype="float16")


def _model_config(values) -> ModelConfig:
    return ModelConfig.from_dict(values["model"])


def test_chunked_signature_over_three_chunks_equals_one_shot(each_export, rng):
    _, export_dir = each_export
    loaded = tf.saved_model.load(str(export_dir / "1"))
    info = json.loads((export_dir / "1" / "export_info.json").read_text())
    face = rng.integers(0, 256, (200, 150, 3), dtype=np.uint8)  # any size: resized in-graph
    audio = _speech_like(rng, 1.9)
    seed = tf.constant(11, tf.int64)
    one_shot = loaded.signatures["serving_default"](face=face, audio=audio, seed=seed)["frames"]
    total = one_shot.shape[0]
    assert total == 48

    identity = loaded.signatures["encode_face"](face=face)["identity"]
    assert identity.shape == (info["identity_size"],)
    mfcc = MfccWindows(
        _model_config(json.loads((export_dir / "1" / "config.json").read_text())).audio
    )
    assert mfcc.context_samples == (info["audio_context_left"], info["audio_context_right"])
    state = tf.zeros([info["state_size"]])
    chunks = []
    for start, stop in ((0, 9), (9, 30), (30, total)):
        out = loaded.signatures["generate_chunk"](
            identity=identity,
            audio=mfcc.context_slice(audio[None], start, stop)[0],
            state=state,
            seed=seed,
            start_frame=tf.constant(start, tf.int64),
        )
        state = out["state"]
        chunks.append(out["frames"].numpy())
    chunked = np.concatenate(chunks).astype(np.int32)
    assert np.abs(chunked - one_shot.numpy().astype(np.int32)).max() <= 1


def test_a_warping_model_gives_the_layers_its_frames_are_made_of(tiny_lip_sync_export, rng):
    from lipsync_tf.face_geometry import FaceBox, mouth_prior
    from lipsync_tf.inference.composite import PhotoCompositor
    from lipsync_tf.inference.runners import SavedModelRunner

    runner = SavedModelRunner(tiny_lip_sync_export[1])
    assert runner.has_layers
    face = rng.integers(0, 256, (128, 96, 3), dtype=np.uint8)
    _, out = next(runner.iter_outputs(runner.encode_face(face), _speech_like(rng, 1.0), 3))
    frames, flow, mask, drawn = out["frames"], out["flow"], out["mask"], out["drawn"]
    assert flow.shape == (25, 128, 96, 2) and mask.shape == (25, 128, 96, 1)
    assert drawn.shape == frames.shape and drawn.dtype == np.uint8
    assert out["mouth_shape"].shape == (25, 80)
    # Drawn pixels only over the mouth (mask_region: mouth), and the layers remake the frames.
    assert mask[:, mouth_prior()[..., 0] == 0].max() == 0.0
    # Bilinear and unsmoothed, as the graph composes (bin/generate's compositor reads the
    # photo bicubically and smooths the drawn layers).
    compositor = PhotoCompositor(
        face.shape,
        FaceBox(0.0, 0.0, 96.0, 128.0),
        interpolation=cv2.INTER_LINEAR,
        smooth_drawn=False,
    )
    for index in (0, 12, 24):
        remade = compositor.compose(face, flow[index], mask[index], drawn[index])
        assert np.abs(remade.astype(int) - frames[index]).max() <= 2


def test_a_model_without_a_warp_gives_frames_alone(tiny_export, rng):
    from lipsync_tf.inference.runners import SavedModelRunner

    runner = SavedModelRunner(tiny_export[1])
    face = rng.integers(0, 256, (128, 96, 3), dtype=np.uint8)
    _, out = next(runner.iter_outputs(runner.encode_face(face), _speech_like(rng, 1.0), 3))
    assert not runner.has_layers and set(out) == {"frames"}


@pytest.mark.large  # a separate export or interpreter: ~10 s
def test_saved_model_cli_lists_all_three_signatures(tiny_export):
    _, export_dir = tiny_export
    shown = subprocess.run(
        [str(SAVED_MODEL_CLI), "show", "--all", "--dir", str(export_dir / "1")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for text in (
        "signature_def['serving_default']",
        "signature_def['encode_face']",
        "signature_def['generate_chunk']",
        "inputs['face']",
        "inputs['audio']",
        "inputs['seed']",
        "outputs['frames']",
        "DT_UINT8",
    ):
        assert text in shown, text


@pytest.mark.large  # a separate export or interpreter: ~10 s
def test_bin_export_without_a_checkpoint_fails_in_one_line(tmp_path):
    model_dir = tmp_path / "empty_model_dir"
    model_dir.mkdir()
    export_dir = tmp_path / "exported" / "m"
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bin" / "export"),
            f"--model_dir={model_dir}",
            f"--export_dir={export_dir}",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("bin/export:")]
    assert len(lines) == 1 and "config.json" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not export_dir.exists() or not any(export_dir.iterdir())


def test_faces_of_another_aspect_are_centre_cropped_not_squashed():
    from lipsync_tf.export.signatures import face_to_still

    exact = np.random.default_rng(0).integers(0, 256, (128, 96, 3), dtype=np.uint8)
    np.testing.assert_allclose(face_to_still(exact).numpy()[0], exact / 127.5 - 1.0, atol=1e-6)
    # A square crop with white side bars: the 4:3 centre window leaves the bars out.
    square = np.zeros((224, 224, 3), np.uint8)
    square[:, :27] = 255
    square[:, -27:] = 255
    assert face_to_still(square).numpy().max() == -1.0
    # A tall crop: a horizontal stripe in the middle stays horizontal and centred.
    tall = np.zeros((400, 150, 3), np.uint8)
    tall[195:205] = 255
    still = face_to_still(tall).numpy()[0, :, :, 0]
    bright_rows = np.where(still.mean(axis=1) > 0)[0]
    assert bright_rows.min() > 55 and bright_rows.max() < 73
    assert (still[bright_rows].mean(axis=1) > 0).all()


def test_the_card_says_when_its_metrics_are_not_of_the_exported_step():
    from lipsync_tf.export.saved_model import model_card

    values = {"model": ModelConfig.tiny().to_dict(), "metrics": {"validation_step": 3000}}
    later = model_card("lipsync", 1, Path("runs/x"), values, step=2500)
    assert "latest validation, at step 3000; not of the exported step 2500" in later
    same = model_card("lipsync", 1, Path("runs/x"), values, step=3000)
    assert "not of the exported step" not in same


def test_face_from_box_frames_the_picture_as_bin_generate_crops_it():
    from lipsync_tf.export.signatures import face_from_box
    from lipsync_tf.face_geometry import FaceBox, crop_window
    from lipsync_tf.inference.media import load_image
    from lipsync_tf.preprocessing.faces import crop_face

    picture = load_image(REPO / "examples" / "still.jpg")  # 224 x 224, a real face
    # The face in it, and a box whose window leaves the picture on the left and at the bottom.
    for box in (FaceBox(60.0, 50.0, 160.0, 175.0), FaceBox(-20.0, 100.0, 70.0, 215.0)):
        still, window = face_from_box(picture, np.array([box.x0, box.y0, box.x1, box.y1]))
        expected = crop_window(box)
        np.testing.assert_allclose(
            window, [expected.x0, expected.y0, expected.x1, expected.y1], atol=1e-3
        )
        ours = (still.numpy()[0] + 1.0) * 127.5
        reference = crop_face(picture, expected).astype(np.float64)
        # Close, not equal: the window is cut on whole pixels and shrunk with a triangle filter
        # in the graph, at sub-pixel precision with an area filter by OpenCV. Where the window
        # leaves the picture the fills differ (mirrored vs replicated edge).
        inside = np.s_[:, :] if box.x0 > 0 else np.s_[:90, 20:]
        assert np.abs(ours - reference)[inside].mean() < 3.0


def test_serve_box_gives_the_frames_of_its_own_crop_and_the_window(tiny_lip_sync_export, rng):
    from lipsync_tf.export.signatures import face_from_box

    loaded = tf.saved_model.load(str(tiny_lip_sync_export[1] / "1"))
    picture = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    box = np.array([150.0, 60.0, 250.0, 190.0], np.float32)
    audio, seed = _speech_like(rng, 0.6), tf.constant(2, tf.int64)
    boxed = loaded.signatures["serve_box"](image=picture, box=box, audio=audio, seed=seed)
    still, window = face_from_box(picture, box)
    face = np.round((still.numpy()[0] + 1.0) * 127.5).astype(np.uint8)
    cropped = loaded.signatures["serving_default"](face=face, audio=audio, seed=seed)
    np.testing.assert_allclose(boxed["window"], window, atol=1e-4)
    assert set(boxed) >= {"frames", "window", "flow", "mask", "drawn"}
    difference = np.abs(boxed["frames"].numpy().astype(int) - cropped["frames"].numpy())
    assert difference.max() <= 3 and difference.mean() < 0.5
    chunked = loaded.signatures["encode_face_box"](image=picture, box=box)
    np.testing.assert_allclose(chunked["window"], window, atol=1e-4)


def test_a_model_without_layers_exports_no_layers_signature(tiny_export):
    signatures = tf.saved_model.load(str(tiny_export[1] / "1")).signatures
    assert "generate_chunk" in signatures and LAYERS_SIGNATURE not in signatures
