"""`bin/train`'s main: flags -> configs -> `trainer.train`, with one-line user errors."""

from __future__ import annotations

import os
import sys

from absl import flags

from lipsync_tf.config import DataConfig, ModelConfig, TrainConfig
from lipsync_tf.errors import LipsyncError
from lipsync_tf.flags import FLAGS, config_from_flags, define_config_flags

# bin/train_expert trains on real clips alone, with these data defaults.
EXPERT_DATA_DEFAULTS = {"jitter": 0.05, "speaker_balance": 0.5, "flip": True}
EXPERT_DATA_FIELDS = (
    "data_dir",
    "validation_speakers",
    "offsync_min_frames",
    "flip",
    "jitter",
    "jitter_min_scale",
    "jitter_max_scale",
    "speaker_balance",
    "seed",
)


def define_train_flags() -> None:
    """bin/train: where the model directory is, how to distribute, and every field of
    `DataConfig` and `TrainConfig` (defaults from the dataclasses, so a flagfile lists only what
    it changes)."""
    flags.DEFINE_string("model_dir", None, "Directory for config.json, checkpoints and logs.")
    flags.DEFINE_string(
        "model_config", "configs/models/paper.json", "JSON file with the ModelConfig (sizes)."
    )
    flags.DEFINE_integer(
        "num_cpu_replicas", 0, "Split the CPU into this many logical devices (MirroredStrategy)."
    )
    flags.DEFINE_float(
        "peer_timeout",
        600.0,
        "With TF_CONFIG: seconds to wait for every worker to join before stopping with an error.",
    )
    define_config_flags(DataConfig, required=["data_dir"])
    define_config_flags(TrainConfig)
    flags.mark_flags_as_required(["model_dir"])


def define_train_expert_flags() -> None:
    """bin/train_expert: a frozen lip reader or sync expert for the generator to learn from."""
    from lipsync_tf.training.experts import ExpertTrainConfig

    flags.DEFINE_string("output", None, "The .keras file to write (a .json report goes beside).")
    define_config_flags(ExpertTrainConfig)
    define_config_flags(
        DataConfig, only=EXPERT_DATA_FIELDS, defaults=EXPERT_DATA_DEFAULTS, required=["data_dir"]
    )
    flags.mark_flags_as_required(["output"])


def configs_from_flags() -> tuple[ModelConfig, DataConfig, TrainConfig]:
    model = ModelConfig.from_json(FLAGS.model_config)
    return model, config_from_flags(DataConfig), config_from_flags(TrainConfig)


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
        data = config_from_flags(DataConfig, only=EXPERT_DATA_FIELDS)
        config = config_from_flags(ExpertTrainConfig)
        train_expert(data, AudioFeatureConfig(), config, FLAGS.output)
    except LipsyncError as error:
        print(f"bin/train_expert: {error}", file=sys.stderr)
        sys.exit(1)
