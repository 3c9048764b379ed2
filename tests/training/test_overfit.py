"""A tiny model learns one real clip: the whole pipeline (MediaPipe crop -> TFRecord -> reader ->
GAN steps) carries real signal, not just shapes."""

import numpy as np
import pytest
import tensorflow as tf

from lipsync_tf import model_dir as model_dir_lib
from lipsync_tf.config import DataConfig, ModelConfig, TrainConfig
from lipsync_tf.data import reader, schema
from lipsync_tf.preprocessing import faces
from lipsync_tf.preprocessing.clips import process_clip
from lipsync_tf.preprocessing.layouts import ClipSource
from lipsync_tf.training import trainer


def _l1(generator, batch):
    generated = generator(
        {"still": batch["still"], "audio": batch["audio"], "noise": batch["noise"]}
    )
    return float(np.mean(np.abs(generated.numpy() - batch["frames"].numpy())))


@pytest.mark.large
def test_tiny_model_overfits_one_real_clip(shared_data, tmp_path):
    clip = shared_data / "clips" / "vox2_pcavs_00010.mp4"
    with faces.FaceDetector() as detector:
        record = process_clip(ClipSource(str(clip), None, "V06", "vox2_00010"), detector)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with tf.io.TFRecordWriter(str(data_dir / schema.shard_name(0, 1))) as writer:
        writer.write(schema.serialize(record))

    model = ModelConfig.tiny()
    data = DataConfig(data_dir=str(data_dir), window_frames=8, batch_size=2, deterministic=True)
    train = TrainConfig(train_steps=100, checkpoint_every=100, summary_every=50,
                        validation_every=1000)  # fmt: skip
    sampling = reader.SamplingSpec(model.noise_dim, model.noise_std, train.frame_samples)
    probe = list(reader.training_dataset(data, model.audio, sampling).take(4))

    model_dir = tmp_path / "run"
    untrained = model_dir_lib.build_generator(model)
    trainer.train(model, data, train, str(model_dir), verbose=0)
    trained, _, step = model_dir_lib.restore_generator(model_dir)
    assert step == 100
    before = np.mean([_l1(untrained, batch) for batch in probe])
    after = np.mean([_l1(trained, batch) for batch in probe])
    assert after < 0.5 * before, (before, after)
