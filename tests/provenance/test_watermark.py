"""The watermark on real frames and real generated video: cost, payload, robustness, no false
positives on real clips."""

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from lipsync_tf.inference.media import load_image
from lipsync_tf.provenance import watermark
from lipsync_tf.provenance.c2pa_manifest import read_manifest

PHOTOS = [
    "stills/sadtalker_happy.png",
    "stills/sadtalker_people_0.png",
    "stills/tpsmm_source.png",
    "stills/vox2_pcavs_still_741400163.jpg",
]


def _i420(rgb: np.ndarray) -> np.ndarray:
    rgb = np.ascontiguousarray(rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2])
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b) ** 2)
    return float(10 * np.log10(255**2 / error))


@pytest.mark.parametrize("photo", PHOTOS)
def test_marked_frames_stay_above_38_db_psnr(shared_data, photo):
    yuv = _i420(load_image(shared_data / photo))
    height = yuv.shape[0] * 2 // 3
    marked = yuv.copy()
    watermark.FrameMarker(0x5C)(marked[:height])
    assert not np.array_equal(marked, yuv)
    as_rgb = [cv2.cvtColor(frame, cv2.COLOR_YUV2RGB_I420) for frame in (marked, yuv)]
    assert _psnr(*as_rgb) >= 38.0


@pytest.mark.parametrize("mark_id", [0, 0x5C, 255])
def test_the_model_mark_is_read_back_from_the_patterns_shift(shared_data, mark_id):
    yuv = _i420(load_image(shared_data / PHOTOS[0]))
    height = yuv.shape[0] * 2 // 3
    marked, plain = yuv[:height].copy(), yuv[:height].copy()
    watermark.FrameMarker(mark_id)(marked)
    score, found_id = watermark.score_grid(watermark.luma_grid(marked))
    assert score >= watermark.THRESHOLD and found_id == mark_id
    assert watermark.score_grid(watermark.luma_grid(plain))[0] < watermark.THRESHOLD


def test_an_unchanged_picture_gets_the_same_mark_and_a_new_one_its_own(shared_data):
    photo = load_image(shared_data / PHOTOS[0])
    first = _i420(photo)
    height = first.shape[0] * 2 // 3
    another = cv2.resize(load_image(shared_data / PHOTOS[1]), photo.shape[1::-1])
    other = _i420(another)[:height]
    marker = watermark.FrameMarker(7)
    frames = [first[:height].copy(), first[:height].copy(), other.copy()]
    for frame in frames:
        marker(frame)
    first_mark = frames[0].astype(int) - first[:height]
    assert np.array_equal(frames[0], frames[1])  # x264 codes the repeat for free
    fresh = watermark.FrameMarker(7)
    expected = other.copy()
    fresh(expected)  # what the other picture gets on its own: its own mask, not the first's
    assert np.array_equal(frames[2], expected)
    assert not np.array_equal(frames[2].astype(int) - other, first_mark)


def test_generated_video_carries_the_mark_of_its_model(made_video):
    result = watermark.detect_file(made_video)
    expected = read_manifest(made_video).watermark["mark_id"]
    assert result.found and result.mark_id == expected
    assert len(result.windows) == 4  # 8 s: four 2-s windows, every one detected
    assert all(window.score >= watermark.THRESHOLD for window in result.windows)


@pytest.mark.parametrize("name", ["x264_crf30", "half_size", "cut_first_2s"])
def test_watermark_survives_each_transformation_in_every_2s_window(made_video, transformed, name):
    result = watermark.detect_file(transformed[name])
    expected = watermark.detect_file(made_video).mark_id
    assert read_manifest(transformed[name]).state == "absent"  # re-encoding strips the manifest
    assert result.windows and all(
        window.score >= watermark.THRESHOLD and window.mark_id == expected
        for window in result.windows
    ), [round(window.score, 1) for window in result.windows]
    if name == "cut_first_2s":
        assert result.frames_read == 150
    if name == "half_size":
        with av.open(str(transformed[name])) as container:
            assert container.streams.video[0].codec_context.width == 128


def _sample_of_real_clips(shared: Path) -> list[Path]:
    """Every clip in clips/ plus every 50th of GRID s1 and of lrc_ar (all of them:
    bench/watermark_false_positives.py)."""
    grid = sorted((shared / "grid" / "s1").glob("*.mp4"))[::50]
    lrc = sorted((shared / "lrc_ar").glob("*/*.mp4"))[::50]
    return sorted(shared.glob("clips/*.mp*")) + grid + lrc


def test_no_watermark_is_found_in_real_clips(shared_data):
    clips = _sample_of_real_clips(shared_data)
    assert len(clips) > 90
    found = {}
    for clip in clips:
        result = watermark.detect_file(clip, max_seconds=20)
        assert result.frames_read > 0
        if result.found:
            found[clip.name] = round(result.score, 2)
    assert found == {}
