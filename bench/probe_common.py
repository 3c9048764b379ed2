"""What the validation-clip probes share: their arguments, and a trained generator with the
validation clips of its run (one window per clip, the clip's own first frame as the still)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser, window_frames: int) -> None:
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--step", type=int)
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--validation_speakers", required=True)
    parser.add_argument("--window_frames", type=int, default=window_frames)


def restore(args: argparse.Namespace, needs: tuple[str, ...]):
    """(generator, step, validation batches of batch size 1) for `args`; exits
    with one line when the model config lacks any of the `needs` (ModelConfig fields)."""
    from lipsync_tf import model_dir
    from lipsync_tf.config import DataConfig
    from lipsync_tf.data import reader

    config = model_dir.model_config(args.model_dir)
    missing = [need for need in needs if not getattr(config, need)]
    if missing:
        raise SystemExit(
            f"{args.model_dir}'s model config has no {' or '.join(missing)}; this probe needs it."
        )
    generator, _, step = model_dir.restore_generator(args.model_dir, args.step)
    data = DataConfig(
        data_dir=args.data_dir,
        window_frames=args.window_frames,
        batch_size=1,
        validation_speakers=tuple(args.validation_speakers.split(",")),
    )
    sampling = reader.SamplingSpec(config.noise_dim, config.noise_std)
    return generator, step, reader.validation_dataset(data, config.audio, sampling)
