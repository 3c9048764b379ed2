"""What a trained generator puts inside the real open mouth, beside what the real frames have.

Teeth show in the real clips but not in the output (issue 28). This tells apart two reasons:
the drawn pixels lack the bright tones, or the blend mask lets too little of them through.
On the validation clips (one window each, its own first frame as the still), over the frames
whose real mouth is open and trusted, it prints
- the blend mask's mean inside the real inner-lip polygon;
- per system, MOUTH_TONE_QUANTILES quantiles of the colours there (in [-1, 1], mean over
  frames and channels): the real frames, the generated frames, the drawn layer, and both again
  with the real lips' shape forced into the mouth head (teacher forcing, as in training).

    python bench/mouth_inside_probe.py --model_dir runs/cpu_teeth_tones --step 250 \
        --data_dir /data/clips,/data/grid_s1,/data/lrc_ar \
        --validation_speakers grid_spkD,grid_spkH,vox2_V02,vox2_V07,videoretalking_face5
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from probe_common import add_arguments, restore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(parser, window_frames=16)
    parser.add_argument("--max_clips", type=int, default=40)
    args = parser.parse_args()

    import tensorflow as tf

    from lipsync_tf.config import IMAGE_CHANNELS
    from lipsync_tf.training import losses
    from lipsync_tf.training.gan import real_mouth_shape

    generator, step, batches = restore(args, needs=("mouth_head", "blend_mask"))
    tones: dict[str, list[np.ndarray]] = {}
    mask_inside = []
    clips = 0
    for batch in batches:
        inside, counted = losses.open_mouths(batch)
        frames, counted = inside.shape[0], counted.numpy()
        if not counted.any():
            continue
        identity = generator.encode_identity(batch["still"])
        free = generator.generate(identity, batch["audio"], batch["noise"])
        teacher = {"shape": real_mouth_shape(batch), "use": tf.ones([1])}
        forced = generator.generate(identity, batch["audio"], batch["noise"], teacher=teacher)
        videos = {
            "real": batch["frames"],
            "generated": free["frames"],
            "drawn": free["drawn"],
            "generated, real lips": forced["frames"],
            "drawn, real lips": forced["drawn"],
        }
        for name, video in videos.items():
            flat = tf.reshape(video, [frames, -1, IMAGE_CHANNELS])
            tones.setdefault(name, []).append(
                losses.inside_quantiles(flat, inside).numpy()[counted]
            )
        mask = tf.reshape(free["mask"], [frames, -1]).numpy()
        mask_inside.append(mask[counted][inside.numpy()[counted]].mean())
        clips += 1
        if clips >= args.max_clips:
            break
    print(f"{args.model_dir} step {step}: {clips} validation clips with an open, trusted mouth")
    print(f"blend mask's mean inside the real open mouth: {np.mean(mask_inside):.3f}")
    print(f"quantiles inside the real open mouth ({losses.MOUTH_TONE_QUANTILES}, low to high):")
    for name, values in tones.items():
        row = np.concatenate(values).mean(axis=(0, 2))
        print(f"  {name:<22}", " ".join(f"{value:+.2f}" for value in row))


if __name__ == "__main__":
    main()
