"""Loading speech audio as the mono 16 kHz float32 waveform the models expect (Python side).

wav/flac/ogg are read with soundfile; everything else (mp3, m4a/aac, and the audio track of a video
file: mp4, mpg, mov, webm, avi, ...) is decoded with PyAV, which bundles its own libav, so no system
ffmpeg is needed. Either way the result is downmixed to mono and resampled with soxr.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import soundfile
import soxr

from lipsync_tf.errors import InputError
from lipsync_tf.files import check_input_file

# Suffixes libsndfile reads; anything else goes straight to PyAV.
_SOUNDFILE_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".au", ".snd"}


def to_mono_at_rate(audio: np.ndarray, file_rate: int, sample_rate: int) -> np.ndarray:
    """float32 [samples, channels] at `file_rate` → float32 [samples] mono at `sample_rate`."""
    mono = audio.mean(axis=1, dtype=np.float32) if audio.ndim == 2 else audio
    if file_rate != sample_rate:
        mono = soxr.resample(mono, file_rate, sample_rate, quality="HQ")
    return np.clip(mono.astype(np.float32, copy=False), -1.0, 1.0)


def decode_audio_stream(container, stream) -> tuple[np.ndarray, int]:
    """Decodes one PyAV audio `stream` of an open `container`.

    Returns (float32 [samples, channels], sample rate). Packet errors past the first decoded frame
    end the stream (a truncated file keeps the audio before the damage).
    """
    audio, rate, _ = decode_audio_stream_timed(container, stream)
    return audio, rate


def decode_audio_stream_timed(container, stream) -> tuple[np.ndarray, int, float | None]:
    """Like `decode_audio_stream`, also returning the first sample's time in seconds (or None)."""
    import av

    resampler = av.AudioResampler(format="fltp")  # float planar, same layout and rate
    chunks: list[np.ndarray] = []
    rate = stream.codec_context.sample_rate or stream.rate
    start = None
    try:
        for frame in container.decode(stream):
            rate = frame.sample_rate
            if start is None and frame.time is not None:
                start = float(frame.time)
            for converted in resampler.resample(frame):
                chunks.append(converted.to_ndarray())
    except av.FFmpegError:
        if not chunks:
            raise
    for converted in resampler.resample(None):
        chunks.append(converted.to_ndarray())
    if not chunks:
        return np.zeros((0, 1), np.float32), int(rate or 0), start
    channels = min(chunk.shape[0] for chunk in chunks)
    audio = np.concatenate([chunk[:channels] for chunk in chunks], axis=1)
    return np.ascontiguousarray(audio.T, dtype=np.float32), int(rate), start


def _read_with_pyav(path: Path) -> tuple[np.ndarray, int]:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise InputError(
                    f"{path} has no audio stream; give a file with a sound track or a separate "
                    "wav/mp3/m4a file."
                )
            return decode_audio_stream(container, container.streams.audio[0])
    except av.FFmpegError as error:
        # FFmpeg's own words ("Invalid data found when processing input"), not its errno.
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise InputError(
            f"cannot decode audio file {path} ({reason}); give a wav, flac, ogg, mp3, m4a or a "
            "video file with a sound track."
        ) from error


def load_waveform(path: str | Path, sample_rate: int = 16000) -> np.ndarray:
    """Reads audio as mono float32 in [-1, 1] at `sample_rate`.

    Accepts wav/flac/ogg (soundfile), and mp3, m4a/aac and the sound track of video files
    (mp4/mpg/mov/webm/avi/...) through PyAV. Stereo is averaged to mono; other rates are resampled
    with soxr (high quality). Returns float32 [samples]. Raises InputError, naming the file, when
    it is missing, undecodable, has no audio stream or holds no samples.
    """
    path = check_input_file(path, "audio file")
    audio = None
    if path.suffix.lower() in _SOUNDFILE_SUFFIXES:
        try:
            audio, file_rate = soundfile.read(path, dtype="float32", always_2d=True)
        except (soundfile.LibsndfileError, RuntimeError):
            audio = None  # e.g. a wav holding a codec libsndfile lacks: let PyAV try
    if audio is None:
        audio, file_rate = _read_with_pyav(path)
    if audio.shape[0] == 0:
        raise InputError(f"audio file {path} contains no samples; give a recording of speech.")
    return to_mono_at_rate(audio, file_rate, sample_rate)


