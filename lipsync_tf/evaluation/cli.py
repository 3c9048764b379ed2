"""`bin/evaluate`'s main: flags -> `evaluate`, a table on stdout, one-line user errors."""

from __future__ import annotations

import sys

from lipsync_tf.errors import InputError, LipsyncError
from lipsync_tf.flags import FLAGS


def main(argv) -> None:
    del argv
    from absl import logging

    from lipsync_tf.evaluation.evaluate import evaluate, format_table
    from lipsync_tf.preprocessing.faces import Framing

    logging.set_verbosity(logging.WARNING)
    try:
        framing = Framing(FLAGS.crop_scale, _offset(FLAGS.crop_offset))
        report = evaluate(
            FLAGS.model,
            FLAGS.data,
            layout=FLAGS.layout,
            max_clips=FLAGS.max_clips,
            output=FLAGS.output,
            seed=FLAGS.seed,
            progress=FLAGS.progress,
            max_seconds=FLAGS.max_seconds or None,
            framing=framing,
            audio_gain_db=FLAGS.audio_gain_db,
            normalize_audio=FLAGS.normalize_audio,
        )
    except LipsyncError as error:
        print(f"bin/evaluate: {error}", file=sys.stderr)
        sys.exit(1)
    print(format_table(report))
    skipped = report["found"]["skipped"]
    for entry in skipped:
        print(f"skipped {entry['clip_id']}: {entry['reason']}")
    if FLAGS.output:
        print(f"Wrote {FLAGS.output}")


def _offset(values: list[str]) -> tuple[float, ...]:
    """--crop_offset's "x,y" as numbers; `Framing` checks how many and how large."""
    try:
        return tuple(float(value) for value in values)
    except ValueError:
        message = f"--crop_offset {','.join(values)!r} must be two numbers, e.g. 0.05,0."
        raise InputError(message) from None
