"""`bin/demo` main: load the model, serve the page on localhost until Ctrl-C or SIGTERM.

Everything the page writes (Gradio's copies of uploads and results, and the results
themselves) lives in one temporary folder of this process, removed when it stops.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from absl import flags

from lipsync_tf import console
from lipsync_tf.errors import LipsyncError
from lipsync_tf.flags import FLAGS, config_from_flags, define_config_flags

DEMO_EXTRA_HINT = "the web demo needs the demo extra: pip install -e '.[demo]'"


def define_flags() -> None:
    """bin/demo: the web page (Gradio) that runs bin/generate for visitors."""
    from lipsync_tf.provenance.marks import ProvenanceOptions

    flags.DEFINE_string(
        "model",
        "exported_models/lipsync",
        "exported_models/NAME (highest version) or exported_models/NAME/N.",
    )
    flags.DEFINE_string(
        "host", "127.0.0.1", "Address to listen on (0.0.0.0 opens the page to the network)."
    )
    flags.DEFINE_integer("port", 7860, "Port to listen on.")
    flags.DEFINE_integer(
        "queue_size", 8, "Requests that may wait while one generates; more are refused."
    )
    flags.DEFINE_integer(
        "max_image_pixels", 16_000_000, "Refuse photos with more pixels (width x height)."
    )
    flags.DEFINE_float("max_audio_seconds", 600.0, "Refuse longer speech (default 10 minutes).")
    flags.DEFINE_integer("max_upload_mb", 200, "Refuse uploaded files larger than this (MB).")
    # The signing flags only: the page promises both marks to its visitors.
    define_config_flags(ProvenanceOptions, exclude=["no_provenance"])


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # Gradio's launch() closes the server on it; cleanup follows


def demo_main(argv) -> None:
    del argv
    # The server's log holds its own lines (requests, Gradio's address), not the libraries'
    # start-up notices; --verbosity 1 or LIPSYNC_VERBOSE=1 shows those too.
    console.hide_library_logs(FLAGS.verbosity, keep=False)
    work_dir = Path(tempfile.mkdtemp(prefix="lipsync_demo-"))
    # Before Gradio is imported: no usage statistics, no version check, uploads in work_dir.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["GRADIO_TEMP_DIR"] = str(work_dir / "gradio")
    signal.signal(signal.SIGTERM, _interrupt)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per local HTTP request
    try:
        try:
            from lipsync_tf.demo.page import build_page, queue_page
        except ModuleNotFoundError as error:
            print(f"bin/demo: {DEMO_EXTRA_HINT} ({error}).", file=sys.stderr)
            sys.exit(1)
        from lipsync_tf.demo.service import DemoService
        from lipsync_tf.provenance.marks import ProvenanceOptions

        try:
            service = DemoService(
                FLAGS.model,
                work_dir,
                max_image_pixels=FLAGS.max_image_pixels,
                max_audio_seconds=FLAGS.max_audio_seconds,
                provenance=config_from_flags(ProvenanceOptions),
            )
        except LipsyncError as error:
            print(f"bin/demo: {error}", file=sys.stderr)
            sys.exit(1)
        page = queue_page(build_page(service), FLAGS.queue_size)
        page.launch(
            server_name=FLAGS.host,
            server_port=FLAGS.port,
            max_file_size=f"{FLAGS.max_upload_mb}mb",
            allowed_paths=[str(service.results_dir)],
            footer_links=["api", "settings"],  # not the link to gradio.app: the page is offline
            share=False,
        )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
