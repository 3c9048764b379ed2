"""decode_clip / iter_video_frames / probe_video on real clips and on videos made here."""

import numpy as np
import pytest

from lipsync_tf.errors import InputError
from lipsync_tf.preprocessing.video import decode_clip, iter_video_frames, probe_video
from tests.preprocessing.media import tone, write_video


@pytest.mark.parametrize(
    "name, source_frames, source_fps",
    [
        ("grid_spkA_bbaf2n.mpg", 75, 25.0),  # MPEG-1 + MP2 44.1 kHz stereo
        ("vox2_pcavs_00010.mp4", 106, 25.0),  # H.264 + AAC 16 kHz
        ("videoretalking_face1.mp4", 135, 22.131),  # fewer than 25 fps: frames repeat
        ("videoretalking_face4.mp4", 199, 30.0),  # more than 25 fps: frames dropped
    ],
)
def test_clip_has_duration_times_25_frames_and_matching_audio(
    shared_data, name, source_frames, source_fps
):
    clip = decode_clip(shared_data / "clips" / name)
    duration = source_frames / source_fps
    assert abs(len(clip.frames) - duration * 25) <= 1
    assert clip.frames.dtype == np.uint8 and clip.frames.shape[-1] == 3
    assert clip.source_fps == pytest.approx(source_fps, abs=0.01)
    assert clip.fps == 25 and clip.sample_rate == 16000
    assert clip.audio.dtype == np.float32 and clip.audio.ndim == 1
    assert abs(len(clip.audio) / 16000 - len(clip.frames) / 25) < 0.1
    assert 0.05 < np.abs(clip.audio).max() <= 1.0


def _numbered_frames(count: int) -> np.ndarray:
    """Frame i is a flat grey of level 8 * i, so its index can be read back after encoding."""
    levels = (np.arange(count) * 8).astype(np.uint8)
    return np.broadcast_to(levels[:, None, None, None], (count, 32, 48, 3)).copy()


@pytest.mark.parametrize("source_fps", [30, 20, 25])
def test_frame_rate_conversion_picks_the_frame_on_screen(tmp_path, source_fps):
    count = 30
    path = write_video(tmp_path / "numbered.mp4", _numbered_frames(count), fps=source_fps)
    clip = decode_clip(path)
    seconds = count / source_fps
    assert abs(len(clip.frames) - seconds * 25) <= 1
    shown = np.round(clip.frames[:, 16, 24, 0] / 8).astype(int)
    expected = np.floor(np.arange(len(clip.frames)) * source_fps / 25 + 1e-6).astype(int)
    np.testing.assert_array_equal(shown, expected)
    assert clip.audio is None  # no sound track in this file


def test_iter_video_frames_yields_the_decoded_frames(shared_data):
    path = shared_data / "clips/videoretalking_face4.mp4"
    streamed = list(iter_video_frames(path))
    clip = decode_clip(path)
    assert len(streamed) == len(clip.frames)
    np.testing.assert_array_equal(np.stack(streamed), clip.frames)


def test_probe_reads_the_headers(shared_data):
    info = probe_video(shared_data / "clips/videoretalking_face4.mp4")
    source_fps, num_frames, size, duration, has_audio = info
    assert source_fps == pytest.approx(30.0)
    assert size == (700, 700)
    assert duration == pytest.approx(199 / 30, abs=0.05)
    assert abs(num_frames - duration * 25) <= 1
    assert has_audio


def test_separate_audio_file_replaces_the_sound_track(tmp_path):
    import soundfile

    video = write_video(tmp_path / "clip.mp4", _numbered_frames(25), 25, tone(1.0, freq=300))
    wav = tmp_path / "clip.wav"
    soundfile.write(wav, tone(1.0, 44100, freq=1000), 44100)
    clip = decode_clip(video, audio_path=wav)
    spectrum = np.abs(np.fft.rfft(clip.audio[:16000]))
    assert abs(int(np.argmax(spectrum)) - 1000) < 5


def test_missing_corrupt_and_truncated_files_are_input_errors(tmp_path, shared_data):
    with pytest.raises(InputError, match="does not exist"):
        decode_clip(tmp_path / "nope.mp4")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"not a video at all" * 100)
    with pytest.raises(InputError, match="cannot decode video file"):
        decode_clip(corrupt)
    data = (shared_data / "clips/vox2_pcavs_00010.mp4").read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])  # index (moov) at the end is lost
    with pytest.raises(InputError, match="cannot decode video file"):
        decode_clip(truncated)
    with pytest.raises(InputError):
        list(iter_video_frames(truncated))
