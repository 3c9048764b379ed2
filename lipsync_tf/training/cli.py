"""`bin/train`'s main: flags -> configs -> `trainer.train`, with one-line user errors."""

from __future__ import annotations

import dataclasses
import os
import sys

from lipsync_tf.config import DataConfig, ModelConfig, TrainConfig
from lipsync_tf.errors import LipsyncError
from lipsync_tf.flags import FLAGS


def configs_from_flags() -> tuple[ModelConfig, DataConfig, TrainConfig]:
    model = ModelConfig.from_json(FLAGS.model_config)
    data = DataConfig(
        data_dir=FLAGS.data_dir,
        window_frames=FLAGS.window_frames,
        batch_size=FLAGS.batch_size,
        still=FLAGS.still,
        validation_speakers=tuple(FLAGS.validation_speakers),
        validation_fraction=FLAGS.validation_fraction,
        offsync_min_frames=FLAGS.offsync_min_frames,
        flip=FLAGS.flip,
        jitter=FLAGS.jitter,
        jitter_max_scale=FLAGS.jitter_max_scale,
        color_jitter=FLAGS.color_jitter,
        audio_gain_db=FLAGS.audio_gain_db,
        audio_tilt=FLAGS.audio_tilt,
        speaker_balance=FLAGS.speaker_balance,
        seed=FLAGS.seed,
        deterministic=FLAGS.deterministic,
    )
    train_fields = {field.name for field in dataclasses.fields(TrainConfig)}
    train = TrainConfig(**{name: FLAGS[name].value for name in train_fields if name in FLAGS})
    return model, data, train


def main(argv) -> None:
    del argv
    # Imported late so --help stays fast and logical CPU devices can be set up first.
    from lipsync_tf.training import trainer

    try:
        model, data, train = configs_from_flags()
        result = trainer.train(
            model,
            data,
            train,
            FLAGS.model_dir,
            num_cpu_replicas=FLAGS.num_cpu_replicas,
            peer_timeout=FLAGS.peer_timeout,
        )
    except LipsyncError as error:
        print(f"bin/train: {error}", file=sys.stderr)
        if isinstance(error, trainer.PeerLostError):
            # The collective that failed left TensorFlow's distributed runtime half torn down (a
            # ThreadPool whose map raised is never closed); the interpreter's own teardown then
            # prints "Exception ignored in Pool.__del__ ... OSError" after the line above, or
            # waits on the dead peer. The checkpoints are on disk already: leave at once.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)
        sys.exit(1)
    # The weights' fingerprint lets the workers of a cluster be compared: they must agree.
    print(
        f"Trained to step {result.step} in {result.seconds:.0f} s "
        f"({result.frames_per_second:.1f} frames/s); checkpoints in "
        f"{os.path.join(FLAGS.model_dir, 'checkpoints')}; generator sha256 "
        f"{result.generator_sha256[:16]}"
    )


def train_expert_main(argv) -> None:
    """`bin/train_expert`'s main: flags -> `experts.train_expert`, one-line user errors."""
    del argv
    from lipsync_tf.config import AudioFeatureConfig
    from lipsync_tf.training.experts import ExpertTrainConfig, train_expert

    try:
        data = DataConfig(
            data_dir=FLAGS.data_dir,
            validation_speakers=tuple(FLAGS.validation_speakers),
            offsync_min_frames=FLAGS.offsync_min_frames,
            flip=FLAGS.flip,
            jitter=FLAGS.jitter,
            speaker_balance=FLAGS.speaker_balance,
            seed=FLAGS.seed,
        )
        config = ExpertTrainConfig(
            kind=FLAGS.kind,
            steps=FLAGS.steps,
            learning_rate=FLAGS.learning_rate,
            batch_size=FLAGS.batch_size,
            seed=FLAGS.seed,
        )
        train_expert(data, AudioFeatureConfig(), config, FLAGS.output)
    except LipsyncError as error:
        print(f"bin/train_expert: {error}", file=sys.stderr)
        sys.exit(1)
