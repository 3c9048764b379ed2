"""Writing small real video files with PyAV for the preprocessing tests."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


def write_video(
    path: Path,
    frames: np.ndarray,
    fps: float = 25,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
    codec: str = "libx264",
) -> Path:
    """Encodes RGB uint8 [T, H, W, 3] frames (and float32 [S] mono audio) into `path`."""
    height, width = frames.shape[1:3]
    with av.open(str(path), "w") as container:
        video = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            video.options = {"crf": "12", "preset": "veryfast"}
        sound = None
        if audio is not None:
            sound = container.add_stream("aac", rate=sample_rate, layout="mono")
        for image in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if sound is not None:
            for start in range(0, len(audio), 1024):
                chunk = np.ascontiguousarray(audio[None, start : start + 1024], np.float32)
                frame = av.AudioFrame.from_ndarray(chunk, "fltp", "mono")
                frame.sample_rate = sample_rate
                for packet in sound.encode(frame):
                    container.mux(packet)
            for packet in sound.encode(None):
                container.mux(packet)
    return path


def tone(seconds: float, sample_rate: int = 16000, freq: float = 220.0) -> np.ndarray:
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def moving_gradient(num_frames: int, height: int = 240, width: int = 320) -> np.ndarray:
    """A colour gradient sliding sideways: texture and motion, but no face."""
    x = np.arange(width)[None, :]
    y = np.arange(height)[:, None]
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for index in range(num_frames):
        frames[index, ..., 0] = (x + 4 * index) % 256
        frames[index, ..., 1] = (y * 255 // height).astype(np.uint8)
        frames[index, ..., 2] = 128
    return frames


def no_face_clip(path: Path, seconds: float = 2.0) -> Path:
    """A moving gradient with a sine tone: a valid clip with sound and no face."""
    return write_video(path, moving_gradient(round(seconds * 25)), 25, tone(seconds))


def far_away_clip(path: Path, grid_clip) -> Path:
    """A decoded 360x288 GRID clip shrunk to 80x64: MediaPipe still finds the face, but only
    28 px wide, under the 32 px minimum."""
    small = [
        cv2.resize(frame, (80, 64), interpolation=cv2.INTER_AREA) for frame in grid_clip.frames
    ]
    return write_video(path, np.stack(small), 25, grid_clip.audio)
