"""bin/demo end to end: a real headless Chromium on the page, gradio_client on its endpoint.

Runs `bin/demo` with the shipped model as a separate process on a free localhost port, as a
visitor would meet it. Needs the demo extra and Debian's chromium; skips saying which is
missing, unless LIPSYNC_REQUIRE_BROWSER is set (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from lipsync_tf.demo.process import DemoProcess, clock_seconds
from lipsync_tf.demo.service import model_card_summary
from lipsync_tf.provenance import watermark
from lipsync_tf.provenance.c2pa_manifest import read_manifest
from tests.inference.test_generate import probe_mp4

pytestmark = pytest.mark.large

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "exported_models" / "lipsync"
PHOTO = REPO / "examples" / "still.jpg"
SPEECH = REPO / "examples" / "speech.wav"
CHROMIUM = Path(os.environ.get("LIPSYNC_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_BROWSER = os.environ.get("LIPSYNC_REQUIRE_BROWSER", "") not in ("", "0")
# What the probe of this machine kind found Chromium needs as root on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REQUEST_TIMEOUT = 600


def _skip_or_fail(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"LIPSYNC_REQUIRE_BROWSER is set but {reason}")
    pytest.skip(reason)


def _require(module: str) -> None:
    try:
        __import__(module)
    except ModuleNotFoundError:
        _skip_or_fail(
            f"{module} is not installed; the web demo's tests need pip install -e '.[test,demo]'"
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _require("gradio")
    _require("playwright")
    folder = tmp_path_factory.mktemp("demo")
    (folder / "tmp").mkdir()
    try:
        server = DemoProcess(folder / "tmp", folder / "demo.log", MODEL, start_timeout=300)
    except RuntimeError as error:
        pytest.fail(str(error))
    yield server
    server.stop()
    # Everything the page wrote (uploads, results) went into its own folder, gone on exit.
    assert list(server.tmp_root.iterdir()) == [], list(server.tmp_root.rglob("*"))


@pytest.fixture(scope="module")
def browser():
    _require("playwright")
    if not CHROMIUM.is_file():
        _skip_or_fail(f"Debian's chromium is not at {CHROMIUM}; apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    """A fresh tab on the demo that records every URL it requests."""
    context = browser.new_context()
    page = context.new_page()
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))
    page.goto(server.url)
    page.wait_for_selector("#generate")
    yield page
    context.close()


def _upload(page, photo: Path, speech: Path) -> None:
    page.set_input_files("#photo input[type=file]", str(photo))
    page.set_input_files("#speech input[type=file]", str(speech))
    # Uploaded: the image is shown and the speech has its player.
    page.wait_for_selector("#photo img")
    page.wait_for_selector("#speech audio", state="attached")


def _external(requested: list[str], server) -> list[str]:
    local = (server.url.rstrip("/"), "blob:", "data:")
    return [url for url in requested if not url.startswith(local)]


def test_browser_generates_an_mp4_that_plays_for_the_speech_length(page, server):
    summary = page.inner_text("#model-summary")
    assert model_card_summary(MODEL).split("*")[0].strip()[:40] in summary
    assert "bin/verify FILE" in page.inner_text("#provenance")
    _upload(page, PHOTO, SPEECH)
    page.click("#generate")
    page.wait_for_function(
        "() => { const v = document.querySelector('#result video');"
        " return v && v.src && v.readyState >= 1; }",
        timeout=REQUEST_TIMEOUT * 1000,
    )
    src, duration = page.evaluate(
        "() => { const v = document.querySelector('#result video'); return [v.src, v.duration]; }"
    )
    assert src.startswith(server.url) and src.endswith(".mp4")
    assert abs(duration - soundfile.info(str(SPEECH)).duration) < 0.1  # 132 frames at 25 fps
    # It plays: play() resolves and the clock moves with no media error.
    assert page.evaluate("() => document.querySelector('#result video').play().then(() => 'ok')")
    page.wait_for_function(
        "() => { const v = document.querySelector('#result video');"
        " return v.currentTime > 0.3 && !v.paused && !v.error; }",
        timeout=30_000,
    )
    assert page.locator("#download").is_visible()
    # Offline: every request the page made went to the demo itself.
    assert _external(page.requested, server) == []


def test_browser_shows_the_no_face_message_and_leaves_no_files(page, server, tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("RGB", (256, 256), (128, 128, 128)).save(blank)
    results = server.work_dir() / "results"
    before = sorted(results.rglob("*"))
    _upload(page, blank, SPEECH)
    page.click("#generate")
    message = "No face found in blank.png; use a photo with one clearly visible face."
    page.get_by_text(message).wait_for(timeout=REQUEST_TIMEOUT * 1000)
    assert "Traceback" not in page.content()
    assert page.locator("#result video").count() == 0
    assert sorted(results.rglob("*")) == before
    assert _external(page.requested, server) == []


def test_browser_runs_the_bundled_example_in_one_click(page):
    page.get_by_text("still.jpg speaking speech.wav").click()
    page.wait_for_function(
        "() => { const v = document.querySelector('#result video');"
        " return v && v.src.endsWith('still_speaking.mp4') && v.readyState >= 1; }",
        timeout=REQUEST_TIMEOUT * 1000,
    )
    assert page.locator("#photo img").count() == 1  # the inputs show the example too


def _submit(client, photo=PHOTO, speech=SPEECH, backend="savedmodel"):
    from gradio_client import handle_file

    return client.submit(
        handle_file(str(photo)), handle_file(str(speech)), 0, True, backend, "largest",
        api_name="/generate",
    )  # fmt: skip


def test_gradio_client_gets_the_video_and_progress_per_chunk(server, tmp_path):
    from gradio_client import Client

    client = Client(server.url, verbose=False, download_files=str(tmp_path))
    job = _submit(client, backend="tflite")
    frames_done = []
    while not job.done():
        for unit in job.status().progress_data or []:
            if unit.unit == "frames" and unit.index not in frames_done:
                frames_done.append(unit.index)
        time.sleep(0.02)
    video, download = job.result(timeout=REQUEST_TIMEOUT)
    info = probe_mp4(Path(video))
    assert info["frames"] == 132 and info["size"] == (224, 224)
    assert Path(download).read_bytes() == Path(video).read_bytes()
    assert read_manifest(Path(video)).state == "valid"  # served as written: both marks kept
    assert watermark.detect_file(Path(video)).found
    # Progress followed the 25-frame chunks (polling may miss some) up to all 132 frames.
    assert frames_done == sorted(frames_done) and len(frames_done) >= 2
    assert set(frames_done) <= {25, 50, 75, 100, 125, 132}


def test_three_concurrent_requests_run_one_after_another_in_bounded_memory(server, tmp_path):
    from gradio_client import Client

    # 21 s of speech (the example four times): long enough that all three are queued at once.
    waveform, rate = soundfile.read(str(SPEECH), dtype="float32")
    long_speech = tmp_path / "long_speech.wav"
    soundfile.write(str(long_speech), np.tile(waveform, 4), rate)
    frames = int(np.ceil(4 * len(waveform) / (rate / 25)))

    clients = [
        Client(server.url, verbose=False, download_files=str(tmp_path / str(index)))
        for index in range(3)
    ]
    _submit(clients[0], speech=long_speech).result(timeout=REQUEST_TIMEOUT)
    peak_one = server.peak_rss_mb()
    done_before = len(server.request_times())

    jobs = [_submit(client, speech=long_speech) for client in clients]
    all_submitted = clock_seconds()
    results = [job.result(timeout=3 * REQUEST_TIMEOUT) for job in jobs]
    assert all(probe_mp4(Path(video))["frames"] == frames for video, _ in results)

    times = server.request_times()
    new = [times[number] for number in sorted(times)][done_before:]
    assert len(new) == 3 and all(set(request) == {"started", "finished"} for request in new)
    assert all_submitted < new[0]["finished"]  # all three were in the queue together...
    for earlier, later in itertools.pairwise(new):
        assert later["started"] >= earlier["finished"]  # ...and ran one at a time
    peak_three = server.peak_rss_mb()
    print(f"peak RSS {peak_one:.0f} MB after one request, {peak_three:.0f} MB after three queued")
    assert peak_three < peak_one + 200  # a waiting request holds no model memory


def test_a_full_queue_refuses_further_requests(tmp_path):
    _require("gradio")
    from gradio_client import Client
    from gradio_client.utils import QueueError

    (tmp_path / "tmp").mkdir()
    small = DemoProcess(tmp_path / "tmp", tmp_path / "demo.log", MODEL, ("--queue_size=1",))
    try:
        waveform, rate = soundfile.read(str(SPEECH), dtype="float32")
        soundfile.write(str(tmp_path / "long.wav"), np.tile(waveform, 4), rate)
        clients = [
            Client(small.url, verbose=False, download_files=str(tmp_path / str(index)))
            for index in range(3)
        ]
        jobs = [_submit(client, speech=tmp_path / "long.wav") for client in clients]
        outcomes = []
        for job in jobs:
            try:
                job.result(timeout=REQUEST_TIMEOUT)
                outcomes.append("done")
            except QueueError:
                outcomes.append("refused")
    finally:
        small.stop()
    # One runs and one waits; the third (or, if it came first, the second) is refused.
    assert outcomes.count("done") >= 1 and outcomes.count("refused") >= 1, outcomes
