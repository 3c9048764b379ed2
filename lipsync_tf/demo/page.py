"""The Gradio page of `bin/demo`: photo + speech in, talking video out.

Everything it does goes through `DemoService` (the same `generate_video` as `bin/generate`);
this module only lays out the page and turns user errors into one-line messages on it. The
endpoint `/generate` (also what `gradio_client` calls) takes photo, speech, seed, paste-back,
backend and face ("largest" or a number), and returns the video and the same file for the
download button.
"""

from __future__ import annotations

import html
from pathlib import Path

import gradio as gr

from lipsync_tf.demo.service import DemoService
from lipsync_tf.errors import LipsyncError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_PHOTO = REPO / "examples" / "still.jpg"
EXAMPLE_SPEECH = REPO / "examples" / "speech.wav"
MAX_FACE_CHOICE = 5
CONCURRENCY_ID = "generate"  # the button and the example share one generation slot


def provenance_note(service: DemoService) -> str:
    """What the page tells visitors about the two marks in every video it makes."""
    return (
        "**Every video made here is marked as AI-generated, twice:** a signed C2PA manifest "
        "(Content Credentials: created by lipsync_tf, digital source type "
        f"*trainedAlgorithmicMedia*; signed by {html.escape(service.signer)}) and an invisible "
        "watermark in the frames that survives re-encoding, halving the size and cutting. "
        "Check any file with `bin/verify FILE` (`--json` for machines); docs/provenance.md "
        "in the repository explains both."
    )


def hand_over_files(photo: gr.Image) -> gr.Image:
    """Makes `photo` give the page's function the uploaded file as it is.

    Gradio's `Image` opens every upload with PIL before the function runs, so a file that is
    not an image, or one too large to open, failed there with Gradio's generic "upstream Gradio
    app has raised an exception". Handed over as it is, it gets `bin/generate`'s message
    ("cannot read image ...") or the demo's limit. (An instance attribute, not a subclass:
    Gradio writes a .pyi file beside any module that subclasses a component.)
    """
    preprocess = photo.preprocess

    def uploaded_file(payload):
        if payload is not None and payload.path and not (payload.url or "").startswith("data:"):
            return str(payload.path)
        return preprocess(payload)  # a webcam snapshot sent inline

    photo.preprocess = uploaded_file
    return photo


def _generate_handler(service: DemoService):
    """The page's `/generate` function: the service's generation with Gradio progress, and a
    `LipsyncError` shown as a one-line message."""

    def generate(photo, speech, seed, paste_back, backend, face, progress=gr.Progress()):  # noqa: B008 (Gradio's way to ask for a progress tracker)
        progress(0, desc="finding the face")

        def on_chunk(done, total):
            progress((done, total), desc="generating", unit="frames")

        try:
            report = service.generate(
                photo,
                speech,
                seed=int(seed or 0),
                paste_back=bool(paste_back),
                backend=backend,
                face_index=None if face in (None, "largest") else int(face),
                on_chunk=on_chunk,
                warn=lambda message: gr.Warning(html.escape(message)),
            )
        except LipsyncError as error:
            # The CLI's one-line message, shown on the page; no traceback reaches the visitor.
            message = html.escape(str(error))  # Gradio renders it as HTML; file names are text
            raise gr.Error(message, title="Cannot generate", print_exception=False) from None
        return str(report.output), str(report.output)

    return generate


def _input_column(service: DemoService) -> tuple[list[gr.components.Component], gr.Button]:
    """Photo, speech and the options, in `generate`'s order, and the Generate button."""
    photo = hand_over_files(
        gr.Image(
            label="Photo with one face",
            sources=["upload", "webcam"],
            type="filepath",  # the file itself, read like bin/generate reads it
            elem_id="photo",
        )
    )
    speech = gr.Audio(
        label="Speech (wav, flac, ogg, mp3, m4a or a video's sound track)",
        sources=["upload", "microphone"],
        type="filepath",
        format=None,  # no conversion: bin/generate's loader reads the file as it is
        elem_id="speech",
    )
    with gr.Row():
        seed = gr.Number(value=0, precision=0, label="Seed", elem_id="seed")
        face = gr.Dropdown(
            ["largest", *map(str, range(MAX_FACE_CHOICE + 1))],
            value="largest",
            label="Face (as --face_index; 0 is the largest)",
            elem_id="face",
        )
    with gr.Row():
        paste_back = gr.Checkbox(
            value=True, label="Paste back into the photo", elem_id="paste-back"
        )
        backend = gr.Radio(service.backends, value="savedmodel", label="Backend", elem_id="backend")
    button = gr.Button("Generate", variant="primary", elem_id="generate")
    return [photo, speech, seed, paste_back, backend, face], button


def _result_column(service: DemoService) -> list[gr.components.Component]:
    """The video, its download button, and what visitors should know about both."""
    video = gr.Video(label="Result", buttons=["download"], elem_id="result")
    download = gr.DownloadButton("Download the mp4", elem_id="download")
    gr.Markdown(
        f"Speech up to {service.max_audio_seconds / 60:g} minutes, photos up to "
        f"{service.max_image_pixels / 1e6:g} megapixels; one generation at a time, "
        "others wait in the queue. Generated faces are synthetic: label them so."
    )
    gr.Markdown(provenance_note(service), elem_id="provenance")
    return [video, download]


def build_page(service: DemoService) -> gr.Blocks:
    """The page's layout and events; queue it with `queue_page` before launching."""
    generate = _generate_handler(service)
    with gr.Blocks(
        title="lipsync_tf: talking face from a photo and speech",
        analytics_enabled=False,
        delete_cache=(600, 3600),  # Gradio's copies of uploads and results: at most an hour old
    ) as page:
        gr.Markdown("# lipsync_tf: a photo and speech in, a talking video out")
        gr.Markdown(f"**Model** `{service.model}`: {service.summary}", elem_id="model-summary")
        with gr.Row():
            with gr.Column():
                inputs, button = _input_column(service)
            with gr.Column():
                outputs = _result_column(service)
        button.click(
            generate,
            inputs=inputs,
            outputs=outputs,
            api_name="generate",
            concurrency_limit=1,
            concurrency_id=CONCURRENCY_ID,
        )
        examples = gr.Examples(
            [[str(EXAMPLE_PHOTO), str(EXAMPLE_SPEECH)]],
            inputs=inputs[:2],
            label="Bundled example (examples/): one click generates it",
            example_labels=["still.jpg speaking speech.wav"],
        )
        # One click: fill the inputs, then generate with the options as they are set.
        examples.load_input_event.then(
            generate,
            inputs=inputs,
            outputs=outputs,
            api_visibility="private",
            concurrency_limit=1,
            concurrency_id=CONCURRENCY_ID,
        )
    return page


def queue_page(page: gr.Blocks, queue_size: int) -> gr.Blocks:
    """One generation at a time; at most `queue_size` requests wait, later ones are refused."""
    return page.queue(max_size=queue_size, default_concurrency_limit=1)
