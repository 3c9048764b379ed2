"""The inputs a user may get wrong, made as real files, and the one line each must get.

Shared by the matrix tests of `bin/generate`, `bin/redub` (tests/inference/test_bad_inputs.py)
and the web page (tests/demo/test_bad_inputs.py), so the page is held to the CLI's words: the
messages are regular expressions that match the CLI's line (full paths) and the page's (the
uploaded file's name).
"""

from __future__ import annotations

import dataclasses
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import soundfile
from PIL import Image

from lipsync_tf.inference.media import Mp4Writer, load_image

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "examples" / "still.jpg"  # 224x224, one face
SPEECH = REPO / "examples" / "speech.wav"  # 16 kHz mono, 5.25 s
TWO_FACES_OTHER = "stills/vox2_pcavs_still_581600416.jpg"


@dataclasses.dataclass(frozen=True)
class Input:
    """How to make one input file in a folder (from the shared data) and what it must give:
    `message` (a regular expression) for a refused input, None for one that works, which may
    give one `notice`. `slow` inputs need the face detector, after TensorFlow's import."""

    make: Callable[[Path, Path], Path]
    message: str | None
    slow: bool = False
    notice: str | None = None


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def image(path: Path, rgb: np.ndarray) -> Path:
    Image.fromarray(rgb).save(path)
    return path


def wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    soundfile.write(path, samples.astype(np.float32), rate)
    return path


def bomb_png(path: Path, width: int = 14000, height: int = 13000) -> Path:
    """A valid, all-black PNG of width x height (182 megapixels in 0.5 MB at the default size),
    written row by row so that making it takes no memory."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    compressor = zlib.compressobj(9)
    row = bytes(1 + 3 * width)  # filter byte 0, then black RGB pixels
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    return write(path, png)


def two_faces(folder: Path, data: Path) -> Path:
    still = load_image(PHOTO)
    other = cv2.resize(load_image(data / TWO_FACES_OTHER), (160, 160))
    column = np.zeros((224, 160, 3), np.uint8)
    column[32:192] = other
    return image(folder / "two_faces.png", np.concatenate([still, column], axis=1))


def far_face(folder: Path, data: Path) -> Path:
    """A real face about 24 px wide."""
    people = load_image(data / "stills/sadtalker_people_0.png")
    return image(folder / "far.png", cv2.resize(people, (64, 64), interpolation=cv2.INTER_AREA))


def large_photo(folder: Path, data: Path) -> Path:
    """The example's face in a 6000x4000 (24-megapixel) picture."""
    face = cv2.resize(load_image(PHOTO), (1800, 1800))
    canvas = cv2.copyMakeBorder(
        face, 1200, 1000, 2100, 2100, cv2.BORDER_CONSTANT, value=(90, 110, 130)
    )
    return image(folder / "large.jpg", canvas)


def silent_video(path: Path) -> Path:
    """A real picture as a 1 s mp4 with no sound track."""
    frame = load_image(PHOTO)
    with Mp4Writer(path, frame.shape[1], frame.shape[0], audio_rate=None) as writer:
        for _ in range(25):
            writer.write_frame(frame)
    return path


def speech_samples() -> tuple[np.ndarray, int]:
    samples, rate = soundfile.read(SPEECH, dtype="float32")
    return samples, rate


PHOTOS = {
    "missing_image": Input(lambda d, s: d / "nowhere.jpg", r"image \S*nowhere.jpg does not exist"),
    "image_is_a_folder": Input(
        lambda d, s: (d / "photos").mkdir() or d / "photos", r"image \S*photos is a folder"
    ),
    "zero_byte_image": Input(
        lambda d, s: write(d / "empty.jpg", b""), r"image \S*empty.jpg is empty \(0 bytes\)"
    ),
    "text_named_jpg": Input(
        lambda d, s: write(d / "notes.jpg", b"shopping list: milk, eggs\n" * 40),
        r"cannot read image \S*notes.jpg \(UnidentifiedImageError\); give a jpg, png",
    ),
    "truncated_jpeg": Input(
        lambda d, s: write(d / "cut.jpg", PHOTO.read_bytes()[:600]),
        r"cannot read image \S*cut.jpg \(OSError\)",
    ),
    "decompression_bomb": Input(
        lambda d, s: bomb_png(d / "bomb.png"), r"\S*bomb.png is 182.0 megapixels, more than"
    ),
    "one_pixel_image": Input(
        lambda d, s: image(d / "dot.png", np.zeros((1, 1, 3), np.uint8)),
        r"image \S*dot.png is 1x1 pixels; give a photo of a face",
    ),
    "no_face": Input(
        lambda d, s: image(d / "wall.png", np.full((200, 300, 3), 128, np.uint8)),
        r"No face found in \S*wall.png; use a photo with one clearly visible face",
        slow=True,
    ),
    "face_too_small": Input(far_face, r"The face in \S*far.png is only \d+ px wide", slow=True),
    "two_faces": Input(  # works: the largest face, with a notice
        two_faces, None, slow=True, notice=r"two_faces.png has 2 faces; using the largest"
    ),
    "large_photo": Input(large_photo, None, slow=True),  # works: scaled to the area of 1080p
}

SPEECHES = {
    "missing_audio": Input(lambda d, s: d / "nowhere.wav", r"audio file \S*nowhere.wav does not"),
    "zero_byte_audio": Input(
        lambda d, s: write(d / "empty.wav", b""), r"audio file \S*empty.wav is empty \(0 bytes\)"
    ),
    "truncated_audio": Input(  # cut inside the wav header
        lambda d, s: write(d / "cut.wav", SPEECH.read_bytes()[:30]),
        r"cannot decode audio file \S*cut.wav \(Invalid data found when processing input\)",
    ),
    "header_only_audio": Input(
        lambda d, s: wav(d / "header.wav", np.zeros(0)), r"audio file \S*header.wav contains no"
    ),
    "text_named_wav": Input(
        lambda d, s: write(d / "notes.wav", b"not a recording\n" * 50),
        r"cannot decode audio file \S*notes.wav \(Invalid data found",
    ),
    "silence": Input(
        lambda d, s: wav(d / "silence.wav", np.zeros(16000)),
        r"audio file \S*silence.wav is silent \(all zeros\)",
    ),
    "shorter_than_a_frame": Input(
        lambda d, s: wav(d / "blip.wav", speech_samples()[0][8000:8300]),
        r"audio file \S*blip.wav is 19 ms long, shorter than one video frame",
    ),
    "no_audio_stream": Input(
        lambda d, s: silent_video(d / "mute.mp4"), r"\S*mute.mp4 has no audio stream"
    ),
}


def copy(source: Path, folder: Path, name: str | None = None) -> Path:
    return Path(shutil.copy(source, folder / (name or source.name)))


def snapshot(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every file and folder under `folder`, hidden ones included: (size, mtime, mode)."""
    return {
        str(path.relative_to(folder)): (path.lstat().st_size, path.lstat().st_mtime_ns,
                                        path.lstat().st_mode)
        for path in sorted(folder.rglob("*"))
    }  # fmt: skip
