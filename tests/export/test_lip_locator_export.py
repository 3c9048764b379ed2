"""`bin/export --lip_locator`: the SavedModel's whole-recording signatures move the still's own
lips to the lip shape the mouth head hears, as bin/generate's default motion does."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from lipsync_tf import face_geometry as geometry
from lipsync_tf.errors import ConfigError, InputError
from lipsync_tf.export.saved_model import export_model
from lipsync_tf.inference.generate import crop_photo
from lipsync_tf.inference.lip_rig import LipRig
from lipsync_tf.inference.media import even_crop, load_image
from lipsync_tf.model_dir import build_generator, save_generator_checkpoint
from lipsync_tf.models.lip_locator import LipLocator
from lipsync_tf.preprocessing.faces import crop_face
from lipsync_tf.preprocessing.landmarks import FaceMesh
from tests.export.helpers import TRAINING_STEP, lip_sync_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def face():
    """The bundled photo's 128x96 crop and the face mesh's points on it."""
    photo = even_crop(load_image(REPO / "examples" / "still.jpg"))
    still = crop_face(photo, crop_photo(photo, "still.jpg")[0])
    points, score = FaceMesh().image(still)
    assert score >= geometry.MIN_FACE_SCORE
    return still, points[:, :2]


def locator_at(points: np.ndarray, path: Path) -> Path:
    """A LipLocator that answers `points` (the RIG_POINTS of [468, 2]) for any crop: its last
    layer's weights are zero and its bias holds the points. Saved to `path`."""
    locator = LipLocator(filters=(4, 4, 8, 8, 8), fc_units=8)
    locator.build()
    last = locator.body[-1]
    size = np.array([96.0, 128.0])
    relative = points[list(geometry.RIG_POINTS)] / size - 0.5
    last.set_weights([np.zeros_like(last.get_weights()[0]), relative.ravel().astype(np.float32)])
    locator.save(path)
    return path


@pytest.fixture(scope="module")
def loud_model_dir(tmp_path_factory):
    """The tiny lip-sync model with its (untrained) mouth head made 40x louder, so the head's
    shapes move the lips by pixels, not fractions of one."""
    import keras

    keras.utils.set_random_seed(0)
    config = lip_sync_config()
    generator = build_generator(config)
    kernel, bias = generator.mouth_head.get_weights()
    generator.mouth_head.set_weights([40 * kernel, bias])
    path = tmp_path_factory.mktemp("loud") / "model_dir"
    save_generator_checkpoint(path, generator, {"model": config.to_dict()}, TRAINING_STEP)
    return path


def speech(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.3 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(
        np.float32
    )


def test_served_frames_are_the_stills_lips_moved_as_bin_generate_moves_them(
    face, loud_model_dir, tmp_path
):
    still, points = face
    locator = locator_at(points, tmp_path / "locator.keras")
    moved = export_model(loud_model_dir, tmp_path / "moved", lip_locator=locator).version_dir
    plain = export_model(loud_model_dir, tmp_path / "plain").version_dir
    serve = tf.saved_model.load(str(moved)).signatures["serving_default"]
    seed = tf.constant(0, tf.int64)
    served = serve(face=still, audio=speech(1.2), seed=seed)
    # The rest pose, as bin/generate takes it: the head on a second of silence.
    quiet = serve(face=still, audio=np.zeros(16000, np.float32), seed=seed)["mouth_shape"]
    rest = quiet.numpy()[-15:].mean(axis=0)
    rig = LipRig(still, points, rest)
    reference = np.stack([rig.compose(still, shape) for shape in served["mouth_shape"].numpy()])
    frames = served["frames"].numpy().astype(np.float32)
    motion = np.abs(reference.astype(np.float32) - still).mean()
    assert motion > 0.3, "the head's shapes should move the lips visibly"
    assert np.abs(frames - reference).mean() < 0.25 * motion
    decoder = tf.saved_model.load(str(plain)).signatures["serving_default"]
    decoded = decoder(face=still, audio=speech(1.2), seed=seed)["frames"].numpy()
    assert np.abs(decoded.astype(np.float32) - frames).mean() > motion
    assert "lip_locator" in (moved / "config.json").read_text()
    assert "move the photo's own lips" in (moved / "MODEL_CARD.md").read_text()
    assert "move the photo's own lips" not in (plain / "MODEL_CARD.md").read_text()


def test_a_lip_locator_needs_a_mouth_head_and_an_existing_file(tiny_export, face, tmp_path):
    model_dir, _ = tiny_export
    locator = locator_at(face[1], tmp_path / "locator.keras")
    with pytest.raises(ConfigError, match="mouth head"):
        export_model(model_dir, tmp_path / "x", lip_locator=locator)
    with pytest.raises(InputError, match="train it with bin/train_expert"):
        export_model(model_dir, tmp_path / "x", lip_locator=tmp_path / "missing.keras")
    assert not (tmp_path / "x" / "1").exists()
