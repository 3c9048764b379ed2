"""`bin/prepare_data`'s main: flags -> `pipeline.prepare_data`, with one-line user errors."""

from __future__ import annotations

import logging
import sys

from absl import flags

from lipsync_tf.errors import LipsyncError
from lipsync_tf.flags import FLAGS, config_from_flags, define_config_flags

# The ClipOptions fields that are flags; the rest are fixed by the model's data format.
CLIP_OPTION_FLAGS = (
    "fps",
    "detect_every",
    "image_format",
    "jpeg_quality",
    "min_seconds",
    "max_av_mismatch",
)


def define_flags() -> None:
    """bin/prepare_data: raw talking-face videos -> sharded TFRecords + manifest.json (Beam)."""
    from lipsync_tf.preprocessing.clips import ClipOptions
    from lipsync_tf.preprocessing.layouts import LAYOUTS

    flags.DEFINE_string("input_dir", None, "Folder of videos (see --layout).")
    flags.DEFINE_string("output_dir", None, "Where train.tfrecord-* shards and manifest.json go.")
    flags.DEFINE_enum(
        "layout",
        "auto",
        LAYOUTS,
        "voxceleb2 (idX/video/clip.mp4), grid (sN/*.mpg), flat (videos in the folder) or tree "
        "(videos anywhere below it).",
    )
    flags.DEFINE_string(
        "speaker_map",
        None,
        "Flat layout: JSON file stem -> speaker id (default: the stem); tree layout: clip id "
        "(path below --input_dir without suffix) -> speaker id.",
    )
    flags.DEFINE_integer("num_shards", 4, "Number of output TFRecord shards.")
    flags.DEFINE_string("runner", "DirectRunner", "Apache Beam runner.")
    flags.DEFINE_integer("direct_num_workers", 2, "DirectRunner: worker processes.")
    flags.DEFINE_enum(
        "direct_running_mode",
        "multi_processing",
        ["in_memory", "multi_threading", "multi_processing"],
        "DirectRunner: how workers run.",
    )
    flags.DEFINE_list("beam_args", [], "Extra Beam pipeline options, e.g. --beam_args=--foo=1.")
    flags.DEFINE_integer("max_clips", None, "Process at most this many clips (in listing order).")
    define_config_flags(ClipOptions, only=CLIP_OPTION_FLAGS)
    flags.DEFINE_boolean("overwrite", False, "Redo the work even if manifest.json is up to date.")
    flags.DEFINE_boolean("progress", True, "Show a progress bar.")
    flags.mark_flags_as_required(["input_dir", "output_dir"])


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
        options = config_from_flags(ClipOptions, only=CLIP_OPTION_FLAGS)
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
