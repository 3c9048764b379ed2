"""Decoding talking-face videos (PyAV): RGB frames at 25 fps and the sound track at 16 kHz mono.

Frame-rate conversion picks, for each output frame time `i / fps`, the source frame that is on
screen at that time (the last one whose timestamp is not after it), so a 30 fps clip drops frames
and a 22 fps clip repeats some, and lips stay in sync with the audio. Times are measured from the
first video frame; the audio is shifted by its own start time relative to that frame.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lipsync_tf.audio.io import decode_audio_stream_timed, load_waveform, to_mono_at_rate
from lipsync_tf.errors import InputError

DEFAULT_FPS = 25
DEFAULT_SAMPLE_RATE = 16000
# Two timestamps closer than this are the same instant (absorbs time-base rounding).
_TIME_EPSILON = 1e-4


@dataclasses.dataclass
class DecodedClip:
    """A decoded clip.

    Attributes:
        frames: uint8 [T, H, W, 3] RGB at `fps`.
        audio: float32 [S] mono at `sample_rate` aligned to the first frame, or None (no audio).
        fps: frame rate of `frames`.
        sample_rate: sample rate of `audio`.
        source_fps: the file's own frame rate.
        source_size: (H, W) of the source frames.
        path: the decoded file.
    """

    frames: np.ndarray
    audio: np.ndarray | None
    fps: float
    sample_rate: int
    source_fps: float
    source_size: tuple[int, int]
    path: str

    @property
    def duration(self) -> float:
        return len(self.frames) / self.fps


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What `probe_video` learns from a file's headers without decoding it."""

    source_fps: float
    num_frames: int  # estimate at 25 fps (or the `fps` asked for)
    size: tuple[int, int]  # (H, W)
    duration: float  # seconds
    has_audio: bool

    def __iter__(self):  # unpacks as the tuple (source_fps, num_frames, size, duration, has_audio)
        return iter(dataclasses.astuple(self))


def _open(path: str | Path):
    import av

    path = Path(path)
    if not path.is_file():
        raise InputError(f"video file {path} does not exist; check the path.")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as error:
        raise InputError(
            f"cannot decode video file {path} ({_reason(error)}); give an mp4/mpg/avi/mov/webm "
            "file that plays."
        ) from error
    if not container.streams.video:
        container.close()
        raise InputError(f"{path} has no video stream; give a video of a talking face.")
    return container


def _reason(error: Exception) -> str:
    """FFmpeg's words for a decoding error ("Invalid data found when processing input"), without
    its errno number and the path the message already names."""
    return getattr(error, "strerror", None) or type(error).__name__


