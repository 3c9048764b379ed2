"""How much resolution the training videos hold around the face, against the model's crop.

A mouth drawn at 2x the crop's scale (issue 28's mouth patch) can only learn detail the
source videos have: a frame whose crop window is 130 source pixels wide holds 1.35x the
96-pixel crop, and a 2x patch cut from it would be an upscale. This prints, per prepared data
directory, the crop window's width in source pixels over the crop's 96 (median per clip), and
the share of frames whose source holds at least 1.5x and 2x.

    python bench/source_resolution.py --data_dir /data/prepared/clips,/data/prepared/grid_s1
"""

from __future__ import annotations

import argparse
import glob

import numpy as np
import tensorflow as tf

from lipsync_tf.config import IMAGE_WIDTH
from lipsync_tf.data import schema


def clip_scales(directory: str) -> tuple[np.ndarray, np.ndarray]:
    """(median crop width / IMAGE_WIDTH per clip, frames per clip) of one prepared directory."""
    spec = {"crop_boxes": schema.FEATURE_SPEC["crop_boxes"]}
    scales, frames = [], []
    for serialized in tf.data.TFRecordDataset(sorted(glob.glob(schema.shard_pattern(directory)))):
        boxes = tf.sparse.to_dense(tf.io.parse_single_example(serialized, spec)["crop_boxes"])
        boxes = boxes.numpy().reshape(-1, 4)
        scales.append(np.median(boxes[:, 2] - boxes[:, 0]) / IMAGE_WIDTH)
        frames.append(len(boxes))
    return np.array(scales), np.array(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", required=True, help="Comma-separated prepared directories.")
    args = parser.parse_args()
    print(f"{'data':<28} {'clips':>6} {'frames':>7}  scale p10 / p50 / p90   >=1.5x  >=2x")
    everything = []
    for directory in args.data_dir.split(","):
        scales, frames = clip_scales(directory)
        if not len(scales):
            raise SystemExit(f"{directory}: no prepared records (run bin/prepare_data).")
        everything.append((scales, frames))
        p10, p50, p90 = np.percentile(scales, [10, 50, 90])
        share = [frames[scales >= limit].sum() / frames.sum() for limit in (1.5, 2.0)]
        print(
            f"{directory[-28:]:<28} {len(scales):>6} {frames.sum():>7}  "
            f"{p10:9.2f} / {p50:.2f} / {p90:.2f}   {share[0]:6.3f} {share[1]:5.3f}"
        )
    scales = np.concatenate([s for s, _ in everything])
    frames = np.concatenate([f for _, f in everything])
    share = [frames[scales >= limit].sum() / frames.sum() for limit in (1.5, 2.0)]
    total = f"{'all':<28} {len(scales):>6} {frames.sum():>7}"
    print(f"{total}  {'':25} {share[0]:6.3f} {share[1]:5.3f}")


if __name__ == "__main__":
    main()
