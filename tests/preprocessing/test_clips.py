"""process_clip with real MediaPipe on real faces: what is kept, what is skipped and why."""

import numpy as np
import pytest
import tensorflow as tf

from lipsync_tf.data import schema
from lipsync_tf.face_geometry import mouth_opening, normalized_lips
from lipsync_tf.preprocessing import faces
from lipsync_tf.preprocessing.clips import ClipOptions, ClipSkipped, process_clip
from lipsync_tf.preprocessing.landmarks import FaceMesh
from lipsync_tf.preprocessing.layouts import ClipSource
from lipsync_tf.preprocessing.video import decode_clip
from lipsync_tf.timing import StageTimer
from tests.preprocessing.media import far_away_clip, no_face_clip, tone, write_video


@pytest.fixture(scope="module")
def detector():
    with faces.FaceDetector() as face_detector:
        yield face_detector


def _source(path, audio_path=None) -> ClipSource:
    return ClipSource(str(path), str(audio_path) if audio_path else None, "spk", path.stem)


def _skip_reason(path, detector, **options) -> str:
    with pytest.raises(ClipSkipped) as skipped:
        process_clip(_source(path), detector, ClipOptions(**options))
    return skipped.value.reason


@pytest.mark.parametrize("name", ["grid_spkA_bbaf2n.mpg", "videoretalking_face4.mp4"])
def test_kept_clip_has_25fps_frames_aligned_audio_and_a_face_in_every_crop(
    shared_data, detector, name
):
    path = shared_data / "clips" / name
    timer = StageTimer()
    record = process_clip(_source(path), detector, timer=timer)
    source = decode_clip(path)
    assert abs(record.num_frames - len(source.frames)) == 0
    assert record.audio.shape == (record.num_frames * 640,)  # frames / 25 s at 16 kHz
    assert record.crop_boxes.shape == (record.num_frames, 4)
    assert record.source_size == source.frames.shape[1:3]
    assert set(timer.seconds) == {"decode", "detect", "crop_encode", "landmarks"}
    crops = [tf.io.decode_jpeg(frame).numpy() for frame in record.frames[::10]]
    assert all(crop.shape == (128, 96, 3) for crop in crops)
    found = sum(bool(detector.detect(crop)) for crop in crops)
    assert found == len(crops), f"MediaPipe found a face in only {found}/{len(crops)} crops"
    # Every crop's lips, measured on the crop the record holds (JPEG q95 moved the mouth
    # opening by up to 0.006 here, against a range of 0-0.15).
    assert record.lip_landmarks.shape == (record.num_frames, 40, 2)
    assert record.mouth_opening.shape == record.landmark_scores.shape == (record.num_frames,)
    assert record.landmark_scores.min() > 0.9
    mesh = FaceMesh()
    points = np.stack([mesh.image(crop)[0] for crop in crops])
    np.testing.assert_allclose(record.lip_landmarks[::10], normalized_lips(points), atol=0.02)
    np.testing.assert_allclose(record.mouth_opening[::10], mouth_opening(points), atol=0.01)
    # The mouth sits below the eyes, about one eye-corner distance down, and it moves.
    centre = record.lip_landmarks.mean(axis=(0, 1))
    assert abs(centre[0]) < 0.15 and 0.6 < centre[1] < 1.1
    assert record.mouth_opening.max() > 3 * max(record.mouth_opening.min(), 1e-3)


def test_png_round_trip_through_the_schema_preserves_pixels_and_samples(shared_data, detector):
    path = shared_data / "clips/vox2_pcavs_00010.mp4"
    record = process_clip(_source(path), detector, ClipOptions(image_format="png"))
    parsed = schema.parse(tf.constant(schema.serialize(record)))
    frames = tf.map_fn(
        lambda image: tf.io.decode_png(image, channels=3),
        parsed["frames"],
        fn_output_signature=tf.uint8,
    ).numpy()
    source = decode_clip(path)
    expected = np.stack(
        [
            faces.crop_face(frame, faces.window_from_array(window))
            for frame, window in zip(source.frames, record.crop_boxes, strict=True)
        ]
    )
    np.testing.assert_array_equal(frames, expected)
    np.testing.assert_array_equal(parsed["audio"].numpy(), record.audio)
    np.testing.assert_array_equal(parsed["crop_boxes"].numpy(), record.crop_boxes)
    assert parsed["clip_id"].numpy().decode() == record.clip_id
    assert parsed["image_format"].numpy() == b"png"


