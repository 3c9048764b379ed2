"""The photo-lip rig in the graph (`export/lip_rig_graph.py`) against the NumPy rig it ports
(`inference/lip_rig.py`), on real 128x96 face crops with the real face mesh's points."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import tensorflow as tf

from lipsync_tf import face_geometry as geometry
from lipsync_tf.export.lip_rig_graph import GraphLipRig, lab_to_rgb, rgb_to_lab
from lipsync_tf.inference.generate import crop_photo
from lipsync_tf.inference.lip_rig import LipRig
from lipsync_tf.inference.media import even_crop, load_image
from lipsync_tf.preprocessing.faces import crop_face
from lipsync_tf.preprocessing.landmarks import FaceMesh

REPO = Path(__file__).resolve().parents[2]


def crop_of(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A photo's 128x96 face crop as bin/generate frames it and the face mesh's points on it."""
    photo = even_crop(load_image(path))
    still = crop_face(photo, crop_photo(photo, path.name)[0])
    points, score = FaceMesh().image(still)
    assert score >= geometry.MIN_FACE_SCORE
    return still, points[:, :2]


def head_shapes(count: int, seed: int = 0) -> np.ndarray:
    """Head outputs [count, 80] from a jaw that drops and a mouth that widens, with noise."""
    rng = np.random.default_rng(seed)
    shapes = rng.normal(0.0, 0.3, (count, len(geometry.LIPS), 2))
    drop = np.linspace(0.0, 4.0, count)[:, None]
    for point in geometry.LOWER_LIP_POINTS:
        shapes[:, geometry.LIPS.index(point), 1] += drop[:, 0]
    return shapes.reshape(count, -1).astype(np.float32)


def graph_frames(still, points, rest, shapes) -> np.ndarray:
    """GraphLipRig's frames as uint8-level floats [T, 128, 96, 3] in [0, 255]."""
    rig = GraphLipRig()
    frames = rig.frames(
        tf.constant(still.astype(np.float32) / 127.5 - 1.0),
        tf.constant(points[list(geometry.RIG_POINTS)].astype(np.float32)),
        tf.constant(rest),
        tf.constant(shapes),
    )
    return (frames.numpy() + 1.0) * 127.5


@pytest.fixture(scope="module")
def bundled():
    return crop_of(REPO / "examples" / "still.jpg")


def test_the_rest_shape_gives_the_still_itself(bundled):
    still, points = bundled
    rest = head_shapes(1, seed=3)[0]
    frames = graph_frames(still, points, rest, np.stack([rest, rest]))
    np.testing.assert_array_equal(np.round(frames).astype(np.uint8), np.stack([still, still]))


def test_it_moves_the_lips_as_the_numpy_rig_does(bundled):
    still, points = bundled
    rest, shapes = np.zeros(80, np.float32), head_shapes(6)
    reference = np.stack([LipRig(still, points, rest).compose(still, s) for s in shapes])
    frames = graph_frames(still, points, rest, shapes)
    difference = np.abs(frames - reference)
    moved = np.abs(reference.astype(np.float32) - still).mean()
    # Bilinear against bicubic taps: a fraction of the motion, and nowhere a visible step.
    assert difference.mean() < 0.25 * moved, (difference.mean(), moved)
    assert np.percentile(difference, 99) <= 8


def test_only_the_mouth_and_jaw_change(bundled):
    still, points = bundled
    frames = graph_frames(still, points, np.zeros(80, np.float32), head_shapes(4))
    rows = np.nonzero((np.round(frames) != still).any(axis=(0, 2, 3)))[0]
    assert len(rows) > 0
    eyes = points[list(geometry.RIGHT_EYE_EAR + geometry.LEFT_EYE_EAR)]
    width = np.linalg.norm(points[78] - points[308])
    assert rows.min() > eyes[:, 1].max(), "pixels above the eyes' lowest point changed"
    assert rows.min() > points[1, 1] - 0.05 * width, "the nose moved"


def test_an_opening_mouth_shows_a_drawn_inside_like_the_numpy_rigs(shared_data):
    still, points = crop_of(shared_data / "stills" / "sadtalker_people_0.png")  # closed lips
    rest, shapes = np.zeros(80, np.float32), head_shapes(6)[-1:]
    numpy_rig = LipRig(still, points, rest)
    assert not numpy_rig.open_at_rest
    reference = numpy_rig.compose(still, shapes[0]).astype(np.float32)
    frame = graph_frames(still, points, rest, shapes)[0]
    # The drawn gap: pixels much darker or brighter than the still's, in the same places.
    drawn = np.abs(reference - still).max(axis=-1) > 40
    drawn_here = np.abs(frame - still).max(axis=-1) > 40
    assert drawn.sum() >= 10
    overlap = (drawn & drawn_here).sum() / (drawn | drawn_here).sum()
    assert overlap > 0.6, overlap


def test_its_cielab_matches_opencvs():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    ours = rgb_to_lab(tf.constant(rgb, tf.float32)).numpy()
    theirs = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    # OpenCV's 8-bit conversion rounds through tables: within two levels, one on average.
    assert np.abs(ours - theirs).max() <= 2.0 and np.abs(ours - theirs).mean() <= 0.6
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    back = lab_to_rgb(tf.constant(lab, tf.float32)).numpy()
    assert np.abs(back - cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)).max() <= 2.0
