"""`bin/export`'s main: flags -> `export_model`, with one-line user errors."""

from __future__ import annotations

import sys

from absl import flags

from lipsync_tf.errors import LipsyncError
from lipsync_tf.flags import FLAGS


def define_flags() -> None:
    """bin/export: which trained model_dir to export, where, and whether to add TFLite files."""
    flags.DEFINE_string("model_dir", None, "Trained model directory (config.json + checkpoints/).")
    flags.DEFINE_string(
        "export_dir", None, "exported_models/NAME; the SavedModel goes to its next free <N>/."
    )
    flags.DEFINE_integer("version", None, "Version folder number (default: next free one).")
    flags.DEFINE_integer(
        "step", None, "Export this training step's checkpoint (default: the latest one)."
    )
    flags.DEFINE_boolean(
        "tflite", False, "Also write generator_chunk[_dynamic_range].tflite into export_dir."
    )
    flags.DEFINE_string(
        "calibration_data",
        None,
        "With --tflite: a folder of real talking-face clips (any bin/prepare_data layout) to "
        "calibrate the full-integer generator_chunk_int8.tflite on; without it no int8 file.",
    )
    flags.DEFINE_integer(
        "calibration_clips", 8, "Clips of --calibration_data to calibrate on (spread evenly)."
    )
    flags.DEFINE_float(
        "mouth_gain",
        None,
        "For a model with a mouth head: export it drawing this many times the mouth shape the "
        "head hears (default: the model config's, 1 after training). See docs/training.md and "
        "docs/model_history.md for how the shipped model's gain was chosen.",
    )
    flags.DEFINE_enum(
        "conv_dtype",
        "float32",
        ["float32", "bfloat16"],
        "What the SavedModel's convolutions multiply in. bfloat16 is about twice as fast "
        "on CPUs with AVX512-BF16 or AMX and several times slower elsewhere (a one-line warning "
        "says so when this CPU lacks them; LIPSYNC_NATIVE_BFLOAT16=1/0 overrides the "
        "detection); frames move by a few uint8 levels. TFLite files stay float32.",
    )
    flags.DEFINE_string(
        "lip_locator",
        None,
        "For a model with a mouth head: a bin/train_expert --kind lip_locator file. The "
        "SavedModel's serving_default and serve_box then move the photo's own lips to the lip "
        "shape the model hears, as bin/generate does; without it they return the decoder's "
        "frames. Better at the project's framing, much worse on crops 1.4x looser "
        "(docs/serving.md).",
    )
    flags.mark_flags_as_required(["model_dir", "export_dir"])


def main(argv) -> None:
    del argv
    from absl import logging

    from lipsync_tf.export.saved_model import export_model

    logging.set_verbosity(logging.WARNING)  # SavedModel writing logs every function at INFO

    try:
        result = export_model(
            FLAGS.model_dir,
            FLAGS.export_dir,
            FLAGS.version,
            FLAGS.tflite,
            FLAGS.step,
            calibration_data=FLAGS.calibration_data,
            calibration_clips=FLAGS.calibration_clips,
            mouth_gain=FLAGS.mouth_gain,
            conv_dtype=FLAGS.conv_dtype,
            lip_locator=FLAGS.lip_locator,
            warn=lambda notice: print(f"bin/export: warning: {notice}", file=sys.stderr),
        )
    except LipsyncError as error:
        print(f"bin/export: {error}", file=sys.stderr)
        sys.exit(1)
    print(f"Exported step {result.step} to {result.version_dir}")
    for name, size in result.tflite_sizes.items():
        print(f"  {name}: {size / 1e6:.2f} MB")
