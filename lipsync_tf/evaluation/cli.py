"""`bin/evaluate`'s main: flags -> `evaluate`, a table on stdout, one-line user errors."""

from __future__ import annotations

import sys

from absl import flags

from lipsync_tf.errors import InputError, LipsyncError
from lipsync_tf.flags import FLAGS


def define_flags() -> None:
    """bin/evaluate: an exported model vs the static-still and real-clip baselines on real clips."""
    from lipsync_tf.preprocessing.layouts import LAYOUTS

    flags.DEFINE_string(
        "model", None, "exported_models/NAME (highest version) or exported_models/NAME/N."
    )
    flags.DEFINE_string("data", None, "Folder of real talking-face clips (prepare_data layouts).")
    flags.DEFINE_enum("layout", "auto", LAYOUTS, "Folder layout, as for bin/prepare_data.")
    flags.DEFINE_integer("max_clips", None, "Evaluate at most this many clips (in listing order).")
    flags.DEFINE_string("output", "metrics.json", "JSON report: per-clip and averaged metrics.")
    flags.DEFINE_integer("seed", 0, "Model noise seed: the same seed gives the same numbers.")
    flags.DEFINE_float("max_seconds", 20.0, "Evaluate the first N seconds of each clip (0: all).")
    flags.DEFINE_boolean("progress", True, "Show a progress bar over clips.")
    flags.DEFINE_float(
        "crop_scale",
        1.0,
        "Frame every clip as another face-cropping tool might: the crop window times this "
        "(above 1 looser, the face smaller; 0.5-1.5). 1: the crop the model was trained on.",
    )
    flags.DEFINE_list(
        "crop_offset",
        ["0", "0"],
        "x,y: move the crop window's centre by these fractions of its width and height "
        "(right and down positive; each within 0.25).",
    )
    flags.DEFINE_float(
        "audio_gain_db",
        0.0,
        "Scale every clip's audio by this many dB (clipped), as a quieter (negative) or louder "
        "recording of the same speech. 0: as recorded.",
    )
    flags.DEFINE_boolean(
        "normalize_audio",
        False,
        "Then bring each clip's speech to the model's level, as bin/generate and bin/redub do. "
        "Off: the audio reaches the model as given, as through the serving signature.",
    )
    flags.DEFINE_string(
        "speaker_map",
        None,
        "JSON clip -> speaker id, as for bin/prepare_data (flat layout: file stem; tree: path "
        "below --data without suffix), e.g. configs/data/lrc_ar_speakers.json. The report then "
        "names each clip's speaker.",
    )
    flags.DEFINE_list(
        "speakers",
        None,
        "Evaluate only the clips of these speaker ids (comma-separated; with --speaker_map "
        "unless the folder's layout names speakers), e.g. the held-out anchors.",
    )
    flags.mark_flags_as_required(["model", "data"])


def main(argv) -> None:
    del argv
    from absl import logging

    from lipsync_tf.evaluation.evaluate import evaluate, format_table
    from lipsync_tf.face_geometry import Framing

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
            speaker_map=FLAGS.speaker_map,
            speakers=FLAGS.speakers,
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
