"""The page's half of the bad-input matrix: every input the CLIs refuse, uploaded through
`gradio_client` to a real `bin/demo` on 127.0.0.1, gets the CLI's line (with the uploaded
file's name, not the server's path), and leaves the server's results folder as it was.

The messages are the CLI matrix's own (tests/bad_inputs.py), so the page cannot drift from
`bin/generate`'s words. Needs the demo extra; the server starts once (~20 s), so `large`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lipsync_tf.demo.process import DemoProcess
from tests.bad_inputs import PHOTO, PHOTOS, SPEECH, SPEECHES, copy, snapshot
from tests.inference.test_generate import probe_mp4

pytestmark = pytest.mark.large

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "exported_models" / "lipsync"
# Files a browser cannot upload: the page never sees them.
NOT_UPLOADABLE = {"missing_image", "image_is_a_folder", "missing_audio"}
# The page's own limit comes first for photos above 16 megapixels (bin/demo --max_image_pixels).
PAGE_LIMITS = {
    "large_photo": r"photo large.jpg is 6000x4000 \(24.0 megapixels\), more than this demo takes"
}
CASES = {f"photo:{name}": ("photo", case) for name, case in PHOTOS.items()} | {
    f"speech:{name}": ("speech", case) for name, case in SPEECHES.items()
}
CASES = {
    name: (kind, case)
    for name, (kind, case) in CASES.items()
    if name.split(":")[1] not in NOT_UPLOADABLE
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("gradio", reason="needs the demo extra: pip install -e '.[demo]'")
    folder = tmp_path_factory.mktemp("demo")
    (folder / "tmp").mkdir()
    server = DemoProcess(folder / "tmp", folder / "demo.log", MODEL, start_timeout=300)
    yield server
    server.stop()
    assert list(server.tmp_root.iterdir()) == []


@pytest.fixture(scope="module")
def client(server, tmp_path_factory):
    from gradio_client import Client

    return Client(server.url, verbose=False, download_files=str(tmp_path_factory.mktemp("dl")))


def _generate(client, photo: Path | None, speech: Path | None):
    from gradio_client import handle_file

    return client.predict(
        handle_file(str(photo)) if photo else None, handle_file(str(speech)) if speech else None,
        0, True, "savedmodel", "largest", api_name="/generate",
    )  # fmt: skip


def _assert_refused(client, server, photo, speech, message: str) -> None:
    from gradio_client.exceptions import AppError

    results = server.work_dir() / "results"
    before = snapshot(results)
    with pytest.raises(AppError) as raised:
        _generate(client, photo, speech)
    text = str(raised.value)
    assert re.search(message, text), text
    assert "\n" not in text and "Traceback" not in text and str(server.tmp_root) not in text
    assert snapshot(results) == before


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_page_gives_the_clis_line_for_each_bad_input(
    name, client, server, shared_data, tmp_path
):
    kind, case = CASES[name]
    given = case.make(tmp_path, shared_data)
    photo, speech = (given, SPEECH) if kind == "photo" else (PHOTO, given)
    message = PAGE_LIMITS.get(name.split(":")[1], case.message)
    if message is None:
        video, _ = _generate(client, photo, speech)
        assert probe_mp4(Path(video))["frames"] == 132
        return
    _assert_refused(client, server, photo, speech, message)


def test_the_page_asks_for_a_missing_input(client, server):
    _assert_refused(client, server, None, SPEECH, r"^no photo given; upload a photo")
    _assert_refused(client, server, PHOTO, None, r"^no speech given; upload a recording")


def test_the_page_takes_unicode_and_the_longest_file_names(client, tmp_path):
    photo = copy(PHOTO, tmp_path, "ü" * 123 + ".jpg")  # 250 bytes: at the file system's limit
    speech = copy(SPEECH, tmp_path, "rede ñ 话.wav")
    video, download = _generate(client, photo, speech)
    assert probe_mp4(Path(video))["frames"] == 132
    assert Path(download).read_bytes() == Path(video).read_bytes()


# What TensorFlow, MediaPipe and LiteRT print at start-up and per detector when not hidden.
LIBRARY_NOTICE = re.compile(
    r"^(INFO|WARNING): |^[IWE]0000 |oneDNN|XNNPACK|absl::InitializeLog|InitGoogle"
)


def test_the_server_log_holds_only_its_own_lines(client, server):
    _generate(client, PHOTO, SPEECH)  # at least one whole request, face detector included
    lines = server.log_text().splitlines()
    assert any("request" in line and "finished" in line for line in lines), lines
    assert [line for line in lines if LIBRARY_NOTICE.search(line)] == []