def _file_blocks(path: Path, block_seconds: float) -> Iterator[tuple[np.ndarray, int]]:
    """(float32 [samples, channels], sample rate) blocks of the file, decoded as they are used:
    soundfile where it reads the file, else PyAV (as `load_waveform` chooses)."""
    file = None
    if path.suffix.lower() in _SOUNDFILE_SUFFIXES:
        try:
            file = soundfile.SoundFile(path)
        except (soundfile.LibsndfileError, RuntimeError):
            file = None
    if file is not None:
        with file:
            size = max(1, int(block_seconds * file.samplerate))
            for block in file.blocks(blocksize=size, dtype="float32", always_2d=True):
                yield block, file.samplerate
        return
    import av

    with av.open(str(path)) as container:
        converter = av.AudioResampler(format="fltp")  # float planar, same layout and rate
        decoded = False
        try:
            for frame in container.decode(container.streams.audio[0]):
                for converted in converter.resample(frame):
                    decoded = True
                    yield converted.to_ndarray().T, converted.sample_rate
        except av.FFmpegError:
            if not decoded:
                raise  # as `decode_audio_stream`: a damaged tail ends the audio
        for converted in converter.resample(None):
            yield converted.to_ndarray().T, converted.sample_rate


def stream_waveform(
    path: str | Path, sample_rate: int = 16000, block_seconds: float = 1.0
) -> Iterator[np.ndarray]:
    """`load_waveform(path, sample_rate)` block by block (float32 mono), decoded and resampled
    as the blocks are used, so memory stays constant for any length; the blocks join to the
    same samples. For a file `load_waveform` has read (errors are reported there)."""
    resampler = None
    for block, rate in _file_blocks(Path(path), block_seconds):
        mono = block.mean(axis=1, dtype=np.float32)
        if rate != sample_rate:
            if resampler is None:
                resampler = soxr.ResampleStream(rate, sample_rate, 1, "float32", "HQ")
            mono = resampler.resample_chunk(mono)
        yield np.clip(mono, -1.0, 1.0)
    if resampler is not None:
        yield np.clip(resampler.resample_chunk(np.zeros(0, np.float32), last=True), -1.0, 1.0)


class SampleReader:
    """Reads exact numbers of samples, in order, from an iterator of blocks (`stream_waveform`).

    `samples_read` counts what was handed out so far.
    """

    def __init__(self, blocks: Iterable[np.ndarray]):
        self._blocks = iter(blocks)
        self._pending: list[np.ndarray] = []
        self._pending_count = 0
        self.samples_read = 0

    def read(self, count: int | None = None) -> np.ndarray:
        """The next `count` samples (fewer at the end), or all that are left (None)."""
        while count is None or self._pending_count < count:
            block = next(self._blocks, None)
            if block is None:
                break
            self._pending.append(block)
            self._pending_count += len(block)
        joined = np.concatenate(self._pending) if self._pending else np.zeros(0, np.float32)
        taken = joined[: len(joined) if count is None else count]
        rest = joined[len(taken) :]
        self._pending, self._pending_count = ([rest] if len(rest) else []), len(rest)
        self.samples_read += len(taken)
        return taken


def audio_duration(path: str | Path) -> float | None:
    """Seconds of audio in `path` from its header, without decoding; None when unknown.

    Lets a caller refuse an over-long recording before decoding it. Unreadable files give None
    (`load_waveform` then reports them in its usual one-line error).
    """
    path = Path(path)
    if path.suffix.lower() in _SOUNDFILE_SUFFIXES:
        try:
            return float(soundfile.info(path).duration)
        except (soundfile.LibsndfileError, RuntimeError):
            pass  # e.g. a codec libsndfile lacks: ask PyAV
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return container.duration / av.time_base
    except (av.FFmpegError, OSError):
        return None
    return None
