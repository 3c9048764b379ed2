"""Where a trained generator loses the mouth: hearing it, or drawing it.

    python bench/mouth_render_probe.py --model_dir runs/cpu_lipsync [--step N] \
        --data_dir /data/clips \
        --validation_speakers grid_spkD,grid_spkH,vox2_V02,vox2_V07,videoretalking_face5

For a generator with a mouth head (`mouth_head` in its model config), on every validation clip
(one window of --window_frames from its start, its own first frame as the still), the face mesh
measures the mouth opening of frames drawn from:
- `head`: the head's lip shapes, as in inference;
- `real lips`: the real frames' lip shapes (teacher forcing, as in training): how much of a known
  mouth the decoder draws;
- `head xG` for each G in --gains: the head's shapes amplified: whether more amplitude alone
  would help.

Printed per mode, averaged over clips: Pearson r with the real clip's opening, and the ratio of
the generated opening's std to the real one's (bin/evaluate's MouthR and MouthSD), plus the ratio
of the head's lip-shape std to the real shapes' (how much the head's regression shrinks them).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from probe_common import add_arguments, restore


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(parser, window_frames=48)
    parser.add_argument("--gains", default="2,3", help="comma-separated amplifications to try")
    args = parser.parse_args()

    import tensorflow as tf

    from lipsync_tf.face_geometry import mouth_opening
    from lipsync_tf.preprocessing.landmarks import FaceMesh
    from lipsync_tf.training.gan import real_mouth_shape

    generator, step, batches = restore(args, needs=("mouth_head",))
    mesh = FaceMesh()
    gains = [float(gain) for gain in args.gains.split(",") if gain]

    def opening(frames) -> np.ndarray:
        pixels = ((np.clip(frames, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
        points, _ = mesh.video(pixels)
        return mouth_opening(points)

    rows: dict[str, list[tuple[float, float]]] = {}
    shrink = []
    for batch in batches:
        identity = generator.encode_identity(batch["still"])
        real = opening(batch["frames"].numpy()[0])
        real_shape = real_mouth_shape(batch)
        out = generator.generate(identity, batch["audio"], batch["noise"])
        head_shape = out["mouth_shape"]
        shrink.append(float(np.std(head_shape.numpy()) / np.std(real_shape.numpy())))
        modes = {"head": out["frames"]}
        shown = [("real lips", real_shape)]
        shown += [(f"head x{gain:g}", gain * head_shape) for gain in gains]
        for name, shape in shown:
            teacher = {"shape": shape, "use": tf.ones([1])}
            modes[name] = generator.generate(
                identity, batch["audio"], batch["noise"], teacher=teacher
            )["frames"]
        for name, frames in modes.items():
            drawn = opening(frames.numpy()[0])
            rows.setdefault(name, []).append(
                (float(np.corrcoef(drawn, real)[0, 1]), float(drawn.std() / real.std()))
            )
    print(f"{args.model_dir} step {step}, {len(shrink)} validation clips")
    print(f"head's lip-shape std / real lips' std: {np.mean(shrink):.3f}")
    print(f"{'mouth drawn from':<18} {'MouthR':>7} {'MouthSD':>8}")
    for name, values in rows.items():
        values = np.array(values)
        print(f"{name:<18} {np.nanmean(values[:, 0]):7.3f} {values[:, 1].mean():8.3f}")


if __name__ == "__main__":
    main()
