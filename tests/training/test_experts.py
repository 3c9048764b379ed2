"""The frozen experts: lip reader and sync expert, their training, reports and loading."""

import json

import keras
import numpy as np
import pytest

from lipsync_tf.config import AudioFeatureConfig, DataConfig
from lipsync_tf.errors import ConfigError
from lipsync_tf.models.lip_reader import LipReader
from lipsync_tf.models.sync_expert import SYNC_FRAMES, SyncExpert
from lipsync_tf.training import experts
from tests.data.helpers import make_clip, write_shards


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = np.random.default_rng(7)
    directory = tmp_path_factory.mktemp("expert_shards")
    clips = [make_clip(f"c{i}", f"s{i % 3}", 30, rng, clip_code=i) for i in range(6)]
    write_shards(directory, clips)
    return DataConfig(data_dir=str(directory), validation_speakers=("s2",), seed=1)


def test_lip_reader_maps_crops_to_forty_points(rng):
    reader = LipReader(filters=(4, 4, 8, 8, 8), fc_units=8)
    crops = rng.uniform(-1, 1, (3, 128, 96, 3)).astype(np.float32)
    assert reader(crops).shape == (3, 40, 2)


def test_sync_expert_scores_pairs_and_depends_on_both_inputs(rng):
    expert = SyncExpert(filters=(4, 4, 8, 8), embedding_dim=8)
    frames = rng.uniform(-1, 1, (2, SYNC_FRAMES, 128, 96, 3)).astype(np.float32)
    audio = rng.normal(0, 1, (2, SYNC_FRAMES, 35, 13)).astype(np.float32)
    logits = expert((frames, audio)).numpy()
    assert logits.shape == (2,)
    # logit = scale * cosine + bias, so it is bounded by the scale.
    assert (np.abs(logits) <= 5.0 + 1e-5).all()
    assert np.abs(expert((frames, audio[::-1])).numpy() - logits).max() > 1e-4
    assert np.abs(expert((frames[::-1], audio)).numpy() - logits).max() > 1e-4


@pytest.mark.parametrize("kind", experts.EXPERT_KINDS)
def test_train_expert_writes_a_loadable_model_and_a_held_out_report(data, tmp_path, kind):
    output = tmp_path / f"{kind}.keras"
    config = experts.ExpertTrainConfig(kind=kind, steps=3, batch_size=2)
    logs = []
    report = experts.train_expert(data, AudioFeatureConfig(), config, str(output), logs.append)
    saved = json.loads((tmp_path / f"{kind}.keras.json").read_text())
    assert saved["held_out"] == report["held_out"] and saved["kind"] == kind
    if kind == "lip_reader":
        assert report["held_out"]["clips"] == 2  # the two clips of speaker s2
        assert np.isfinite(report["held_out"]["lip_error_in_shape_units"])
    elif kind == "lip_locator":
        # These frames are noise: the face mesh finds no face to measure against.
        assert report["held_out"]["clips"] == 0
        assert report["held_out"]["point_error_px"] is None
    else:
        # Every 5-frame window of two 30-frame clips, each in sync and shifted.
        assert report["held_out"]["pairs"] == 2 * 2 * 6
        assert 0.0 <= report["held_out"]["accuracy"] <= 1.0
    model = experts.load_expert(str(output), kind)
    assert model.trainable is False
    assert any("held-out" in line for line in logs)
    other = "sync" if kind != "sync" else "lip_reader"
    with pytest.raises(ConfigError, match="not a"):
        experts.load_expert(str(output), other)


def _drawn_mouth_clip(clip_id, speaker, rng):
    """A clip of a grey face whose dark mouth box opens and closes, with matching lips."""
    from lipsync_tf.data.schema import ClipRecord
    from tests.data.helpers import encode_png

    frames, lips, openings = [], [], []
    for index in range(30):
        opening = 0.01 + 0.05 * abs(np.sin(index / 3.0 + rng.uniform()))
        image = np.full((128, 96, 3), 150, np.uint8)
        height = round(opening * 400)
        image[72 : 72 + height, 32:64] = 30
        frames.append(encode_png(image))
        shape = np.zeros((40, 2), np.float32)
        shape[:, 1] = 0.9
        shape[2, 1] += opening  # the lower inner lip (point 14)
        lips.append(shape)
        openings.append(opening)
    return ClipRecord(
        clip_id=clip_id, speaker_id=speaker, source_path="/nowhere", fps=25.0, frames=frames,
        image_format="png", sample_rate=16000,
        audio=rng.uniform(-0.1, 0.1, 30 * 640).astype(np.float32),
        crop_boxes=np.zeros((30, 4), np.float32), source_size=(128, 96),
        lip_landmarks=np.stack(lips), mouth_opening=np.array(openings, np.float32),
        landmark_scores=np.ones(30, np.float32),
    )  # fmt: skip