def test_detecting_every_third_frame_gives_nearly_the_same_crops(shared_data, detector):
    path = shared_data / "clips/vox2_pcavs_00015.mp4"
    every = process_clip(_source(path), detector, ClipOptions(detect_every=1))
    third = process_clip(_source(path), detector, ClipOptions(detect_every=3))
    width = float(np.median(every.crop_boxes[:, 2] - every.crop_boxes[:, 0]))
    assert np.abs(every.crop_boxes - third.crop_boxes).max() < 0.05 * width


def test_video_without_a_face_is_skipped(tmp_path, detector):
    assert _skip_reason(no_face_clip(tmp_path / "gradient.mp4"), detector) == "no face"


def test_corrupt_and_truncated_files_are_undecodable(tmp_path, shared_data, detector):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    assert _skip_reason(corrupt, detector) == "undecodable"
    data = (shared_data / "clips/vox2_pcavs_00002.mp4").read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 3])
    assert _skip_reason(truncated, detector) == "undecodable"


@pytest.fixture(scope="module")
def grid_clip(request):
    from tests.conftest import SHARED_DATA

    path = SHARED_DATA / "clips/grid_spkB_brbk7n.mpg"
    if not path.is_file():
        pytest.skip(f"real test media not found at {path}")
    return decode_clip(path)


def test_short_clip_is_skipped(tmp_path, detector, grid_clip):
    path = write_video(tmp_path / "short.mp4", grid_clip.frames[:15], 25, grid_clip.audio[:9600])
    assert _skip_reason(path, detector) == "too short"


def test_clip_without_sound_is_skipped(tmp_path, detector, grid_clip):
    path = write_video(tmp_path / "mute.mp4", grid_clip.frames, 25)
    assert _skip_reason(path, detector) == "no audio"


def test_clip_whose_audio_is_much_shorter_is_skipped(tmp_path, detector, grid_clip):
    path = write_video(tmp_path / "cut.mp4", grid_clip.frames, 25, grid_clip.audio[:24000])
    assert _skip_reason(path, detector) == "audio/video length mismatch"


def test_clip_whose_face_is_too_small_is_skipped(tmp_path, detector, grid_clip):
    assert _skip_reason(far_away_clip(tmp_path / "far.mp4", grid_clip), detector) == (
        "face too small"
    )


def test_two_people_side_by_side_are_skipped(tmp_path, detector, shared_data):
    left = decode_clip(shared_data / "clips/vox2_pcavs_00010.mp4")
    right = decode_clip(shared_data / "clips/vox2_pcavs_731200067.mp4")
    count = min(len(left.frames), len(right.frames))
    frames = np.concatenate([left.frames[:count], right.frames[:count]], axis=2)
    path = write_video(tmp_path / "two.mp4", frames, 25, tone(count / 25))
    assert _skip_reason(path, detector) == "several faces"


def test_long_clip_streamed_twice_gives_the_same_record_as_in_memory(shared_data, detector):
    path = shared_data / "clips/grid_spkD_lbax4n.mpg"
    in_memory = process_clip(_source(path), detector, ClipOptions())
    streamed = process_clip(_source(path), detector, ClipOptions(max_frames_bytes=0))
    assert streamed.frames == in_memory.frames
    np.testing.assert_array_equal(streamed.audio, in_memory.audio)
    np.testing.assert_array_equal(streamed.crop_boxes, in_memory.crop_boxes)
