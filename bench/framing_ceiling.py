"""How much mouth-opening r a framing leaves to measure: the face mesh on the real video's own
crops at another framing against the same frames at ours.

`bin/evaluate --crop_scale/--crop_offset` scores a model by the correlation of the mouth opening
in its frames with the real video's, both at the other framing. Where the face mesh on the
real frames at that framing no longer agrees with itself at our framing (small faces, edges
replicated past the picture), no model can score well there: this is that ceiling, per clip.

    python bench/framing_ceiling.py --clips /data/held_out/* [--crop_scale 1.4 --crop_offset 0,0.05]
"""

from __future__ import annotations

import argparse

import numpy as np

from lipsync_tf.evaluation import metrics
from lipsync_tf.evaluation.evaluate import crop_clip_faces, decode_for_evaluation, mesh_landmarks
from lipsync_tf.face_geometry import Framing
from lipsync_tf.preprocessing.faces import FaceDetector
from lipsync_tf.preprocessing.landmarks import FaceMesh


def opening(mesh: FaceMesh, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mouth opening per crop and whether the face mesh found a face (as bin/evaluate)."""
    found = mesh_landmarks(mesh, crops)
    return metrics.mouth_opening(found.points), found.valid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", nargs="+", required=True)
    parser.add_argument("--crop_scale", type=float, default=1.4)
    parser.add_argument("--crop_offset", default="0,0.05")
    parser.add_argument("--max_seconds", type=float, default=20.0)
    args = parser.parse_args()
    other = Framing(args.crop_scale, tuple(float(v) for v in args.crop_offset.split(",")))
    mesh = FaceMesh()
    values = []
    with FaceDetector() as detector:
        for clip in args.clips:
            frames, _ = decode_for_evaluation(clip, None, args.max_seconds)
            ours, ours_found = opening(mesh, crop_clip_faces(frames, detector))
            theirs, theirs_found = opening(mesh, crop_clip_faces(frames, detector, other))
            both = ours_found & theirs_found
            values.append(metrics.pearson(ours[both], theirs[both]))
            print(f"{clip}: r {values[-1]:.3f} ({both.mean():.0%} of frames with a face in both)")
    print(
        f"mean r, real at crop scale {other.scale:g} offset {other.offset} vs real at ours: "
        f"{np.mean(values):.3f} over {len(values)} clips"
    )


if __name__ == "__main__":
    main()
