"""`bin/generate` and `bin/redub` mains: flags -> one call, with one-line user errors."""

from __future__ import annotations

import sys

from lipsync_tf.errors import LipsyncError
from lipsync_tf.flags import FLAGS


def _summary(report) -> str:
    timing = ", ".join(f"{name} {value:.1f} s" for name, value in report.seconds.items())
    return (
        f"Wrote {report.output}: {report.frames} frames {report.width}x{report.height} at 25 fps, "
        f"{report.audio_seconds:.2f} s of audio in {report.wall_seconds:.1f} s ({timing}; "
        "pasting and encoding overlap generation)"
    )


def generate_main(argv) -> None:
    del argv
    from lipsync_tf.inference.generate import generate_video

    try:
        report = generate_video(
            FLAGS.image,
            FLAGS.audio,
            FLAGS.output,
            model=FLAGS.model,
            paste_back=FLAGS.paste_back,
            seed=FLAGS.seed,
            backend=FLAGS.backend,
            face_index=FLAGS.face_index,
            progress=FLAGS.progress,
            normalize_audio=FLAGS.normalize_audio,
            max_output_pixels=FLAGS.max_output_pixels,
        )
    except LipsyncError as error:
        print(f"bin/generate: {error}", file=sys.stderr)
        sys.exit(1)
    print(_summary(report))


def redub_main(argv) -> None:
    del argv
    from lipsync_tf.inference.redub import redub_video

    try:
        report = redub_video(
            FLAGS.video,
            FLAGS.audio,
            FLAGS.output,
            model=FLAGS.model,
            seed=FLAGS.seed,
            backend=FLAGS.backend,
            progress=FLAGS.progress,
            normalize_audio=FLAGS.normalize_audio,
        )
    except LipsyncError as error:
        print(f"bin/redub: {error}", file=sys.stderr)
        sys.exit(1)
    print(_summary(report))
