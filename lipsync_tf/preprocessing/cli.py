"""`bin/prepare_data`'s main: flags -> `pipeline.prepare_data`, with one-line user errors."""

from __future__ import annotations

import logging
import sys

from lipsync_tf.errors import LipsyncError
from lipsync_tf.flags import FLAGS


def main(argv) -> None:
    del argv
    # Beam logs every bundle at INFO; the progress bar and the summary line are what users need.
    logging.getLogger().setLevel(logging.ERROR)
    import apache_beam  # noqa: F401  (its import warns about optional GCP clients we do not use)

    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    from lipsync_tf.preprocessing.clips import ClipOptions
    from lipsync_tf.preprocessing.pipeline import prepare_data

    try:
        options = ClipOptions(
            fps=FLAGS.fps,
            detect_every=FLAGS.detect_every,
            image_format=FLAGS.image_format,
            jpeg_quality=FLAGS.jpeg_quality,
            min_seconds=FLAGS.min_seconds,
            max_av_mismatch=FLAGS.max_av_mismatch,
        )
        if options.detect_every < 1:
            raise LipsyncError(f"--detect_every must be at least 1, not {options.detect_every}.")
        if not 1 <= options.jpeg_quality <= 100:
            raise LipsyncError(f"--jpeg_quality must be in 1..100, not {options.jpeg_quality}.")
        prepare_data(
            FLAGS.input_dir,
            FLAGS.output_dir,
            layout=FLAGS.layout,
            speaker_map=FLAGS.speaker_map,
            num_shards=FLAGS.num_shards,
            options=options,
            runner=FLAGS.runner,
            direct_num_workers=FLAGS.direct_num_workers,
            direct_running_mode=FLAGS.direct_running_mode,
            beam_args=FLAGS.beam_args,
            max_clips=FLAGS.max_clips,
            overwrite=FLAGS.overwrite,
            progress=FLAGS.progress,
        )
    except LipsyncError as error:
        print(f"bin/prepare_data: {error}", file=sys.stderr)
        sys.exit(1)