def _stream_fps(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else float(DEFAULT_FPS)


def probe_video(path: str | Path, fps: float = DEFAULT_FPS) -> VideoInfo:
    """(source_fps, num_frames at `fps` (estimate), (H, W), duration_seconds, has_audio) from the
    container headers. Raises InputError for a missing or unreadable file."""
    with _open(path) as container:
        stream = container.streams.video[0]
        source_fps = _stream_fps(stream)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        elif stream.frames:
            duration = stream.frames / source_fps
        else:
            duration = 0.0
        size = (stream.codec_context.height, stream.codec_context.width)
        return VideoInfo(
            source_fps=source_fps,
            num_frames=round(duration * fps),
            size=size,
            duration=duration,
            has_audio=bool(container.streams.audio),
        )


def _timed_video_frames(container, path) -> Iterator[tuple[float, object]]:
    """(seconds, av.VideoFrame) in presentation order; decode errors after the first frame end
    the stream (keeps what was readable of a truncated file)."""
    import av

    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    source_fps = _stream_fps(stream)
    count = 0
    try:
        for frame in container.decode(stream):
            time = frame.time if frame.time is not None else count / source_fps
            count += 1
            yield float(time), frame
    except av.FFmpegError as error:
        if count == 0:
            raise InputError(
                f"cannot decode video file {path} ({_reason(error)}); give an mp4/mpg/avi/mov/"
                "webm file that plays."
            ) from error


def _resample_times(
    timed_frames: Iterator[tuple[float, object]], fps: float, source_fps: float
) -> Iterator[tuple[float, object]]:
    """For each output time i / fps (from the first frame), the source frame shown then."""
    start = None
    previous = None
    previous_time = 0.0
    index = 0
    for time, frame in timed_frames:
        if start is None:
            start = time
        if previous is not None and time < previous_time:
            continue  # out-of-order timestamp from a damaged file: drop it
        while previous is not None and time - start > index / fps + _TIME_EPSILON:
            yield start, previous
            index += 1
        previous, previous_time = frame, time
    if previous is None:
        return
    # The last frame stays on screen for one source frame period.
    end = previous_time - start + 1.0 / source_fps
    while index / fps < end - _TIME_EPSILON:
        yield start, previous
        index += 1


def iter_video_frames(path: str | Path, fps: float = DEFAULT_FPS) -> Iterator[np.ndarray]:
    """Yields RGB uint8 [H, W, 3] frames at `fps`, one at a time (constant memory).

    Raises InputError when the file is missing or no frame can be decoded.
    """
    with _open(path) as container:
        source_fps = _stream_fps(container.streams.video[0])
        yielded = False
        frames = _resample_times(_timed_video_frames(container, path), fps, source_fps)
        last_frame, last_rgb = None, None
        for _, frame in frames:
            if frame is not last_frame:  # a repeated frame is converted once
                last_frame, last_rgb = frame, frame.to_ndarray(format="rgb24")
            yielded = True
            yield last_rgb
        if not yielded:
            raise InputError(f"video file {path} contains no frames; give a video that plays.")


def video_start_time(path: str | Path) -> float:
    """Timestamp (seconds) of the first decodable video frame; audio is aligned to it."""
    with _open(path) as container:
        for time, _ in _timed_video_frames(container, path):
            return time
    raise InputError(f"video file {path} contains no frames; give a video that plays.")


def decode_audio_track(
    path: str | Path,
    video_start: float,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    audio_path: str | Path | None = None,
) -> np.ndarray | None:
    """The clip's audio as float32 [S] mono at `sample_rate`, starting at the first video frame.

    From `audio_path` when given (taken to start with the video), else from the video file's own
    sound track (shifted by its start time relative to `video_start`). None when there is none.
    """
    import av

    if audio_path is not None:
        return load_waveform(audio_path, sample_rate)
    with _open(path) as container:
        if not container.streams.audio:
            return None
        try:
            audio, rate, audio_start = decode_audio_stream_timed(
                container, container.streams.audio[0]
            )
        except av.FFmpegError:
            return None
    if audio.shape[0] == 0:
        return None
    waveform = to_mono_at_rate(audio, rate, sample_rate)
    offset = round(((audio_start or video_start) - video_start) * sample_rate)
    if offset > 0:  # audio starts after the first frame: silence until then
        waveform = np.concatenate([np.zeros(offset, np.float32), waveform])
    elif offset < 0:
        waveform = waveform[-offset:]
    return waveform


def decode_clip(
    path: str | Path,
    fps: float = DEFAULT_FPS,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    audio_path: str | Path | None = None,
) -> DecodedClip:
    """Decodes a whole clip into memory: frames at `fps` and mono audio at `sample_rate`.

    `audio_path` (e.g. GRID's sibling .wav) replaces the file's own sound track. Raises InputError
    for a missing or undecodable file.
    """
    clip = decode_clip_unstacked(path, fps, sample_rate, audio_path)
    clip.frames = np.stack(clip.frames)
    return clip


def decode_clip_unstacked(
    path: str | Path,
    fps: float = DEFAULT_FPS,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    audio_path: str | Path | None = None,
) -> DecodedClip:
    """`decode_clip` with `frames` left as a list of uint8 [H, W, 3] arrays.

    Saves copying every frame into one array (for long high-resolution clips that copy costs
    about as much as decoding, most of it in first-touch page faults).
    """
    with _open(path) as container:
        stream = container.streams.video[0]
        source_fps = _stream_fps(stream)
        frames: list[np.ndarray] = []
        video_start = None
        last_frame, last_rgb = None, None
        timed = _resample_times(_timed_video_frames(container, path), fps, source_fps)
        for start, frame in timed:
            video_start = start
            if frame is not last_frame:
                last_frame, last_rgb = frame, frame.to_ndarray(format="rgb24")
            frames.append(last_rgb)
    if not frames:
        raise InputError(f"video file {path} contains no frames; give a video that plays.")
    audio = decode_audio_track(path, video_start or 0.0, sample_rate, audio_path)
    return DecodedClip(
        frames=frames,
        audio=audio,
        fps=float(fps),
        sample_rate=sample_rate,
        source_fps=source_fps,
        source_size=tuple(frames[0].shape[:2]),
        path=str(path),
    )
