"""faces.crop_face (area-filtered when shrinking a large face) and face_geometry.Framing."""

import subprocess
import sys

import numpy as np
import pytest

from lipsync_tf import face_geometry as geometry
from lipsync_tf.errors import InputError
from lipsync_tf.preprocessing import faces


def test_shrinking_fine_stripes_averages_them_instead_of_aliasing():
    # One-pixel black/white stripes; a 384x512 window shrunk 4x to 96x128 must come out as a
    # flat mid grey (bilinear point sampling would pick stripes and give black/white bands).
    image = np.zeros((700, 800, 3), np.uint8)
    image[:, ::2] = 255
    crop = faces.crop_face(image, geometry.FaceBox(100.0, 50.0, 484.0, 562.0))
    assert crop.shape == (128, 96, 3)
    assert abs(crop.mean() - 127.5) < 3
    assert crop.std() < 4


def test_shrunk_crop_matches_cropping_then_area_resizing():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (400, 300, 3), dtype=np.uint8)
    window = geometry.FaceBox(20.0, 40.0, 212.0, 296.0)  # exactly 2x the 96x128 output
    crop = faces.crop_face(image, window).astype(np.float32)
    expected = image[40:296, 20:212].reshape(128, 2, 96, 2, 3).mean(axis=(1, 3))
    assert np.abs(crop - expected).max() <= 1.0


def test_window_partly_outside_the_image_replicates_the_edge():
    image = np.full((200, 200, 3), 90, np.uint8)
    crop = faces.crop_face(image, geometry.FaceBox(-100.0, -150.0, 140.0, 170.0))
    assert crop.shape == (128, 96, 3)
    assert np.all(crop == 90)


def test_framing_scales_about_the_centre_and_moves_by_fractions_of_the_window():
    window = geometry.FaceBox(100.0, 40.0, 196.0, 168.0, score=0.9)
    assert geometry.Framing().apply(window) == window and geometry.Framing().is_identity
    looser = geometry.Framing(scale=1.25, offset=(0.1, -0.05)).apply(window)
    assert (looser.width, looser.height) == (120.0, 160.0)  # aspect kept
    assert looser.center == (148.0 + 9.6, 104.0 - 6.4)
    assert looser.score == 0.9


def test_a_looser_framing_shows_the_same_face_smaller_and_an_offset_moves_it():
    # A white 24x32 block at the centre of the crop window: at scale 1.5 it spans 16x21-22
    # pixels; moving the window right by 0.25 of its width moves the block 24 pixels left.
    image = np.zeros((400, 300, 3), np.uint8)
    window = geometry.FaceBox(100.0, 100.0, 196.0, 228.0)
    image[148:180, 136:160] = 255

    def block(framing):
        crop = faces.crop_face(image, framing.apply(window))[..., 0] > 127
        rows, cols = np.nonzero(crop)
        return rows.min(), rows.max() + 1, cols.min(), cols.max() + 1

    assert block(geometry.Framing()) == (48, 80, 36, 60)
    top, bottom, left, right = block(geometry.Framing(scale=1.5))
    assert abs((bottom - top) - 32 / 1.5) <= 1 and abs((right - left) - 24 / 1.5) <= 1
    assert abs((top + bottom) / 2 - 64) <= 0.5 and abs((left + right) / 2 - 48) <= 0.5
    assert block(geometry.Framing(offset=(0.25, 0.0))) == (48, 80, 12, 36)


@pytest.mark.parametrize(
    "scale, offset, words",
    [(2.0, (0.0, 0.0), "crop scale 2 is outside 0.5-1.5"),
     (1.0, (0.3, 0.0), "within ±0.25"),
     (1.0, (0.1,), "needs two numbers")],
)  # fmt: skip
def test_a_framing_that_is_no_longer_a_face_crop_is_a_user_error(scale, offset, words):
    with pytest.raises(InputError, match=words):
        geometry.Framing(scale, offset)


def test_the_face_detector_loads_without_importing_tensorflow():
    """MediaPipe's tasks import TensorFlow for a docs decorator; the detector skips that import
    (seconds of bin/generate's start-up), and TensorFlow still imports whole afterwards."""
    script = (
        "import sys, numpy as np\n"
        "from lipsync_tf.preprocessing.faces import FaceDetector\n"
        "with FaceDetector() as detector:\n"
        "    boxes = detector.detect(np.zeros((64, 64, 3), np.uint8))\n"
        "print(len(boxes), 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
        "from tensorflow.tools.docs import doc_controls\n"
        "print(callable(doc_controls.do_not_generate_docs))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    assert result.stdout.split() == ["0", "False", "False", "True"]
