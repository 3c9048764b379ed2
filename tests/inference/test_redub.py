"""bin/redub on real clips: looped/trimmed to the new audio, original frames kept outside."""

from pathlib import Path

import numpy as np
import pytest
import soundfile

from lipsync_tf.errors import InputError
from lipsync_tf.inference.media import Mp4Writer
from lipsync_tf.inference.redub import redub_video
from lipsync_tf.inference.runners import SavedModelRunner
from lipsync_tf.preprocessing.video import iter_video_frames
from tests.inference.test_generate import assert_matches_audio, probe_mp4

GRID_CLIP = "clips/grid_spkH_sbia1a.mpg"  # 3 s, 360x288, 25 fps
SPEECH_16K = "audio/makeittalk_M6_04_16k.wav"  # 4.877 s: longer than the clip, so it loops


@pytest.fixture(scope="module")
def runner(tiny_export):
    return SavedModelRunner(tiny_export[1])


def test_redub_loops_the_video_to_the_new_audio_and_keeps_the_background(
    runner, shared_data, tmp_path
):
    output = tmp_path / "redubbed.mp4"
    report = redub_video(
        shared_data / GRID_CLIP, shared_data / SPEECH_16K, output, runner=runner, progress=False
    )
    info = probe_mp4(output)
    assert_matches_audio(info, shared_data / SPEECH_16K)
    assert info["size"] == (288, 360) == (report.height, report.width)
    source = list(iter_video_frames(shared_data / GRID_CLIP))
    assert len(source) == 75 < info["frames"]
    first = info["first_frame"].astype(int)
    # The top band (above the head) is the original frame; the face region is regenerated.
    assert np.abs(first[:40] - source[0][:40]).mean() < 4
    assert np.abs(first[100:200, 130:230] - source[0][100:200, 130:230]).mean() > 8


def test_redub_trims_a_longer_video(runner, shared_data, tmp_path):
    audio = tmp_path / "short.wav"
    speech, rate = soundfile.read(shared_data / SPEECH_16K)
    soundfile.write(audio, speech[: int(1.5 * rate)], rate)
    report = redub_video(
        shared_data / GRID_CLIP, audio, tmp_path / "out.mp4", runner=runner, progress=False
    )
    info = probe_mp4(report.output)
    assert info["frames"] == 38  # ceil(1.5 s * 25), fewer than the clip's 75
    assert_matches_audio(info, audio)


def _faceless_video(path: Path) -> Path:
    with Mp4Writer(path, 96, 64, audio_rate=None) as writer:
        for index in range(10):
            writer.write_frame(np.full((64, 96, 3), 20 * index, np.uint8))
    return path


def test_redub_of_a_video_without_a_face_is_a_clear_error(runner, shared_data, tmp_path):
    video = _faceless_video(tmp_path / "wall.mp4")
    with pytest.raises(InputError, match="No face found in any frame"):
        redub_video(
            video, shared_data / SPEECH_16K, tmp_path / "out.mp4", runner=runner, progress=False
        )
    assert not (tmp_path / "out.mp4").exists()


def test_redub_of_a_missing_video_is_a_clear_error(runner, shared_data, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        redub_video(
            tmp_path / "nope.mp4", shared_data / SPEECH_16K, tmp_path / "out.mp4", runner=runner
        )
