"""Audio-only mouth-head pretraining: it learns lip shapes from speech and touches nothing else."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from lipsync_tf import model_dir as model_dir_lib
from lipsync_tf.config import AudioFeatureConfig, DataConfig, ModelConfig, TrainConfig
from lipsync_tf.data import reader
from lipsync_tf.errors import ConfigError
from lipsync_tf.evaluation import audio_probe
from lipsync_tf.training import trainer
from lipsync_tf.training.pretrain import pretrain_mouth_head
from tests.data.helpers import make_clip, write_shards


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    # The helpers' clips open the mouth with the loudness (both follow frame index mod 10).
    rng = np.random.default_rng(21)
    directory = tmp_path_factory.mktemp("pretrain_shards")
    write_shards(directory, [make_clip(f"c{i}", f"s{i % 4}", 60, rng) for i in range(8)])
    return DataConfig(data_dir=str(directory), window_frames=8, validation_speakers=("s3",))


def _config() -> ModelConfig:
    return dataclasses.replace(ModelConfig.tiny(), mouth_head=True, blend_mask=True)


def test_audio_only_batches_carry_no_images(data):
    batch = next(iter(reader.training_dataset(data, AudioFeatureConfig(), images=False)))
    assert "frames" not in batch and "still" not in batch
    assert batch["lips_delta"].shape == (4, 8, 40, 2) and batch["audio"].shape == (4, 8, 35, 13)


def test_pretraining_learns_the_mouth_from_speech_and_leaves_the_rest(data):
    generator = model_dir_lib.build_generator(_config())
    others = [
        v for v in generator.trainable_variables
        if not v.path.startswith(("generator/audio_encoder", "generator/mouth_head"))
    ]  # fmt: skip
    before = [v.numpy().copy() for v in others]
    audio = AudioFeatureConfig()
    clips = audio_probe.load_clips(data.data_dir, audio)
    _, held_out = audio_probe.split(clips, ["s3"])

    def head_r():
        return np.mean([
            audio_probe.pearson(audio_probe.head_predictions(generator, c), c.opening)
            for c in held_out
        ])  # fmt: skip

    untrained = head_r()
    strategy = tf.distribute.get_strategy()
    logs = []
    pretrain_mouth_head(generator, data, audio, 120, 16, 3e-3, strategy, logs.append)
    assert head_r() > max(untrained, 0.0) + 0.3, (untrained, head_r())
    assert any("step 100/120" in line for line in logs)
    for b, v in zip(before, others, strict=True):
        np.testing.assert_array_equal(b, v.numpy())


def test_train_pretrains_before_the_first_gan_step_only(data, tmp_path):
    train = TrainConfig(
        train_steps=2, checkpoint_every=2, validation_every=2, validation_batches=1,
        summary_every=1, pretrain_mouth_steps=3, pretrain_batch_size=4,
    )  # fmt: skip
    logs = []
    trainer.train(_config(), data, train, str(tmp_path / "run"), verbose=0, log=logs.append)
    assert sum("mouth head pretraining step 3/3" in line for line in logs) == 1
    logs.clear()
    trainer.train(
        _config(), data, dataclasses.replace(train, train_steps=4), str(tmp_path / "run"),
        verbose=0, log=logs.append,
    )  # fmt: skip
    assert not any("pretraining" in line for line in logs)  # a resumed run does not redo it
    with pytest.raises(ConfigError, match="mouth_head"):
        trainer.build_gan(ModelConfig.tiny(), TrainConfig(pretrain_mouth_steps=5))
