"""bin/evaluate: how well an exported model lip-syncs real clips, next to two baselines.

For every real clip in a directory (the layouts `bin/prepare_data` reads, cropped by the same
MediaPipe face crop), three systems are compared with the real cropped frames:

  model         the exported SavedModel driven by the clip's own audio, identity = first frame
  static_still  the first cropped frame repeated for every frame (a model that ignores audio)
  real_clip     the real frames themselves: the upper bound, and a check that the landmark-based
                metrics are sane on real speech (audio-visual offset near 0, real blink rate)

A model that does not beat `static_still` on LMD and mouth-opening correlation is not lip-syncing.
Frame 0 is the identity input, so the reference metrics (PSNR, SSIM, LMD) skip it for every system.
Metric definitions: `metrics.py` and `DEFINITIONS` below.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from lipsync_tf.audio import level
from lipsync_tf.config import IMAGE_HEIGHT, IMAGE_WIDTH
from lipsync_tf.errors import InputError, LipsyncError
from lipsync_tf.evaluation import metrics
from lipsync_tf.inference.runners import resolve_saved_model
from lipsync_tf.preprocessing.landmarks import FaceMesh

SYSTEMS = ("model", "static_still", "real_clip")
METRICS = (
    "psnr",
    "ssim",
    "psnr_mouth",
    "ssim_mouth",
    "psnr_upper",
    "cpbd",
    "lmd",
    "mouth_corr",
    "mouth_std_ratio",
    "audio_swap",
    "av_offset",
    "av_corr",
    "blinks_per_s",
    "face_fraction",
)
DEFINITIONS = {
    "psnr": "PSNR (dB) of the whole 128x96 crop vs the real crop, data range 255, MSE pooled over "
    "frames 1..T-1; higher is better",
    "ssim": "SSIM (11x11 Gaussian window, sigma 1.5) of the whole crop vs real, mean over frames "
    "1..T-1; higher is better",
    "psnr_mouth": "PSNR of the fixed mouth box, rows 56:100 x cols 16:80 of the crop",
    "ssim_mouth": "SSIM of the fixed mouth box, rows 56:100 x cols 16:80 of the crop",
    "psnr_upper": "PSNR of the upper face (eyes and brows, rows 0:52 of the crop, above the nose), "
    "which speech does not move",
    "cpbd": "CPBD sharpness (Narvekar & Karam 2011), mean over frames; higher is sharper",
    "lmd": "mouth landmark distance: mean distance of the 40 MediaPipe lip points (each set "
    "centred on its centroid) vs real, in real inter-ocular distances, frames 1..T-1; lower is "
    "better",
    "mouth_corr": "Pearson r of mouth opening (inner-lip gap 13-14 / face height 10-152) vs the "
    "real clip's; 0 for a mouth that never moves; higher is better",
    "mouth_std_ratio": "standard deviation of the mouth opening over the clip / the real clip's; "
    "0 for a mouth that never moves, about 1 for a mouth that moves as much as the real one",
    "audio_swap": "how much the lower face (rows 64:128) changes when the clip's audio is "
    "replaced by the same audio rotated by half the clip (so other speech plays at every frame), "
    "relative to the real lower face's mean change from one frame to the next; 0 for a model "
    "that ignores the audio",
    "av_offset": "lag in frames (within +-8) maximising Pearson r of mouth opening vs per-frame "
    "audio RMS energy in dB; positive = mouth moves after the sound; null when no lag correlates "
    "positively; noisy per clip, read the median over clips (av_offset_median in the summary)",
    "av_corr": "Pearson r at av_offset",
    "blinks_per_s": "eye-aspect-ratio dips below 0.8 x the clip's median, counted as events, per "
    "second",
    "face_fraction": "fraction of frames whose face-mesh face probability is >= 0.5; landmark "
    "metrics are null below 0.5",
}
# Metrics that say nothing about a system, with the reason (reported in the JSON).
NOT_MEANINGFUL = {
    "real_clip": {
        name: "real compared with itself: perfect by construction (sanity check only)"
        for name in (
            "psnr",
            "ssim",
            "psnr_mouth",
            "ssim_mouth",
            "psnr_upper",
            "lmd",
            "mouth_corr",
            "mouth_std_ratio",
        )
    }
    | {"audio_swap": "the real clip has no other audio to be driven by"},
    "static_still": {
        "av_offset": "the mouth never moves, so it has no offset",
        "av_corr": "the mouth never moves",
    },
}
FACE_SCORE_THRESHOLD = 0.5
MIN_FACE_FRACTION = 0.5
MIN_FRAMES = 3
# --audio_gain_db beyond this no longer models a recording level, only silence or clipping.
MAX_AUDIO_GAIN_DB = 40.0
AV_MAX_LAG = 8
FPS = 25
SAMPLE_RATE = 16000

Generate = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def load_generator(path: str | Path) -> Generate:
    """The SavedModel's `serving_default` as `generate(face, audio, seed)`.

    face uint8 [H, W, 3], audio float32 [S] 16 kHz -> frames uint8 [T, 128, 96, 3].
    """
    import tensorflow as tf

    directory = resolve_saved_model(path)
    try:
        serve = tf.saved_model.load(str(directory)).signatures["serving_default"]
    except (OSError, ValueError, KeyError, tf.errors.OpError) as error:
        raise InputError(
            f"cannot load the SavedModel in {directory} ({type(error).__name__}); export it again "
            "with bin/export."
        ) from error

    def generate(face: np.ndarray, audio: np.ndarray, seed: int) -> np.ndarray:
        outputs = serve(
            face=tf.constant(face, tf.uint8),
            audio=tf.constant(audio, tf.float32),
            seed=tf.constant(seed, tf.int64),
        )
        return outputs["frames"].numpy()

    return generate


def crop_clip_faces(frames: np.ndarray, detector, framing=None) -> np.ndarray | None:
    """Real frames uint8 [T, H, W, 3] -> face crops uint8 [T, 128, 96, 3], or None without a face.

    One face track through the clip, detected and smoothed exactly as `bin/prepare_data` crops
    training clips (`preprocessing.clips`); with a `face_geometry.Framing`, every window is then
    reframed by it (the clip as another cropping tool would frame it).
    """
    from lipsync_tf.face_geometry import Framing
    from lipsync_tf.preprocessing.clips import ClipOptions, detect_scaled
    from lipsync_tf.preprocessing.faces import crop_face, track_faces, window_from_array

    detections = [detect_scaled(detector, frame) for frame in frames]
    track = track_faces(detections, ClipOptions().smoothing_frames)
    if track is None:
        return None
    framing = framing or Framing()
    return np.stack(
        [
            crop_face(frame, framing.apply(window_from_array(row)))
            for frame, row in zip(frames, track.windows, strict=True)
        ]
    )


def decode_for_evaluation(
    path: str | Path, audio_path: str | Path | None, max_seconds: float | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The first `max_seconds` of a clip: frames uint8 [T, H, W, 3] at 25 fps, audio float32 [S]
    16 kHz aligned to the first frame (or None). Streams the video, so a long clip costs only
    the part that is evaluated; decoding is the one `bin/prepare_data` uses."""
    from lipsync_tf.preprocessing.video import (
        decode_audio_track,
        iter_video_frames,
        video_start_time,
    )

    limit = round(max_seconds * FPS) if max_seconds else None
    frames = np.stack(list(itertools.islice(iter_video_frames(path, FPS), limit)))
    audio = decode_audio_track(path, video_start_time(path), SAMPLE_RATE, audio_path)
    if audio is not None and limit is not None:
        audio = audio[: limit * (SAMPLE_RATE // FPS)]
    return frames, audio


@dataclasses.dataclass
class MeshLandmarks:
    points: np.ndarray  # float32 [T, 468, 3]
    valid: np.ndarray  # bool [T]


def mesh_landmarks(mesh: FaceMesh, frames: np.ndarray) -> MeshLandmarks:
    """The face mesh's points on every frame and whether it found a face there."""
    points, scores = mesh.video(frames)
    return MeshLandmarks(points, scores >= FACE_SCORE_THRESHOLD)


def _filled(series: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Series with frames lacking a face linearly interpolated from their neighbours."""
    index = np.arange(len(series))
    return np.interp(index, index[valid], series[valid])


def _system_metrics(
    frames: np.ndarray,
    found: MeshLandmarks,
    real: np.ndarray,
    real_found: MeshLandmarks,
    energy: np.ndarray,
    sharpness: float,
    audio_swap: float | None = None,
) -> dict[str, Any]:
    """All metrics of one system's `frames` vs the real crops `real` (uint8 [T, 128, 96, 3]);
    `audio_swap` is computed by the caller (it needs a second generation)."""
    values: dict[str, Any] = {
        "psnr": metrics.psnr(real[1:], frames[1:]),
        "ssim": metrics.ssim(real[1:], frames[1:]),
        "psnr_mouth": metrics.psnr(
            metrics.mouth_region(real[1:]), metrics.mouth_region(frames[1:])
        ),
        "ssim_mouth": metrics.ssim(
            metrics.mouth_region(real[1:]), metrics.mouth_region(frames[1:])
        ),
        "psnr_upper": metrics.psnr(metrics.upper_face(real[1:]), metrics.upper_face(frames[1:])),
        "cpbd": sharpness,
        "audio_swap": audio_swap,
        "face_fraction": float(np.mean(found.valid)),
    }
    landmark_names = (
        "lmd", "mouth_corr", "mouth_std_ratio", "av_offset", "av_corr", "blinks_per_s"
    )  # fmt: skip
    values.update(dict.fromkeys(landmark_names))
    both = found.valid & real_found.valid
    if np.mean(found.valid) < MIN_FACE_FRACTION or np.mean(both) < MIN_FACE_FRACTION:
        values["note"] = (
            f"landmark metrics undefined: the face mesh found a face in {np.mean(found.valid):.0%}"
            f" of these frames and {np.mean(both):.0%} together with the real frames (needs "
            f"{MIN_FACE_FRACTION:.0%})"
        )
        return values
    pairs = both[1:]
    values["lmd"] = float(
        np.mean(metrics.landmark_distance(real_found.points[1:], found.points[1:])[pairs])
    )
    opening = metrics.mouth_opening(found.points)
    real_opening = metrics.mouth_opening(real_found.points)
    values["mouth_corr"] = metrics.pearson(opening[both], real_opening[both])
    real_spread = float(np.std(real_opening[both]))
    values["mouth_std_ratio"] = (
        float(np.std(opening[both])) / real_spread if real_spread > 0 else None
    )
    lag, r = metrics.av_offset(_filled(opening, found.valid), energy, AV_MAX_LAG)
    values["av_offset"], values["av_corr"] = lag, r
    ear = _filled(metrics.eye_aspect_ratio(found.points), found.valid)
    values["blinks_per_s"] = metrics.blinks_per_second(ear, FPS)
    return values


def evaluate_clip(
    real: np.ndarray, audio: np.ndarray, generate: Generate, mesh: FaceMesh, seed: int = 0
) -> tuple[dict[str, dict[str, Any]], int]:
    """Metrics of every system on one clip.

    Args:
        real: uint8 [T, 128, 96, 3] real face crops at 25 fps.
        audio: float32 [S] the clip's audio, 16 kHz mono.
    Returns:
        ({system: {metric: value}}, frames compared). Generated and real videos are cut to the
        shorter of the two.
    """
    generated = generate(real[0], audio, seed)
    length = min(len(real), len(generated))
    if length < MIN_FRAMES:
        raise InputError(
            f"only {length} frame(s) have both video and audio; need at least {MIN_FRAMES}."
        )
    real, generated = real[:length], generated[:length]
    # The same model and seed driven by other speech: the clip's audio rotated by half its
    # length, so every frame hears different words from the same voice.
    swapped = generate(real[0], np.roll(audio, len(audio) // 2), seed)[:length]
    real_motion = metrics.lower_face_motion(real)
    swap = metrics.lower_face_change(generated, swapped) / real_motion if real_motion else None
    static = np.repeat(real[:1], length, axis=0)
    energy = metrics.log_energy(metrics.audio_energy(audio, length, SAMPLE_RATE // FPS))

    real_found = mesh_landmarks(mesh, real)
    generated_found = mesh_landmarks(mesh, generated)
    # The still's landmarks are those of frame 0 (the same image) on every frame.
    static_found = MeshLandmarks(
        np.repeat(real_found.points[:1], length, axis=0), np.repeat(real_found.valid[:1], length)
    )
    real_sharpness = metrics.video_cpbd(real)
    results = {
        "model": _system_metrics(
            generated,
            generated_found,
            real,
            real_found,
            energy,
            metrics.video_cpbd(generated),
            swap,
        ),
        "static_still": _system_metrics(
            static,
            static_found,
            real,
            real_found,
            energy,
            metrics.cpbd(real[0]),
            0.0 if real_motion else None,
        ),
        "real_clip": _system_metrics(real, real_found, real, real_found, energy, real_sharpness),
    }
    return results, length


def _json_value(value: Any) -> Any:
    """Floats JSON can hold; inf/nan become null (JSON has neither)."""
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def summarize(clips: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per system and metric: the mean over clips where it is defined, and that clip count; plus
    the median AV offset (robust to the odd clip whose estimate is off)."""
    summary: dict[str, dict[str, Any]] = {}
    for system in SYSTEMS:
        summary[system] = {}
        for name in METRICS:
            values = [clip["systems"][system][name] for clip in clips]
            defined = [v for v in values if v is not None]
            summary[system][name] = float(np.mean(defined)) if defined else None
            summary[system][f"{name}_clips"] = len(defined)
        offsets = [clip["systems"][system]["av_offset"] for clip in clips]
        offsets = [offset for offset in offsets if offset is not None]
        summary[system]["av_offset_median"] = float(np.median(offsets)) if offsets else None
    return summary


def write_report(path: str | Path, report: dict[str, Any]) -> None:
    """Strict JSON (no NaN/Infinity) written to a temp file beside `path`, then renamed."""
    path = Path(path)
    text = json.dumps(report, indent=2, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.chmod(temp, 0o644)  # mkstemp creates 0600; a report is meant to be read by others.
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def _format_number(value: Any, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


TABLE_COLUMNS = (
    ("psnr", "PSNR", 2),
    ("ssim", "SSIM", 3),
    ("psnr_mouth", "PSNRm", 2),
    ("ssim_mouth", "SSIMm", 3),
    ("psnr_upper", "PSNRup", 2),
    ("cpbd", "CPBD", 3),
    ("lmd", "LMD", 4),
    ("mouth_corr", "MouthR", 3),
    ("mouth_std_ratio", "MouthSD", 2),
    ("audio_swap", "Swap", 3),
    ("av_offset_median", "AVoff", 1),
    ("av_corr", "AVr", 3),
    ("blinks_per_s", "Blink/s", 2),
    ("face_fraction", "Face", 2),
)


def format_table(report: dict[str, Any]) -> str:
    """Rows model / static still / real clip; columns the averaged metrics."""
    header = f"{'system':<13}" + "".join(f"{title:>9}" for _, title, _ in TABLE_COLUMNS)
    lines = [header, "-" * len(header)]
    for system in SYSTEMS:
        cells = []
        for name, _, digits in TABLE_COLUMNS:
            if name.removesuffix("_median") in NOT_MEANINGFUL.get(system, {}):
                cells.append("*")
            else:
                cells.append(_format_number(report["summary"][system][name], digits))
        lines.append(f"{system:<13}" + "".join(f"{cell:>9}" for cell in cells))
    lines.append(
        f"{report['found']['evaluated']} clip(s) evaluated. LMD lower is better, the rest higher; "
        "PSNRup = eyes and brows; MouthSD = mouth-opening spread / real;\nSwap = lower-face "
        "change with other audio / real frame-to-frame change; "
        "AVoff = median offset in frames (+ = mouth late);\nFace = frames where the face mesh "
        "finds a face; "
        "'*' = not meaningful for that row, '-' = undefined (see the JSON notes)."
    )
    return "\n".join(lines)


def evaluate(
    model: str | Path,
    data: str | Path,
    layout: str = "auto",
    max_clips: int | None = None,
    output: str | Path | None = "metrics.json",
    seed: int = 0,
    progress: bool = True,
    max_seconds: float | None = 20.0,
    framing=None,
    audio_gain_db: float = 0.0,
    normalize_audio: bool = False,
    speaker_map: str | Path | dict[str, str] | None = None,
    speakers: list[str] | None = None,
) -> dict[str, Any]:
    """Evaluates the model on every clip in `data` (module docstring); returns the report.

    Clips that cannot be evaluated (no audio, no face, unreadable, too short) are listed with the
    reason. Only the first `max_seconds` of each clip are used (None: all of it). `framing`
    (`face_geometry.Framing`) crops every clip, the still and the real frames alike, as another tool
    might frame the face; None is the crop the model was trained on. `audio_gain_db` scales
    every clip's audio (clipped to [-1, 1]), as a quieter or louder recording of the same speech;
    `normalize_audio` then brings it to the model's level as `bin/generate` does (off: the audio
    reaches the model as the serving signature would get it). `speaker_map` (as for
    `bin/prepare_data`) names each clip's speaker in the report; with `speakers`, only their clips
    are evaluated (e.g. the held-out speakers of a folder that holds training speakers too).
    Raises `InputError` when nothing at all could be evaluated, after writing the report.
    """
    from lipsync_tf.face_geometry import Framing
    from lipsync_tf.preprocessing.layouts import detect_layout, find_clips, load_speaker_map

    data = Path(data)
    _check_arguments(data, layout, audio_gain_db)
    framing = framing or Framing()
    resolved_layout = detect_layout(data) if layout == "auto" else layout
    if isinstance(speaker_map, (str, Path)):
        speaker_map = load_speaker_map(speaker_map)  # a bad map fails here, in one line
    try:
        sources = find_clips(data, layout=layout, speaker_map=speaker_map)
    except InputError:
        sources = []
    if speakers:
        sources = _of_speakers(sources, speakers, data)  # before the model is loaded
    generate = load_generator(model)
    found = len(sources)
    if max_clips is not None and max_clips > 0:
        sources = sources[:max_clips]
    clips, skipped = _evaluate_sources(
        sources, generate, framing, seed, max_seconds, audio_gain_db, normalize_audio, progress
    )
    report = {
        "model": str(resolve_saved_model(model)),
        "data": str(data),
        "layout": resolved_layout,
        "seed": seed,
        "max_seconds": max_seconds,
        "framing": {"scale": framing.scale, "offset": list(framing.offset)},
        "audio_gain_db": audio_gain_db,
        "normalize_audio": normalize_audio,
        "speakers": sorted(speakers) if speakers else None,
        "found": {
            "clips": found,
            "considered": len(sources),
            "evaluated": len(clips),
            "skipped": skipped,
        },
        "summary": summarize(clips),
        "not_meaningful": NOT_MEANINGFUL,
        "definitions": DEFINITIONS,
        "clips": clips,
    }
    # Described before the report is written, which may go into `data` itself.
    why_nothing = None if clips else _why_nothing(data, resolved_layout, skipped)
    if output:
        write_report(output, report)
    if why_nothing:
        raise InputError(f"nothing evaluated: {why_nothing}")
    return report


def _of_speakers(sources: list, speakers: list[str], data: Path) -> list:
    """The clips of `speakers`; a one-line error naming what the folder holds if there are none."""
    wanted = set(speakers)
    kept = [source for source in sources if source.speaker_id in wanted]
    if sources and not kept:
        found = sorted({source.speaker_id for source in sources})
        shown = ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")
        raise InputError(
            f"no clip in {data} is by --speakers {','.join(speakers)} ({len(found)} speakers "
            f"found: {shown}); give a --speaker_map that names them."
        )
    return kept


def _evaluate_sources(
    sources, generate, framing, seed, max_seconds, audio_gain_db, normalize_audio, progress
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The report's entry of every clip evaluated, and of every clip skipped with its reason."""
    from lipsync_tf.preprocessing.faces import FaceDetector

    clips: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    mesh = FaceMesh()
    with FaceDetector() as detector:
        for source in tqdm(sources, desc="evaluating clips", unit="clip", disable=not progress):
            entry = {"clip_id": source.clip_id, "speaker_id": source.speaker_id,
                     "path": str(source.path)}  # fmt: skip
            try:
                real, audio = _real_faces_and_audio(
                    source, detector, framing, max_seconds, audio_gain_db, normalize_audio
                )
            except _ClipUnusableError as error:
                skipped.append({**entry, "reason": error.reason})
                continue
            try:
                systems, length = evaluate_clip(real, audio, generate, mesh, seed)
            except InputError as error:
                skipped.append({**entry, "reason": str(error)})
                continue
            systems = {
                system: {name: _json_value(value) for name, value in values.items()}
                for system, values in systems.items()
            }
            clips.append({**entry, "frames": length, "systems": systems})
    return clips, skipped


def _check_arguments(data: Path, layout: str, audio_gain_db: float) -> None:
    """Fails at once, naming the flag, on a data folder, layout or gain that cannot work."""
    from lipsync_tf.preprocessing.layouts import LAYOUTS

    if not data.is_dir():
        raise InputError(f"--data {data} is not a directory; give a folder of real clips.")
    if layout not in LAYOUTS:
        raise InputError(f"unknown --layout {layout!r}; use one of {', '.join(LAYOUTS)}.")
    if not -MAX_AUDIO_GAIN_DB <= audio_gain_db <= MAX_AUDIO_GAIN_DB:
        raise InputError(
            f"--audio_gain_db {audio_gain_db:g} is outside +-{MAX_AUDIO_GAIN_DB:g} dB; "
            "0 evaluates the clips' audio as recorded."
        )


class _ClipUnusableError(Exception):
    """A clip `evaluate` skips; `reason` goes into the report."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _real_faces_and_audio(source, detector, framing, max_seconds, audio_gain_db, normalize_audio):
    """The clip's face crops [n, H, W, 3] and its audio at the requested level, or
    `_ClipUnusableError` with the reason the report gives."""
    try:
        frames, audio = decode_for_evaluation(source.path, source.audio_path, max_seconds)
    except LipsyncError as error:
        raise _ClipUnusableError(str(error)) from None
    if audio is None or len(audio) == 0:
        raise _ClipUnusableError("no audio track (and no matching audio file)")
    if audio_gain_db:
        audio = np.clip(audio * 10 ** (audio_gain_db / 20), -1.0, 1.0).astype(np.float32)
    if normalize_audio:
        audio, _ = level.normalize_level(audio)
    if len(frames) < MIN_FRAMES:
        raise _ClipUnusableError(f"only {len(frames)} frame(s)")
    real = crop_clip_faces(frames, detector, framing)
    if real is None:
        raise _ClipUnusableError("no face found in any frame")
    assert real.shape[1:] == (IMAGE_HEIGHT, IMAGE_WIDTH, 3)
    return real, audio


def _why_nothing(data: Path, layout: str, skipped: list[dict[str, str]]) -> str:
    """One line: what the folder holds and why none of it was evaluated."""
    if skipped:
        reasons = "; ".join(f"{entry['clip_id']}: {entry['reason']}" for entry in skipped[:3])
        more = f" (+{len(skipped) - 3} more)" if len(skipped) > 3 else ""
        return (
            f"{len(skipped)} clip(s) found in {data} ({layout} layout), none usable: "
            f"{reasons}{more}; give talking-face videos with sound and one visible face."
        )
    entries = sorted(data.iterdir())
    files = [entry.name for entry in entries if entry.is_file()]
    folders = [entry.name + "/" for entry in entries if entry.is_dir()]
    if not entries:
        contents = "it is empty"
    else:
        names = folders + files
        examples = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
        contents = f"it holds {len(files)} file(s) and {len(folders)} folder(s) ({examples})"
    return (
        f"no videos found in {data} as the {layout} layout: {contents}; give --data a folder of "
        "talking-face videos (mp4/mpg/mov/...), or folders of them as in bin/prepare_data."
    )
