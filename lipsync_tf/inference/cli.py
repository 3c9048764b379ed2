"""`bin/generate` and `bin/redub` mains: flags -> one call, with one-line user errors."""

from __future__ import annotations

import sys

from absl import flags

from lipsync_tf.errors import LipsyncError
from lipsync_tf.flags import FLAGS


def _define_inference_flags(seed_help: str) -> None:
    flags.DEFINE_string("audio", None, "Speech: wav/flac/mp3/m4a or a video's audio track.")
    flags.DEFINE_string("output", None, "The mp4 to write (H.264 + AAC, 25 fps).")
    flags.DEFINE_string(
        "model",
        "exported_models/lipsync",
        "exported_models/NAME (highest version) or exported_models/NAME/N.",
    )
    flags.DEFINE_enum(
        "backend",
        "savedmodel",
        ["savedmodel", "tflite", "tflite_dynamic_range", "tflite_int8"],
        "Run the SavedModel, or the (quantised) TFLite file beside it.",
    )
    flags.DEFINE_integer("seed", 0, seed_help)
    flags.DEFINE_boolean("progress", True, "Show a progress bar.")
    flags.DEFINE_boolean(
        "normalize_audio",
        True,
        "Bring the speech to the level the model was trained at (-16 dBFS) before the model "
        "hears it; the video keeps the audio as recorded. --nonormalize_audio: as recorded.",
    )


def define_generate_flags() -> None:
    """bin/generate: photo + speech -> talking-face mp4."""
    from lipsync_tf.inference.media import MAX_OUTPUT_PIXELS

    flags.DEFINE_string("image", None, "Photo with a face: jpg/png/webp/bmp, any size.")
    _define_inference_flags(
        "Noise seed: the same seed gives the same frames (x264 may encode them a level apart)."
    )
    flags.DEFINE_integer(
        "face_index", None, "Which face to use when there are several (0 = largest)."
    )
    flags.DEFINE_boolean(
        "paste_back", True, "Blend the face back into the full photo (else output the crop)."
    )
    flags.DEFINE_integer(
        "max_output_pixels",
        MAX_OUTPUT_PIXELS,
        "Scale a larger photo down to this many pixels (width x height), keeping its shape, "
        "before everything else; the video has that size. The default, the area of 1080p, plays "
        "in every player and encodes about 4x faster than a 12-megapixel photo at full size. 0: "
        "the photo's own size.",
        lower_bound=0,
    )
    flags.mark_flags_as_required(["image", "audio", "output"])


def define_redub_flags() -> None:
    """bin/redub: a video of a speaker + new speech -> the speaker saying the new speech."""
    flags.DEFINE_string("video", None, "Video of one speaker (any container PyAV reads).")
    _define_inference_flags(
        "Noise seed: the same seed gives the same frames (x264 may encode them a level apart)."
    )
    flags.mark_flags_as_required(["video", "audio", "output"])


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
