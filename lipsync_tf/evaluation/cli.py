"""`bin/evaluate`'s main: flags -> `evaluate`, a table on stdout, one-line user errors."""

from __future__ import annotations

import sys

from lipsync_tf.errors import LipsyncError
from lipsync_tf.flags import FLAGS


def main(argv) -> None:
    del argv
    from absl import logging

    from lipsync_tf.evaluation.evaluate import evaluate, format_table

    logging.set_verbosity(logging.WARNING)
    try:
        report = evaluate(
            FLAGS.model,
            FLAGS.data,
            layout=FLAGS.layout,
            max_clips=FLAGS.max_clips,
            output=FLAGS.output,
            seed=FLAGS.seed,
            progress=FLAGS.progress,
            max_seconds=FLAGS.max_seconds or None,
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
