"""The screenshot of bin/demo in docs/demo.md after a generation (headless Debian chromium).

python docs/demo_screenshot.py docs/demo_page.png [--model exported_models/lipsync]

Starts bin/demo on a free port, clicks the bundled example (one click fills the inputs and
generates), pauses the video a second in so the frame is the model's, and saves the page as a
256-colour PNG (small enough for the repository).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from PIL import Image

from lipsync_tf.demo.process import DemoProcess

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    # Relative to the repository (bin/demo runs there), as the page then shows it.
    parser.add_argument("--model", type=Path, default=Path("exported_models/lipsync"))
    parser.add_argument("--width", type=int, default=1100)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "tmp").mkdir()
        server = DemoProcess(Path(folder) / "tmp", Path(folder) / "demo.log", args.model)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": args.width, "height": 900})
                page.goto(server.url)
                page.get_by_text("still.jpg speaking speech.wav").click()
                page.wait_for_function(
                    "() => { const v = document.querySelector('#result video');"
                    " return v && v.readyState >= 2; }",
                    timeout=600_000,
                )
                page.evaluate(
                    "() => { const v = document.querySelector('#result video');"
                    " v.currentTime = 1.0; v.pause(); }"
                )
                page.wait_for_timeout(500)  # the seeked frame is painted
                png = Path(folder) / "page.png"
                page.screenshot(path=str(png), full_page=True)
                browser.close()
        finally:
            server.stop()
        image = Image.open(png).convert("RGB")
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(args.output, optimize=True)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
