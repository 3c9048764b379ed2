"""`bin/generate` and `bin/redub` mains: flags -> options -> one call, run by `console`.

So a run prints its own lines only (progress bar, the "Wrote ..." summary; library logs with
`--verbosity 1`), and any failure is one line: a user error exits 1, Ctrl-C 130, SIGTERM 143.
"""

from __future__ import annotations

from absl import flags

from lipsync_tf import console
from lipsync_tf.flags import FLAGS, config_from_flags, define_config_flags


def _define_files(source: str, source_help: str) -> None:
    flags.DEFINE_string(source, None, source_help)
    flags.DEFINE_string("audio", None, "Speech: wav/flac/mp3/m4a or a video's audio track.")
    flags.DEFINE_string("output", None, "The mp4 to write (H.264 + AAC, 25 fps); see --overwrite.")
    flags.mark_flags_as_required([source, "audio", "output"])
    flags.declare_key_flag("verbosity")  # --help lists it: 1 shows the libraries' logs


def define_generate_flags() -> None:
    """bin/generate: photo + speech -> talking-face mp4."""
    from lipsync_tf.inference.generate import GenerateOptions
    from lipsync_tf.provenance.marks import ProvenanceOptions

    _define_files("image", "Photo with a face: jpg/png/webp/bmp, any size.")
    define_config_flags(GenerateOptions)
    define_config_flags(ProvenanceOptions)


def define_redub_flags() -> None:
    """bin/redub: a video of a speaker + new speech -> the speaker saying the new speech."""
    from lipsync_tf.inference.generate import InferenceOptions
    from lipsync_tf.provenance.marks import ProvenanceOptions

    _define_files("video", "Video of one speaker (any container PyAV reads).")
    define_config_flags(InferenceOptions)
    define_config_flags(ProvenanceOptions)


def _summary(report) -> str:
    timing = ", ".join(f"{name} {value:.1f} s" for name, value in report.seconds.items())
    summary = (
        f"Wrote {report.output}: {report.frames} frames {report.width}x{report.height} at 25 fps, "
        f"{report.audio_seconds:.2f} s of audio in {report.wall_seconds:.1f} s with the "
        f"{report.backend} backend{_motion(report)} ({timing}; pasting and encoding overlap "
        "generation)"
    )
    if report.passed_through:
        summary += f"; {report.passed_through} frames without a face passed through as they were"
    return summary


def _motion(report) -> str:
    """bin/generate's summary names the --mouth_motion that ran (bin/redub's report has none)."""
    return f" and --mouth_motion {report.mouth_motion}" if report.mouth_motion else ""


def _make_video(make, options_type, source: str, tool: str) -> str:
    """`make` (generate_video or redub_video) run on `source` and --audio with the options and
    provenance the flags say; the one-line summary of what it wrote."""
    from lipsync_tf.provenance.marks import ProvenanceOptions

    options, warn = config_from_flags(options_type), console.notice(tool)
    report = make(
        source, FLAGS.audio, FLAGS.output, options,
        provenance=config_from_flags(ProvenanceOptions), warn=warn,
    )  # fmt: skip
    return _summary(report)


def _generate() -> str:
    from lipsync_tf.inference.generate import GenerateOptions, generate_video

    return _make_video(generate_video, GenerateOptions, FLAGS.image, "bin/generate")


def _redub() -> str:
    from lipsync_tf.inference.generate import InferenceOptions
    from lipsync_tf.inference.redub import redub_video

    return _make_video(redub_video, InferenceOptions, FLAGS.video, "bin/redub")


def generate_main(argv) -> None:
    del argv
    console.run_command("bin/generate", _generate, FLAGS.verbosity)


def redub_main(argv) -> None:
    del argv
    console.run_command("bin/redub", _redub, FLAGS.verbosity)
