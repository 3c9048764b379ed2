"""`bin/export`'s main: flags -> `export_model`, with one-line user errors."""

from __future__ import annotations

import sys

from lipsync_tf.errors import LipsyncError
from lipsync_tf.flags import FLAGS


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
        )
    except LipsyncError as error:
        print(f"bin/export: {error}", file=sys.stderr)
        sys.exit(1)
    print(f"Exported step {result.step} to {result.version_dir}")
    for name, size in result.tflite_sizes.items():
        print(f"  {name}: {size / 1e6:.2f} MB")
