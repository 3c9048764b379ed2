"""`bin/verify` main: a file in, a verdict (or JSON) out; exit 0 marked, 1 no mark, 2 unreadable.

Like the other commands it prints its own lines only (libraries' logs with `--verbosity 1`),
and a file it cannot read is one line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import sys

from absl import flags

from lipsync_tf import console
from lipsync_tf.errors import LipsyncError
from lipsync_tf.flags import FLAGS

USAGE = "usage: bin/verify FILE [--json] [--max_seconds N]"


def define_flags() -> None:
    """bin/verify FILE: does a video carry lipsync_tf's C2PA manifest or watermark?"""
    flags.DEFINE_boolean("json", False, "Print one JSON object instead of the verdict.")
    flags.DEFINE_float(
        "max_seconds", None, "Look for the watermark in the first N seconds only (default: all)."
    )
    flags.declare_key_flag("verbosity")  # --help lists it: 1 shows the libraries' logs


def verify_main(argv) -> None:
    console.hide_library_logs(FLAGS.verbosity, keep=False)
    from lipsync_tf.provenance.verify import verify_file

    if len(argv) != 2:
        print(f"bin/verify: give exactly one video file ({USAGE}).", file=sys.stderr)
        sys.exit(2)
    try:
        report = verify_file(argv[1], FLAGS.max_seconds)
    except LipsyncError as error:
        print(f"bin/verify: {error}", file=sys.stderr)
        sys.exit(2)
    if FLAGS.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.verdict())
    sys.exit(0 if report.marked else 1)
