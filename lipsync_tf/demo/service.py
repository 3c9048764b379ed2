"""What the web demo does with one request, without any web framework in it.

`DemoService` keeps the model loaded, checks the demo's input limits, runs the same
`generate_video` as `bin/generate` one request at a time, and owns the folder its results go
to: a failed request removes everything it wrote, and only the latest results are kept. The
Gradio page (`page.py`) is a thin layer over it, so the limits and the clean-up are testable
without a browser.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from absl import logging
from PIL import UnidentifiedImageError

from lipsync_tf.audio.io import audio_duration, load_waveform
from lipsync_tf.errors import InputError, LipsyncError
from lipsync_tf.export.contract import MODEL_CARD_NAME, TFLITE_FILES
from lipsync_tf.inference.generate import GenerateOptions, GenerateReport, generate_video
from lipsync_tf.inference.media import image_size
from lipsync_tf.inference.runners import ChunkRunner, make_runner, resolve_saved_model
from lipsync_tf.provenance.marks import MARKED, ProvenanceOptions

DEFAULT_MAX_IMAGE_PIXELS = 16_000_000  # a 12-megapixel phone photo fits
DEFAULT_MAX_AUDIO_SECONDS = 600.0
KEEP_RESULTS = 4  # earlier results are deleted when a new request starts


class LimitError(InputError):
    """An input is larger than this demo accepts (limits set by bin/demo flags)."""


def model_root(model: str | Path) -> Path:
    """`exported_models/NAME` for either NAME or NAME/N (the folder with the card and .tflite)."""
    model = Path(model)
    return model.parent if (model / "saved_model.pb").is_file() else model


def model_card_summary(model: str | Path) -> str:
    """The model card's one-line summary, as plain one-line Markdown.

    Takes the paragraph that starts with "**In one line:**" in `NAME/MODEL_CARD.md` (else in the
    version's card), or failing that the first paragraph after the card's title, so any card
    written to the model-directory contract gives something to show.
    """
    root = model_root(model)
    cards = [root / MODEL_CARD_NAME]
    try:
        cards.append(resolve_saved_model(model) / MODEL_CARD_NAME)
    except InputError:
        pass
    texts = [card.read_text(encoding="utf-8") for card in cards if card.is_file()]
    if not texts:
        return f"No {MODEL_CARD_NAME} in {root}."
    paragraphs = [
        [" ".join(part.split()) for part in re.split(r"\n\s*\n", text) if part.strip()]
        for text in texts
    ]
    for card in paragraphs:
        for paragraph in card:
            if paragraph.startswith("**In one line:**"):
                return paragraph.removeprefix("**In one line:**").strip()
    for card in paragraphs:
        for paragraph in card:
            if not paragraph.startswith("#"):
                return paragraph
    return f"{MODEL_CARD_NAME} in {root} has no summary paragraph."


def available_backends(model: str | Path) -> list[str]:
    """The backends whose files are in the model directory (the SavedModel is always needed)."""
    root = model_root(model)
    backends = ["savedmodel"]
    backends += [backend for backend, name in TFLITE_FILES.items() if (root / name).is_file()]
    return backends


def check_image_pixels(path: str | Path, max_pixels: int, name: str) -> None:
    """Refuses a photo over `max_pixels` from its header, before decoding it."""
    try:
        pixels, size = image_size(path)
    except (UnidentifiedImageError, OSError, ValueError):
        return  # load_image reports unreadable photos in its own words
    if pixels > max_pixels:
        raise LimitError(
            f"photo {name} is {size}, more than this demo takes ({max_pixels / 1e6:.1f}); scale "
            "it down (bin/demo --max_image_pixels raises the limit)."
        )


def check_audio_seconds(path: str | Path, max_seconds: float, name: str) -> None:
    """Refuses speech longer than `max_seconds`, from the header when it says, else by decoding."""
    seconds = audio_duration(path)
    if seconds is None:
        try:
            seconds = len(load_waveform(path)) / 16000
        except InputError:
            return  # generate_video reports it with the CLI's message
    if seconds > max_seconds:
        raise LimitError(
            f"speech {name} is {seconds / 60:.1f} minutes long, more than this demo takes "
            f"({max_seconds / 60:g} minutes); cut it (bin/demo --max_audio_seconds raises the "
            "limit, bin/generate has none)."
        )


class DemoService:
    """One model, kept loaded, serving one generation at a time into `work_dir/results`."""

    def __init__(
        self,
        model: str | Path,
        work_dir: str | Path,
        max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
        max_audio_seconds: float = DEFAULT_MAX_AUDIO_SECONDS,
        provenance: ProvenanceOptions = MARKED,
    ):
        self.model = Path(model)
        # Every result is marked (the page says so); the signing identity is made or checked
        # now, so a bad certificate stops the demo at start-up.
        self.provenance = dataclasses.replace(provenance, no_provenance=False)
        self.signer = self.provenance.identity().describe()
        self.results_dir = Path(work_dir) / "results"
        self.results_dir.mkdir(parents=True, exist_ok=True)
        self.max_image_pixels = max_image_pixels
        self.max_audio_seconds = max_audio_seconds
        self.summary = model_card_summary(model)
        self.backends = available_backends(model)
        # The SavedModel loads now, so a missing model fails at start-up, not on the first visit.
        self._runners: dict[str, ChunkRunner] = {"savedmodel": make_runner(model, "savedmodel")}
        self._lock = threading.Lock()
        self._requests = 0

    def runner(self, backend: str) -> ChunkRunner:
        """The loaded runner for `backend` (TFLite ones load on first use and stay loaded)."""
        if backend not in self.backends:
            raise InputError(
                f"backend {backend!r} is not available for {self.model}; choose one of "
                f"{', '.join(self.backends)}."
            )
        if backend not in self._runners:
            self._runners[backend] = make_runner(self.model, backend)
        return self._runners[backend]

    def generate(
        self,
        photo: str | Path | None,
        speech: str | Path | None,
        seed: int = 0,
        paste_back: bool = True,
        backend: str = "savedmodel",
        face_index: int | None = None,
        on_chunk: Callable[[int, int], None] | None = None,
        warn: Callable[[str], None] = logging.warning,
    ) -> GenerateReport:
        """`bin/generate` for one visitor: checks limits, writes an mp4 under results/.

        Raises `LipsyncError` with the CLI's one-line message (file paths shortened to the
        uploaded file names); on any failure nothing this request wrote is left on disk.
        """
        with self._lock:
            self._requests += 1
            number = self._requests
            begin = time.perf_counter()
            logging.info("request %d started", number)
            workdir = None
            try:
                if photo is None:
                    raise InputError("no photo given; upload a photo of one face or take one.")
                if speech is None:
                    raise InputError("no speech given; upload a recording or record one.")
                photo, speech = Path(photo), Path(speech)
                check_image_pixels(photo, self.max_image_pixels, photo.name)
                check_audio_seconds(speech, self.max_audio_seconds, speech.name)
                runner = self.runner(backend)
                self._prune_results()
                workdir = Path(tempfile.mkdtemp(prefix=f"{number:05d}-", dir=self.results_dir))
                options = GenerateOptions(
                    seed=int(seed), paste_back=paste_back, face_index=face_index, progress=False
                )
                report = generate_video(
                    photo,
                    speech,
                    workdir / f"{photo.stem[:100]}_speaking.mp4",  # a long name stays legal
                    options,
                    provenance=self.provenance,
                    runner=runner,
                    on_chunk=on_chunk,
                    warn=lambda message: warn(_short_paths(message, photo, speech)),
                )
            except LipsyncError as error:
                if workdir is not None:
                    shutil.rmtree(workdir, ignore_errors=True)
                message = _short_paths(str(error), photo, speech)
                logging.info("request %d failed: %s", number, message)
                raise type(error)(message) from error
            except BaseException:
                if workdir is not None:
                    shutil.rmtree(workdir, ignore_errors=True)
                raise
            logging.info(
                "request %d finished in %.1f s: %d frames",
                number,
                time.perf_counter() - begin,
                report.frames,
            )
            return report

    def _prune_results(self) -> None:
        """Deletes all but the latest KEEP_RESULTS - 1 results, making room for the next one."""
        folders = sorted(path for path in self.results_dir.iterdir() if path.is_dir())
        for folder in folders[: max(0, len(folders) - (KEEP_RESULTS - 1))]:
            shutil.rmtree(folder, ignore_errors=True)


def _short_paths(message: str, *paths) -> str:
    """Names uploaded files by their own name, not the server's temporary path."""
    for path in paths:
        if path is not None:
            message = message.replace(str(path), Path(path).name)
    return message
