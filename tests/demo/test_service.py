"""DemoService, the web demo's logic without Gradio: limits, messages, clean-up, model card."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile
from PIL import Image

from lipsync_tf.demo.service import (
    DemoService,
    LimitError,
    available_backends,
    model_card_summary,
)
from lipsync_tf.errors import InputError
from lipsync_tf.inference.media import load_image
from tests.bad_inputs import PHOTO, REPO, SPEECH


@pytest.fixture(scope="module")
def service(tiny_export, tmp_path_factory):
    return DemoService(tiny_export[1], tmp_path_factory.mktemp("demo_work"))


def _files(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


def test_service_writes_the_mp4_and_reports_every_chunk(service):
    chunks = []
    report = service.generate(PHOTO, SPEECH, on_chunk=lambda done, total: chunks.append(done))
    assert report.output.is_file() and report.output.parent.parent == service.results_dir
    assert report.output.name == "still_speaking.mp4"
    assert chunks == [*range(25, report.frames, 25), report.frames]  # 25-frame chunks, then all


def test_no_face_is_the_cli_message_with_the_file_name_and_leaves_nothing(service, tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("RGB", (256, 256), (128, 128, 128)).save(blank)
    before = _files(service.results_dir)
    with pytest.raises(InputError) as raised:
        service.generate(blank, SPEECH)
    assert str(raised.value) == (
        "No face found in blank.png; use a photo with one clearly visible face."
    )
    assert _files(service.results_dir) == before


@pytest.mark.parametrize(
    "samples, message",
    [(0, "blip.wav contains no samples"), (300, "blip.wav is 19 ms long, shorter than one")],
)
def test_too_short_audio_is_the_cli_message(service, tmp_path, samples, message):
    soundfile.write(tmp_path / "blip.wav", np.zeros(samples, np.float32), 16000)
    with pytest.raises(InputError, match=message) as raised:
        service.generate(PHOTO, tmp_path / "blip.wav")
    assert str(tmp_path) not in str(raised.value)  # the upload's name, not the server's path


def test_unreadable_audio_is_the_cli_message(service, tmp_path):
    (tmp_path / "broken.wav").write_bytes(b"RIFF" + b"\x00" * 300)
    with pytest.raises(InputError, match=r"^cannot decode audio file broken.wav"):
        service.generate(PHOTO, tmp_path / "broken.wav")


def test_several_faces_use_the_largest_and_say_so(service, tmp_path):
    still = load_image(PHOTO)
    column = np.zeros((224, 160, 3), np.uint8)
    column[32:192] = cv2.resize(still, (160, 160))
    Image.fromarray(np.concatenate([still, column], axis=1)).save(tmp_path / "two.png")
    notices = []
    report = service.generate(tmp_path / "two.png", SPEECH, warn=notices.append)
    assert notices == ["two.png has 2 faces; using the largest (choose another with --face_index)."]
    assert report.output.is_file()


def test_missing_inputs_say_what_to_give(service):
    with pytest.raises(InputError, match="no photo given"):
        service.generate(None, SPEECH)
    with pytest.raises(InputError, match="no speech given"):
        service.generate(PHOTO, None)


def test_photo_over_the_pixel_limit_is_refused_before_decoding(tiny_export, tmp_path):
    small = DemoService(tiny_export[1], tmp_path / "work", max_image_pixels=224 * 223)
    with pytest.raises(LimitError, match=r"still.jpg is 224x224 \(0.1 megapixels\), more than"):
        small.generate(PHOTO, SPEECH)
    assert _files(tmp_path / "work") == set()


def test_speech_over_the_length_limit_is_refused(tiny_export, tmp_path):
    short = DemoService(tiny_export[1], tmp_path / "work", max_audio_seconds=5.0)
    with pytest.raises(LimitError, match=r"speech.wav is 0.1 minutes long, more than this demo"):
        short.generate(PHOTO, SPEECH)  # 5.25 s
    assert _files(tmp_path / "work") == set()


def test_only_the_latest_results_are_kept(tiny_export, tmp_path):
    service = DemoService(tiny_export[1], tmp_path / "work")
    outputs = [service.generate(PHOTO, SPEECH, backend="tflite").output for _ in range(5)]
    kept = sorted(_files(service.results_dir))
    assert kept == outputs[1:]  # KEEP_RESULTS = 4


def test_unknown_backend_is_a_user_error(service):
    with pytest.raises(InputError, match="backend 'onnx' is not available"):
        service.generate(PHOTO, SPEECH, backend="onnx")


def test_summary_is_the_cards_in_one_line_paragraph(tmp_path):
    (tmp_path / "MODEL_CARD.md").write_text(
        "# m\n\nIntro paragraph.\n\n**In one line:** a small\nmodel that *blurs*.\n\n## Data\n"
    )
    assert model_card_summary(tmp_path) == "a small model that *blurs*."


def test_summary_falls_back_to_the_first_paragraph_of_any_card(tiny_export, tmp_path):
    # bin/export writes only the version's card: its first paragraph says what the model is.
    assert model_card_summary(tiny_export[1]).startswith("Speech-driven talking-face generator")
    assert model_card_summary(tmp_path) == f"No MODEL_CARD.md in {tmp_path}."


def test_the_shipped_model_has_a_summary_and_every_backend():
    shipped = REPO / "exported_models" / "lipsync"
    assert model_card_summary(shipped) and "\n" not in model_card_summary(shipped)
    assert available_backends(shipped) == [
        "savedmodel", "tflite", "tflite_dynamic_range", "tflite_int8"
    ]  # fmt: skip


def test_every_result_carries_both_marks_and_the_page_says_how_to_check(service):
    from lipsync_tf.provenance import watermark
    from lipsync_tf.provenance.c2pa_manifest import read_manifest

    report = service.generate(PHOTO, SPEECH)
    manifest = read_manifest(report.output)
    assert manifest.state == "valid" and manifest.digital_source_type == "trainedAlgorithmicMedia"
    assert watermark.detect_file(report.output).found
    assert "untrusted by others until you use your own certificate" in service.signer
    page = pytest.importorskip("lipsync_tf.demo.page", reason="needs the demo extra (gradio)")
    note = page.provenance_note(service)
    assert "signed C2PA manifest" in note and "invisible watermark" in note
    assert "`bin/verify FILE`" in note
