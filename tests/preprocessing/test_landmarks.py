"""The face-mesh path on real faces: points where the lips and eyes are, and a mouth that talks."""

import numpy as np
import pytest

from lipsync_tf import face_geometry as geometry
from lipsync_tf.evaluation import metrics
from lipsync_tf.preprocessing import landmarks as mesh
from tests.conftest import SHARED_DATA

GRID_CLIP = "clips/grid_spkC_swwp2s.mpg"


def _shared(relative: str):
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"real test media {path} not found; set LIPSYNC_SHARED_DATA")
    return path


@pytest.fixture(scope="module")
def face_mesh() -> mesh.FaceMesh:
    return mesh.FaceMesh()


@pytest.fixture(scope="module")
def grid_clip(face_mesh):
    """(crops uint8 [75, 128, 96, 3], audio [S], landmarks [75, 468, 3], scores [75])."""
    from lipsync_tf.evaluation.evaluate import crop_clip_faces
    from lipsync_tf.preprocessing.faces import FaceDetector
    from lipsync_tf.preprocessing.video import decode_clip

    decoded = decode_clip(_shared(GRID_CLIP))
    with FaceDetector() as detector:
        crops = crop_clip_faces(decoded.frames, detector)
    points, scores = face_mesh.video(crops)
    return crops, decoded.audio, points, scores


def _word_frames(word: str) -> range:
    """Frames (25 fps) of `word` in the clip's GRID alignment (units of 1/25000 s)."""
    for line in _shared(GRID_CLIP.replace(".mpg", ".align")).read_text().split("\n"):
        start, end, name = line.split()
        if name == word:
            return range(int(start) // 1000, int(end) // 1000)
    raise AssertionError(f"{word} not in the alignment")


def test_lip_indices_are_mediapipes_lip_contours():
    from mediapipe.tasks.python.vision.face_landmarker import FaceLandmarksConnections

    points = set()
    for connection in FaceLandmarksConnections.FACE_LANDMARKS_LIPS:
        points |= {connection.start, connection.end}
    assert tuple(sorted(points)) == geometry.LIPS


def test_landmarks_land_on_a_real_face_crop(face_mesh):
    import cv2

    still = cv2.imread(str(_shared("stills/sda_example_image.bmp")))[..., ::-1]
    points, score = face_mesh.image(still)
    assert points.shape == (468, 3)
    assert score > 0.9
    lips = points[list(geometry.LIPS), :2]
    # Every lip point is inside the fixed mouth box used by the mouth PSNR/SSIM.
    rows, cols = geometry.MOUTH_ROWS, geometry.MOUTH_COLS
    assert np.all((lips[:, 0] >= cols.start) & (lips[:, 0] < cols.stop))
    assert np.all((lips[:, 1] >= rows.start) & (lips[:, 1] < rows.stop))
    # Anatomy top to bottom: forehead, eyes, lips, chin; right eye left of the left eye.
    eyes_y = points[[geometry.RIGHT_EYE_OUTER, geometry.LEFT_EYE_OUTER], 1]
    assert points[geometry.FOREHEAD, 1] < eyes_y.min() < eyes_y.max() < lips[:, 1].min()
    assert lips[:, 1].max() < points[geometry.CHIN, 1] < 128
    assert points[geometry.RIGHT_EYE_OUTER, 0] < 48 < points[geometry.LEFT_EYE_OUTER, 0]


def test_a_noise_image_is_not_a_face(face_mesh, rng):
    noise = rng.integers(0, 256, (128, 96, 3), dtype=np.uint8)
    _, score = face_mesh.image(noise)
    assert score < 0.5


def test_mouth_opening_follows_real_speech(grid_clip):
    crops, audio, points, scores = grid_clip
    assert len(crops) == 75 and scores.min() > 0.9
    opening = metrics.mouth_opening(points)
    # "white" opens the mouth; the bilabial "p" closes it; the final silence is closed.
    open_white = opening[list(_word_frames("white"))].max()
    closed_p = opening[list(_word_frames("p"))].min()
    assert closed_p < 0.3 * open_white
    assert open_white > 0.04
    assert np.median(opening[60:72]) < 0.01
    # Mouth opening and audio energy line up within a couple of frames on real, in-sync video.
    lag, r = metrics.av_offset(opening, metrics.audio_energy(audio, len(opening)))
    assert lag is not None and abs(lag) <= 2
    assert r > 0.3


def test_blinks_found_on_real_video(grid_clip):
    # The speaker closes his eyes three times (frames 27-29, 43-46 and 72-73, checked by eye).
    _, _, points, _ = grid_clip
    ear = metrics.eye_aspect_ratio(points)
    assert metrics.count_blinks(ear) == 3
    assert ear[[27, 44, 72]].max() < 0.8 * np.median(ear) < ear[[24, 40, 60]].min()


def test_normalized_lips_ignore_position_scale_and_roll(rng):
    points = rng.uniform(0, 100, (3, 468, 3))
    angle = 0.3
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = points.copy()
    moved[..., :2] = 2.5 * points[..., :2] @ rotation.T + np.array([40.0, -7.0])
    np.testing.assert_allclose(
        geometry.normalized_lips(moved), geometry.normalized_lips(points), rtol=1e-4, atol=1e-5
    )
    # The outer eye corners land on (-0.5, 0) and (0.5, 0) by construction: check via a
    # face whose lips sit exactly between and one eye distance below them.
    face = np.zeros((468, 2))
    face[geometry.RIGHT_EYE_OUTER] = (10, 20)
    face[geometry.LEFT_EYE_OUTER] = (30, 20)
    face[list(geometry.LIPS)] = (20, 40)
    np.testing.assert_allclose(geometry.normalized_lips(face), np.tile([0.0, 1.0], (40, 1)))


def test_mouth_opening_is_the_inner_lip_gap_over_face_height():
    face = np.zeros((2, 468, 2))
    face[:, geometry.FOREHEAD] = (50, 0)
    face[:, geometry.CHIN] = (50, 100)
    face[0, geometry.UPPER_INNER_LIP], face[0, geometry.LOWER_INNER_LIP] = (50, 70), (50, 75)
    face[1, geometry.UPPER_INNER_LIP], face[1, geometry.LOWER_INNER_LIP] = (50, 70), (50, 70)
    np.testing.assert_allclose(geometry.mouth_opening(face), [0.05, 0.0])


def test_lip_gap_positions_are_the_inner_lip_points():

    assert tuple(geometry.LIPS.index(p) for p in (13, 14)) == geometry.INNER_LIP_GAP
