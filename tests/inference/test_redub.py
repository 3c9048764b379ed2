"""bin/redub on real clips: looped/trimmed to the new audio, original frames kept outside the
face, and frames where the face is lost passed through untouched."""

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile

from lipsync_tf.errors import InputError
from lipsync_tf.face_geometry import FaceBox, crop_window
from lipsync_tf.inference.generate import InferenceOptions
from lipsync_tf.inference.media import Mp4Writer, load_image
from lipsync_tf.inference.redub import MAX_MISSED_FRAMES, fade_weights, redub_video
from lipsync_tf.inference.runners import SavedModelRunner
from lipsync_tf.preprocessing.faces import track_faces
from lipsync_tf.preprocessing.video import iter_video_frames
from lipsync_tf.provenance.marks import UNMARKED
from tests.inference.test_generate import assert_matches_audio, probe_mp4

GRID_CLIP = "clips/grid_spkH_sbia1a.mpg"  # 3 s, 360x288, 25 fps
SPEECH_16K = "audio/makeittalk_M6_04_16k.wav"  # 4.877 s: longer than the clip, so it loops
QUIET = InferenceOptions(progress=False)


@pytest.fixture(scope="module")
def runner(tiny_export):
    return SavedModelRunner(tiny_export[1])


def test_redub_loops_the_video_to_the_new_audio_and_keeps_the_background(
    runner, shared_data, tmp_path
):
    output = tmp_path / "redubbed.mp4"
    report = redub_video(
        shared_data / GRID_CLIP, shared_data / SPEECH_16K, output, QUIET, runner=runner
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


def _speech(shared_data: Path, path: Path, seconds: float) -> Path:
    speech, rate = soundfile.read(shared_data / SPEECH_16K)
    soundfile.write(path, speech[: round(seconds * rate)], rate)
    return path


def _write_frames(path: Path, frames: list[np.ndarray]) -> Path:
    height, width = frames[0].shape[:2]
    with Mp4Writer(path, width, height, audio_rate=None, crf=12) as writer:
        for frame in frames:
            writer.write_frame(frame)
    return path


MOVING_FRAMES, MOVING_STEP = 30, 3  # the face moves 3 px to the right per frame


def _moving_face_video(shared_data: Path, path: Path) -> Path:
    """A real face sliding right over a still textured background; the 16x16 top-left corner of
    frame i has grey level 8 i, so every output frame says which source frame it shows."""
    face = load_image(shared_data / "stills/vox2_pcavs_still_517600055.jpg")  # 224x224
    rng = np.random.default_rng(3)
    background = cv2.GaussianBlur(rng.uniform(0, 255, (240, 320, 3)), (0, 0), 4)
    frames = []
    for index in range(MOVING_FRAMES):
        frame = background.astype(np.uint8)
        x = 8 + MOVING_STEP * index
        frame[8:232, x : x + 224] = face
        frame[:16, :16] = 8 * index
        frames.append(frame)
    return _write_frames(path, frames)


def test_redub_loops_the_clip_frame_by_frame_and_pastes_where_the_head_is(
    runner, shared_data, tmp_path
):
    video = _moving_face_video(shared_data, tmp_path / "moving.mp4")
    audio = _speech(shared_data, tmp_path / "two_seconds.wav", 2.0)  # 50 frames: 30, then 20
    # Unmarked: this compares pixels with the source; the watermark's own (small) change is
    # measured in tests/provenance.
    output = redub_video(
        video, audio, tmp_path / "out.mp4", QUIET, runner=runner, provenance=UNMARKED
    ).output
    source = [frame.astype(int) for frame in iter_video_frames(video)]
    redubbed = [frame.astype(int) for frame in iter_video_frames(output)]
    assert (len(source), len(redubbed)) == (MOVING_FRAMES, 50)
    centres = []
    for index, frame in enumerate(redubbed):
        shown = index % MOVING_FRAMES
        # Frame 30 is source frame 0 again, and so on: the corner says which frame it is.
        assert abs(frame[2:14, 2:14].mean() - 8 * shown) < 3, (index, frame[2:14, 2:14].mean())
        # The generated face differs from the source face by far more than H.264 loss; the
        # columns it covers are where this frame's face was pasted.
        changed = np.abs(frame - source[shown]).mean(axis=2) > 25
        assert np.abs(frame - source[shown])[~changed].mean() < 3  # the rest is the source
        columns = np.nonzero(changed)[1]
        centres.append(columns.mean())
    # The paste window moves with the head, 3 px per source frame, also across the loop.
    # Measured: at most 3.1 px off (the track is smoothed over 5 frames, which lags by up to
    # 1.8 px at the ends of the clip); a window that stayed put would be up to 43 px off.
    shown = np.arange(50) % MOVING_FRAMES
    expected = np.median(np.array(centres) - MOVING_STEP * shown) + MOVING_STEP * shown
    assert np.abs(np.array(centres) - expected).max() < 6, np.round(centres, 1)


def test_redub_follows_the_largest_of_several_faces_and_says_so(
    runner, shared_data, tmp_path, caplog
):
    large = load_image(shared_data / "stills/vox2_pcavs_still_517600055.jpg")
    small = np.zeros((224, 160, 3), np.uint8)
    small[32:192] = cv2.resize(
        load_image(shared_data / "stills/vox2_pcavs_still_581600416.jpg"), (160, 160)
    )
    picture = np.concatenate([large, small], axis=1)
    video = _write_frames(tmp_path / "two.mp4", [picture] * 10)
    audio = _speech(shared_data, tmp_path / "short.wav", 0.4)
    with caplog.at_level(logging.WARNING):
        report = redub_video(video, audio, tmp_path / "out.mp4", QUIET, runner=runner)
    assert "shows up to 2 faces; following the largest" in caplog.text
    source = next(iter_video_frames(video)).astype(int)
    first = next(iter_video_frames(report.output)).astype(int)
    assert np.abs(first[70:170, 60:160] - source[70:170, 60:160]).mean() > 10  # redrawn
    assert np.abs(first[80:150, 270:340] - source[80:150, 270:340]).mean() < 3  # untouched


def test_redub_of_a_video_whose_face_is_too_small_is_a_clear_error(runner, shared_data, tmp_path):
    people = load_image(shared_data / "stills/sadtalker_people_0.png")
    tiny = cv2.resize(people, (64, 64), interpolation=cv2.INTER_AREA)  # a face ~24 px wide
    video = _write_frames(tmp_path / "far.mp4", [tiny] * 10)
    with pytest.raises(InputError, match=r"is at most \d+ px wide; .* at least 32 px wide"):
        redub_video(video, shared_data / SPEECH_16K, tmp_path / "out.mp4", QUIET, runner=runner)
    assert not (tmp_path / "out.mp4").exists()
    assert not list(tmp_path.glob(".out*"))


def test_redub_trims_a_longer_video(runner, shared_data, tmp_path):
    audio = tmp_path / "short.wav"
    speech, rate = soundfile.read(shared_data / SPEECH_16K)
    soundfile.write(audio, speech[: int(1.5 * rate)], rate)
    report = redub_video(shared_data / GRID_CLIP, audio, tmp_path / "out.mp4", QUIET, runner=runner)
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
        redub_video(video, shared_data / SPEECH_16K, tmp_path / "out.mp4", QUIET, runner=runner)
    assert not (tmp_path / "out.mp4").exists()


def test_redub_of_a_missing_video_is_a_clear_error(runner, shared_data, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        redub_video(
            tmp_path / "nope.mp4",
            shared_data / SPEECH_16K,
            tmp_path / "out.mp4",
            QUIET,
            runner=runner,
        )


def test_fade_weights_ramp_to_zero_over_each_gap():
    present = np.array([True] * 8 + [False] * 3 + [True] * 8)
    weights = fade_weights(present, fade_frames=4)
    np.testing.assert_allclose(weights[3:8], [1.0, 0.8, 0.6, 0.4, 0.2])
    np.testing.assert_array_equal(weights[8:11], 0.0)
    np.testing.assert_allclose(weights[11:16], [0.2, 0.4, 0.6, 0.8, 1.0])
    assert fade_weights(np.ones(5, bool)).tolist() == [1.0] * 5


def test_a_face_missed_for_two_frames_is_interpolated_and_three_is_a_gap():
    box = FaceBox(100, 100, 200, 220, 0.9)
    moved = FaceBox(130, 100, 230, 220, 0.9)
    detections = [[box]] * 10 + [[]] * 2 + [[box]] * 10 + [[]] * 3 + [[moved]] * 10
    track = track_faces(detections, max_gap=MAX_MISSED_FRAMES)
    assert track.present[:22].all()  # the two-frame miss: the face is still there
    assert not track.present[22:25].any() and track.present[25:].all()
    # Each side of the gap is smoothed on its own: after it, the window is where the face is
    # at once, not dragged from where it was.
    after = crop_window(moved)
    np.testing.assert_allclose(track.windows[25], [after.x0, after.y0, after.x1, after.y1])


def _mouth_change(frame: np.ndarray, source: np.ndarray, box) -> float:
    rows, cols = box
    return float(np.abs(frame[rows, cols].astype(int) - source[rows, cols]).mean())


def test_redub_leaves_blacked_out_frames_untouched_and_fades_at_their_edges(
    runner, shared_data, tmp_path
):
    clip = shared_data / "clips/vox2_pcavs_00002.mp4"  # 126 frames of one face, 224x224
    frames = list(iter_video_frames(clip))
    for index in range(40, 80):
        frames[index] = np.zeros_like(frames[index])
    video = _write_frames(tmp_path / "blackout.mp4", frames)
    report = redub_video(video, clip, tmp_path / "out.mp4", QUIET, runner=runner)
    redubbed = list(iter_video_frames(report.output))
    source = list(iter_video_frames(video))
    # The clip's sound is 5.05 s: 127 frames, the last one frame 0 again.
    assert len(source) == 126 and len(redubbed) == 127
    assert report.passed_through == 40
    for index in range(40, 80):  # no mouth floating in the dark
        assert redubbed[index].max() < 12, (index, redubbed[index].max())
    mouth = (slice(130, 190), slice(70, 150))
    change = [_mouth_change(redubbed[i], source[i], mouth) for i in range(126)]
    # Full paste away from the gap; 4/5 ... 1/5 of it on the frames before and after it.
    full = np.median(change[10:30] + change[95:115])
    assert full > 8, full
    assert change[39] < 0.45 * full and change[80] < 0.45 * full, (change[34:40], change[80:86])
    assert change[36] > change[39] and change[83] > change[80]


def _sliding_out_video(shared_data: Path, path: Path) -> Path:
    """A real face sliding right, 12 px a frame, out of the picture: BlazeFace finds it in
    frames 0-28 (at x = 8 ... 344) and not from frame 29 on, where less than 125 px show."""
    face = load_image(shared_data / "stills/vox2_pcavs_still_517600055.jpg")  # 224x224
    rng = np.random.default_rng(3)
    background = cv2.GaussianBlur(rng.uniform(0, 255, (240, 480, 3)), (0, 0), 4).astype(np.uint8)
    frames = []
    for index in range(45):
        frame = background.copy()
        x = 8 + 12 * index
        width = min(224, 480 - x)
        if width > 0:
            frame[8:232, x : x + width] = face[:, :width]
        frames.append(frame)
    return _write_frames(path, frames)


def test_redub_never_pastes_where_a_face_was_after_it_left(runner, shared_data, tmp_path):
    video = _sliding_out_video(shared_data, tmp_path / "sliding.mp4")
    audio = _speech(shared_data, tmp_path / "speech.wav", 45 / 25)
    # Unmarked, as above: pixels are compared with the source's.
    report = redub_video(
        video, audio, tmp_path / "out.mp4", QUIET, runner=runner, provenance=UNMARKED
    )
    source = [frame.astype(int) for frame in iter_video_frames(video)]
    redubbed = [frame.astype(int) for frame in iter_video_frames(report.output)]
    assert len(redubbed) == 45 and report.passed_through == 45 - 29
    # Pixels the redrawn face changed by more than H.264 loss does (a generated face differs
    # from the real one by far more).
    changed = [
        np.abs(new - old).mean(axis=2) > 25 for new, old in zip(redubbed, source, strict=True)
    ]
    for index in range(29, 45):  # the face is gone (or all but gone): the frame as it was
        assert changed[index].sum() < 20, (index, changed[index].sum())
    for index in range(5, 24):  # the face is redrawn, at the face, wherever it has moved to
        columns = np.nonzero(changed[index])[1]
        assert columns.size > 500 and abs(columns.mean() - (8 + 12 * index + 112)) < 25, index