def test_lip_reader_learns_to_read_a_mouth(tmp_path):
    rng = np.random.default_rng(8)
    clips = [_drawn_mouth_clip(f"c{i}", f"s{i % 3}", rng) for i in range(6)]
    write_shards(tmp_path / "shards", clips)
    data = DataConfig(data_dir=str(tmp_path / "shards"), validation_speakers=("s2",), seed=1)
    config = experts.ExpertTrainConfig(kind="lip_reader", steps=150, batch_size=4)
    report = experts.train_expert(
        data, AudioFeatureConfig(), config, str(tmp_path / "lips.keras"), lambda _: None
    )
    # Held-out clips: the opening it reads follows the drawn one.
    assert report["held_out"]["mouth_opening_r"] > 0.8, report


def _photo_clip(clip_id, speaker, crop, rng):
    """A clip whose every frame is one real face crop (the data pipeline frames each example
    differently), with placeholder lips: the lip locator learns from the face mesh instead."""
    from lipsync_tf.data.schema import ClipRecord
    from tests.data.helpers import encode_png

    return ClipRecord(
        clip_id=clip_id, speaker_id=speaker, source_path="/nowhere", fps=25.0,
        frames=[encode_png(crop)] * 30, image_format="png", sample_rate=16000,
        audio=rng.uniform(-0.1, 0.1, 30 * 640).astype(np.float32),
        crop_boxes=np.zeros((30, 4), np.float32), source_size=(128, 96),
        lip_landmarks=np.zeros((30, 40, 2), np.float32),
        mouth_opening=np.zeros(30, np.float32), landmark_scores=np.ones(30, np.float32),
    )  # fmt: skip


def test_lip_locator_learns_where_the_face_mesh_puts_a_real_faces_points(tmp_path):
    from pathlib import Path

    from lipsync_tf.inference.generate import crop_photo
    from lipsync_tf.inference.media import even_crop, load_image
    from lipsync_tf.preprocessing.faces import crop_face

    path = Path(__file__).resolve().parents[2] / "examples" / "still.jpg"
    photo = even_crop(load_image(path))
    crop = crop_face(photo, crop_photo(photo, path.name)[0])
    rng = np.random.default_rng(9)
    clips = [_photo_clip(f"c{i}", f"s{i % 3}", crop, rng) for i in range(6)]
    write_shards(tmp_path / "shards", clips)
    data = DataConfig(
        data_dir=str(tmp_path / "shards"), validation_speakers=("s2",), seed=1, jitter=0.1,
        jitter_min_scale=0.85, jitter_max_scale=1.5,
    )  # fmt: skip
    config = experts.ExpertTrainConfig(
        kind="lip_locator", steps=300, batch_size=4, cosine_decay=True
    )
    report = experts.train_expert(
        data, AudioFeatureConfig(), config, str(tmp_path / "locator.keras"), lambda _: None
    )
    # Held out at our framing: within a few pixels of the face mesh (an untrained locator
    # answers the crop's middle, tens of pixels away).
    assert report["held_out"]["clips"] == 2
    assert report["held_out"]["lip_point_error_px"] < 3.0, report


def test_bad_expert_settings_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="kind"):
        experts.ExpertTrainConfig(kind="teacher")
    with pytest.raises(ConfigError, match=r"\.keras"):
        experts.train_expert(
            DataConfig(data_dir=str(tmp_path)),
            AudioFeatureConfig(),
            experts.ExpertTrainConfig(),
            str(tmp_path / "x.h5"),
        )
    with pytest.raises(ConfigError, match="does not exist"):
        experts.load_expert(str(tmp_path / "missing.keras"), "sync")
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(tmp_path / "x.keras")
    with pytest.raises(ConfigError, match="not a LipReader"):
        experts.load_expert(str(tmp_path / "x.keras"), "lip_reader")
