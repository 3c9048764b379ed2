"""What the web page costs over bin/generate, measured side by side in one run.

Prints, for the bundled example (examples/still.jpg speaking examples/speech.wav) and a model
directory (default: the shipped one), the median of --repeats runs of:
  1. `bin/generate` as a fresh process (imports, model load, generation: what a CLI user waits);
  2. `generate_video` in a process that keeps the model loaded (the work the page does per
     request);
  3. a page request through gradio_client (upload, queue, generate, Gradio's copy, download)
     and, when Debian's chromium and playwright are there, in headless Chromium (click ->
     the video element has its mp4), with their ratios to 2;
  4. time from submitting a request to its first progress update and to its first chunk;
  5. peak resident memory of the bin/demo process: idle, after single requests, after a queue
     of three requests submitted together; and of a bin/generate process, for comparison.

    python bench/demo_overhead.py [--model exported_models/lipsync] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from speed_common import bin_generate_seconds  # noqa: E402

from lipsync_tf.demo.process import DemoProcess  # noqa: E402 (after the path set-up)
from lipsync_tf.inference.generate import GenerateOptions, generate_video  # noqa: E402
from lipsync_tf.inference.runners import make_runner  # noqa: E402

PHOTO = REPO / "examples" / "still.jpg"
SPEECH = REPO / "examples" / "speech.wav"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip


def time_bin_generate(model: Path, folder: Path, repeats: int) -> tuple[list[float], float]:
    """Wall seconds of each fresh `bin/generate` process, and the largest peak RSS (MB)."""
    seconds = []
    for index in range(repeats):
        seconds.append(bin_generate_seconds(PHOTO, SPEECH, folder / f"cli{index}.mp4", model))
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak_mb


def time_warm_generate(model: Path, folder: Path, repeats: int) -> list[float]:
    runner, quiet = make_runner(model, "savedmodel"), GenerateOptions(progress=False)
    generate_video(PHOTO, SPEECH, folder / "warmup.mp4", quiet, runner=runner)
    seconds = []
    for index in range(repeats):
        begin = time.perf_counter()
        generate_video(PHOTO, SPEECH, folder / f"warm{index}.mp4", quiet, runner=runner)
        seconds.append(time.perf_counter() - begin)
    return seconds


def submit(client, speech: Path = SPEECH):
    from gradio_client import handle_file

    return client.submit(
        handle_file(str(PHOTO)), handle_file(str(speech)), 0, True, "savedmodel", "largest",
        api_name="/generate",
    )  # fmt: skip


def time_client_request(client) -> tuple[float, float | None, float | None]:
    """(seconds to the downloaded result, to the first progress update, to the first chunk)."""
    begin = time.perf_counter()
    job = submit(client)
    first_update = first_chunk = None
    while not job.done():
        progress = job.status().progress_data
        if progress and first_update is None:
            first_update = time.perf_counter() - begin
        if progress and first_chunk is None and any(unit.unit == "frames" for unit in progress):
            first_chunk = time.perf_counter() - begin
        time.sleep(0.005)
    job.result()
    return time.perf_counter() - begin, first_update, first_chunk


def time_browser_requests(url: str, repeats: int) -> list[float] | None:
    """Seconds from clicking Generate to a video element holding the new mp4, or None."""
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        return None
    if not Path(CHROMIUM).is_file():
        return None
    seconds = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(repeats):
            page = browser.new_page()
            page.goto(url)
            page.set_input_files("#photo input[type=file]", str(PHOTO))
            page.set_input_files("#speech input[type=file]", str(SPEECH))
            page.wait_for_selector("#photo img")
            page.wait_for_selector("#speech audio", state="attached")
            begin = time.perf_counter()
            page.click("#generate")
            page.wait_for_function(
                "() => { const v = document.querySelector('#result video');"
                " return v && v.src && v.readyState >= 1; }",
                timeout=600_000,
            )
            seconds.append(time.perf_counter() - begin)
            page.close()
        browser.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "exported_models" / "lipsync")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from gradio_client import Client

    median = statistics.median
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        cli_seconds, cli_peak = time_bin_generate(args.model, folder, args.repeats)
        warm_seconds = time_warm_generate(args.model, folder, args.repeats)

        (folder / "tmp").mkdir()
        server = DemoProcess(folder / "tmp", folder / "demo.log", args.model)
        try:
            idle_peak = server.peak_rss_mb()
            client = Client(server.url, verbose=False, download_files=str(folder / "client"))
            client_runs = [time_client_request(client) for _ in range(args.repeats + 1)][1:]
            browser_seconds = time_browser_requests(server.url, args.repeats)
            single_peak = server.peak_rss_mb()
            jobs = [submit(Client(server.url, verbose=False, download_files=str(folder / str(i))))
                    for i in range(3)]  # fmt: skip
            for job in jobs:
                job.result()
            queue_peak = server.peak_rss_mb()
        finally:
            server.stop()

    warm = median(warm_seconds)
    page = median(run[0] for run in client_runs)
    print(f"bundled example: {PHOTO.name} + {SPEECH.name} (5.25 s, 132 frames), "
          f"model {os.path.relpath(args.model, REPO)}, median of {args.repeats}")  # fmt: skip
    print(f"{'':44s} {'seconds':>8s} {'x warm generate_video':>22s}")
    rows = [
        ("bin/generate, fresh process", median(cli_seconds)),
        ("generate_video, model kept loaded", warm),
        ("page request via gradio_client", page),
    ]
    if browser_seconds:
        rows.append(("page request in headless Chromium", median(browser_seconds)))
    for name, seconds in rows:
        print(f"{name:44s} {seconds:8.2f} {seconds / warm:22.2f}")
    print(f"page overhead over warm generate_video: {page - warm:+.2f} s per request; "
          f"bin/demo start-up {server.start_seconds:.1f} s")  # fmt: skip
    first_update = median(run[1] for run in client_runs)
    first_chunk = median(run[2] for run in client_runs)
    print(f"time to first progress update {first_update:.2f} s, to the first chunk of 25 frames "
          f"{first_chunk:.2f} s (of {page:.2f} s)")  # fmt: skip
    print(f"peak RSS MB: bin/demo idle {idle_peak:.0f}, after single requests {single_peak:.0f}, "
          f"after a queue of three {queue_peak:.0f} ({queue_peak / single_peak:.2f}x); "
          f"bin/generate process {cli_peak:.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
