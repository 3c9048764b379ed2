"""Finding the clips of a dataset folder, with the speaker of each (so splits can be by speaker).

Layouts:
    voxceleb2:  <input_dir>/idXXXXX/<video>/<clip>.mp4       speaker idXXXXX
    grid:       <input_dir>/sN/<clip>.mpg (+ optional <clip>.wav beside it)   speaker sN
    flat:       <input_dir>/<name>.<video ext> (+ optional <name>.wav)  speaker from
                `speaker_map` (file stem → speaker id), else the stem itself
    tree:       every video anywhere below <input_dir>; the clip id is its path below the
                folder without the suffix (e.g. video/00139), the speaker `speaker_map`'s entry
                for the clip id (or the stem), else the clip id: for datasets in subfolders
                whose speakers are listed apart (e.g. lrc_ar, grouped by tools/group_speakers.py)
    auto:       voxceleb2 if an idXXXXX/<video>/ folder holds videos, else grid if an sN/ folder
                does, else flat.
A sibling .wav with the same stem, when present, is used instead of the video's own sound track.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from lipsync_tf.errors import InputError

VIDEO_SUFFIXES = (".mp4", ".mpg", ".mpeg", ".avi", ".mov", ".webm", ".mkv", ".m4v")
LAYOUTS = ("auto", "voxceleb2", "grid", "flat", "tree")
_VOX_SPEAKER = re.compile(r"^id\d+$")
_GRID_SPEAKER = re.compile(r"^s\d+$")


@dataclasses.dataclass(frozen=True)
class ClipSource:
    """One input clip: its video file, an optional separate audio file, speaker and unique id."""

    path: str
    audio_path: str | None
    speaker_id: str
    clip_id: str


def _videos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def _sibling_wav(video: Path) -> str | None:
    for suffix in (".wav", ".WAV"):
        candidate = video.with_suffix(suffix)
        if candidate.is_file():
            return str(candidate)
    return None


def _voxceleb2(root: Path) -> list[ClipSource]:
    clips = []
    for speaker in sorted(p for p in root.iterdir() if p.is_dir() and _VOX_SPEAKER.match(p.name)):
        for video in sorted(p for p in speaker.iterdir() if p.is_dir()):
            for clip in _videos_in(video):
                clip_id = f"{speaker.name}/{video.name}/{clip.stem}"
                clips.append(ClipSource(str(clip), _sibling_wav(clip), speaker.name, clip_id))
    return clips


def _grid(root: Path) -> list[ClipSource]:
    clips = []
    for speaker in sorted(p for p in root.iterdir() if p.is_dir() and _GRID_SPEAKER.match(p.name)):
        for clip in _videos_in(speaker):
            clip_id = f"{speaker.name}/{clip.stem}"
            clips.append(ClipSource(str(clip), _sibling_wav(clip), speaker.name, clip_id))
    return clips


def _flat(root: Path, speaker_map: dict[str, str] | None) -> list[ClipSource]:
    speaker_map = speaker_map or {}
    return [
        ClipSource(str(clip), _sibling_wav(clip), speaker_map.get(clip.stem, clip.stem), clip.stem)
        for clip in _videos_in(root)
    ]


def _tree(root: Path, speaker_map: dict[str, str] | None) -> list[ClipSource]:
    speaker_map = speaker_map or {}
    clips = []
    for video in sorted(p for p in root.rglob("*") if p.is_file()):
        if video.suffix.lower() not in VIDEO_SUFFIXES:
            continue
        clip_id = video.relative_to(root).with_suffix("").as_posix()
        speaker = speaker_map.get(clip_id, speaker_map.get(video.stem, clip_id))
        clips.append(ClipSource(str(video), _sibling_wav(video), speaker, clip_id))
    return clips


def detect_layout(input_dir: str | Path) -> str:
    """The layout `auto` resolves to for `input_dir`."""
    root = Path(input_dir)
    if _voxceleb2(root):
        return "voxceleb2"
    if _grid(root):
        return "grid"
    return "flat"


def load_speaker_map(path: str | Path) -> dict[str, str]:
    """Reads a JSON object file-stem → speaker id (keys starting with "_" are comments)."""
    path = Path(path)
    try:
        values = json.loads(path.read_text())
    except FileNotFoundError as error:
        raise InputError(f"speaker map {path} does not exist; check --speaker_map.") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(
            f"speaker map {path} is not valid JSON ({error}); write an object "
            '{"clip_stem": "speaker_id", ...}.'
        ) from error
    if not isinstance(values, dict):
        raise InputError(f'speaker map {path} must be a JSON object {{"clip_stem": "speaker"}}.')
    return {str(k): str(v) for k, v in values.items() if not str(k).startswith("_")}


def find_clips(
    input_dir: str | Path,
    layout: str = "auto",
    speaker_map: dict[str, str] | str | Path | None = None,
) -> list[ClipSource]:
    """Every clip under `input_dir` in `layout`, sorted by clip id.

    `speaker_map` (a dict, or the path of a JSON file) names the speaker of each file stem in the
    flat layout, or of each clip id in the tree layout. Raises InputError when the folder is
    missing or holds no video.
    """
    root = Path(input_dir)
    if not root.is_dir():
        raise InputError(f"input folder {root} does not exist; check --input_dir.")
    if layout not in LAYOUTS:
        raise InputError(f"unknown layout {layout!r}; use one of {', '.join(LAYOUTS)}.")
    if isinstance(speaker_map, (str, Path)):
        speaker_map = load_speaker_map(speaker_map)
    if layout == "auto":
        layout = detect_layout(root)
    if layout == "voxceleb2":
        clips = _voxceleb2(root)
    elif layout == "grid":
        clips = _grid(root)
    elif layout == "tree":
        clips = _tree(root, speaker_map)
    else:
        clips = _flat(root, speaker_map)
    if not clips:
        raise InputError(
            f"no {layout}-layout videos ({'/'.join(s[1:] for s in VIDEO_SUFFIXES)}) found in "
            f"{root}; check --input_dir and --layout."
        )
    return sorted(clips, key=lambda clip: clip.clip_id)
