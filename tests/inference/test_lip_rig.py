"""`--mouth_motion lip_shape`: the bundled photo's own lips moved to a lip shape
(`inference/lip_rig.py`), measured with the real face mesh on the frames it makes."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from lipsync_tf import face_geometry as geometry
from lipsync_tf.errors import ConfigError, InputError
from lipsync_tf.evaluation import metrics
from lipsync_tf.inference.generate import GenerateOptions, crop_photo, generate_video
from lipsync_tf.inference.lip_rig import LIP_SHAPE_GAIN, LipRig, rest_shape
from lipsync_tf.inference.media import even_crop, load_image
from lipsync_tf.inference.runners import TfliteRunner
from lipsync_tf.preprocessing.landmarks import FaceMesh

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples"
SHIPPED = REPO / "exported_models" / "lipsync"
LOWER_LIP = (14, 17, 84, 181, 91, 146, 314, 405, 321, 375, 87, 178, 88, 95, 317, 402, 318, 324)
REST = np.zeros(80, np.float32)


@pytest.fixture(scope="module")
def photo():
    return even_crop(load_image(EXAMPLE / "still.jpg"))


@pytest.fixture(scope="module")
def window(photo):
    return crop_photo(photo, "still.jpg")[0]


@pytest.fixture(scope="module")
def rig(photo, window):
    return LipRig.from_photo(photo, window, REST)


def jaw_drop(amount: float) -> np.ndarray:
    """A head output [80] with the lower lip `amount` eye distances lower, once the gain is
    applied."""
    offsets = np.zeros((len(geometry.LIPS), 2), np.float32)
    for point in LOWER_LIP:
        offsets[geometry.LIPS.index(point), 1] = amount / LIP_SHAPE_GAIN
    return (offsets / geometry.LIP_SHAPE_SCALE).ravel()


def opening(frame, window) -> float:
    points = FaceMesh().in_window(frame, window)
    assert points is not None, "the face mesh lost the face in a made frame"
    return float(geometry.mouth_opening(points))


def test_the_rest_shape_gives_the_photo_itself(rig, photo):
    np.testing.assert_array_equal(rig.compose(photo, REST), photo)


def test_the_mouth_opens_as_far_as_the_shape_says(rig, photo, window):
    closed = opening(photo, window)
    halfway = opening(rig.compose(photo, jaw_drop(0.05)), window)
    wide = opening(rig.compose(photo, jaw_drop(0.10)), window)
    assert closed < halfway - 0.01 < wide - 0.02, (closed, halfway, wide)


def test_only_the_mouth_and_jaw_change(rig, photo, window):
    frame = rig.compose(photo, jaw_drop(0.10))
    changed = np.abs(frame.astype(int) - photo.astype(int)).max(axis=-1) > 0
    rows = np.nonzero(changed)[0]
    assert rows.size > 0
    points = FaceMesh().in_window(photo, window)
    eyes = points[list(geometry.RIGHT_EYE_EAR + geometry.LEFT_EYE_EAR)]
    nose_tip = points[1]
    assert rows.min() > eyes[:, 1].max(), "pixels above the eyes' lowest point changed"
    assert rows.min() > nose_tip[1] - 0.05 * rig.mouth_width, "the nose moved"


def test_an_opening_mouth_shows_teeth_and_the_lips_keep_their_colour(shared_data):
    # A photo with closed lips (the bundled one shows its own open mouth, which is kept).
    photo = even_crop(load_image(shared_data / "stills" / "sadtalker_people_0.png"))
    window = crop_photo(photo, "sadtalker_people_0.png")[0]
    rig = LipRig.from_photo(photo, window, REST)
    assert not rig.open_at_rest
    frame = rig.compose(photo, jaw_drop(0.05))  # a speech-sized opening
    points = FaceMesh().in_window(frame, window)
    assert metrics.bright_inside_fraction(frame, points) > 0.15
    # Each picture's lips where its own face mesh puts them, as bench/mouth_quality.py does.
    rest_points = FaceMesh().in_window(photo, window)
    before = metrics.mean_ab(photo, metrics.lip_flesh_mask(rest_points, photo.shape))
    after = metrics.mean_ab(frame, metrics.lip_flesh_mask(points, frame.shape))
    assert np.linalg.norm(after - before) < 2.0, (before, after)


def test_a_photo_showing_its_open_mouth_keeps_its_own_inside(rig, photo, window):
    # The bundled photo's lips are apart: its inside is moved by the warp, nothing is drawn,
    # so every pixel of an opened frame comes from the photo's own mouth box.
    assert rig.open_at_rest
    frame = rig.compose(photo, jaw_drop(0.10))
    box = (slice(rig.y0, rig.y1), slice(rig.x0, rig.x1))
    lab_photo = cv2.cvtColor(photo[box], cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(int)
    lab_frame = cv2.cvtColor(frame[box], cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(int)
    # Drawn teeth would be brighter than anything in this dim photo's mouth box.
    assert lab_frame[:, 0].max() <= lab_photo[:, 0].max() + 8


def test_lips_never_pass_through_each_other(rig, photo):
    # The lower lip pushed far up: the inner contours meet instead of crossing, no gap opens.
    targets = rig.lip_targets(jaw_drop(-0.10))
    upper = targets[[geometry.LIPS.index(k) for k in (82, 13, 312)]]
    lower = targets[[geometry.LIPS.index(k) for k in (87, 14, 317)]]
    assert np.all((lower - upper) @ rig.y_axis >= -1e-9)
    frame = rig.compose(photo, jaw_drop(-0.10))
    assert frame.shape == photo.shape and frame.dtype == np.uint8


def test_a_picture_without_a_face_is_a_clear_error(window):
    grey = np.full((224, 224, 3), 128, np.uint8)
    with pytest.raises(InputError, match="--mouth_motion layers"):
        LipRig.from_photo(grey, window, REST)


def test_rest_shape_is_the_shipped_heads_shape_on_silence(photo):
    runner = TfliteRunner(SHIPPED)
    _, face = crop_photo(photo, "still.jpg")
    shape = rest_shape(runner, runner.encode_face(face))
    assert shape.shape == (80,) and np.all(np.isfinite(shape))
    # Silence keeps the mouth about closed: far less than the head's swing on speech.
    assert abs(geometry.lip_gap(shape.reshape(40, 2) * geometry.LIP_SHAPE_SCALE)) < 0.05


def test_generate_moves_the_photos_lips_with_the_shipped_model(tmp_path):
    import av

    output = tmp_path / "out.mp4"
    options = GenerateOptions(
        model=str(SHIPPED), backend="tflite", mouth_motion="lip_shape", progress=False
    )
    generate_video(EXAMPLE / "still.jpg", EXAMPLE / "speech.wav", output, options)
    with av.open(str(output)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    photo = even_crop(load_image(EXAMPLE / "still.jpg"))
    window = crop_photo(photo, "still.jpg")[0]
    openings = [opening(frame, window) for frame in frames[::5]]
    assert len(frames) == 132
    assert np.std(openings) > 0.005, "the mouth does not move"


@pytest.mark.parametrize(
    "flags, message",
    [
        ({"paste_back": False}, "drop --nopaste_back"),
        ({"model": "tiny"}, "no mouth head"),
    ],
)
def test_lip_shape_where_it_cannot_work_is_a_clear_error(flags, message, tiny_export, tmp_path):
    model = tiny_export[1] if flags.get("model") == "tiny" else SHIPPED
    options = GenerateOptions(
        **{**flags, "model": str(model)}, mouth_motion="lip_shape", progress=False
    )
    output = tmp_path / "out.mp4"
    with pytest.raises(InputError, match=message):
        generate_video(EXAMPLE / "still.jpg", EXAMPLE / "speech.wav", output, options)
    assert not output.exists()


def test_the_gain_scales_how_far_the_lips_move(photo, window):
    still = LipRig.from_photo(photo, window, REST, gain=0.0)
    np.testing.assert_array_equal(still.compose(photo, jaw_drop(0.10)), photo)
    double = LipRig.from_photo(photo, window, REST, gain=2 * LIP_SHAPE_GAIN)
    assert opening(double.compose(photo, jaw_drop(0.05)), window) > 0.8 * opening(
        LipRig.from_photo(photo, window, REST).compose(photo, jaw_drop(0.10)), window
    )


@pytest.mark.parametrize("gain", [-1.0, 11.0])
def test_a_gain_out_of_range_is_refused_naming_the_flag(gain):
    with pytest.raises(ConfigError, match="--lip_shape_gain"):
        GenerateOptions(lip_shape_gain=gain)


def _run(tmp_path, model, **options):
    output = tmp_path / f"{len(list(tmp_path.iterdir()))}.mp4"
    options = GenerateOptions(model=str(model), backend="tflite", progress=False, **options)
    notices = []
    report = generate_video(
        EXAMPLE / "still.jpg", EXAMPLE / "speech.wav", output, options, warn=notices.append
    )
    return report, notices


def test_auto_moves_the_lips_where_the_model_hears_them_else_its_layers(tiny_export, tmp_path):
    assert _run(tmp_path, SHIPPED)[0].mouth_motion == "lip_shape"
    assert _run(tmp_path, SHIPPED, mouth_motion="layers")[0].mouth_motion == "layers"
    assert _run(tmp_path, tiny_export[1])[0].mouth_motion == "layers"  # no mouth head
    assert _run(tmp_path, SHIPPED, paste_back=False)[0].mouth_motion == "layers"


def test_auto_falls_back_to_the_layers_when_the_mesh_cannot_place_the_lips(monkeypatch, tmp_path):
    # The face detector finds the bundled face; the mesh is made to distrust it.
    monkeypatch.setattr(FaceMesh, "in_window", lambda self, rgb, window: None)
    report, notices = _run(tmp_path, SHIPPED)
    assert report.mouth_motion == "layers"
    assert any("cannot place this photo's lips" in notice for notice in notices)
    with pytest.raises(InputError, match="--mouth_motion layers"):
        _run(tmp_path, SHIPPED, mouth_motion="lip_shape")
