"""How much mouth-opening r a framing leaves to measure: the face mesh on the real video's own
crops at another framing against the same frames at ours.

`bin/evaluate --crop_scale/--crop_offset` scores a model by the correlation of the mouth opening
in its frames with the real video's, both at the other framing. Where the face mesh on the
real frames at that framing no longer agrees with itself at our framing (small faces, edges
replicated past the picture), a mouth that is not the real one scores lower there: this is how
far the two readings agree, per clip.

It also scores near-copies of the real crops against the real crops, at our framing and at the
other: the same frames saved as JPEG (quality 75) and moved by half a pixel. A copy's r at the
other framing over its r at ours is what even a generator that reproduced every frame almost
exactly would keep there of the share `bin/evaluate` compares (issue 29 asks for 0.85).

    python bench/framing_ceiling.py --clips /data/held_out/* [--crop_scale 1.4 --crop_offset 0,0.05]
"""

from __future__ import annotations

import argparse

import cv2
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


def jpeg_copy(crops: np.ndarray, quality: int = 75) -> np.ndarray:
    """Each RGB crop written as a JPEG of this quality and read back."""
    flag = [cv2.IMWRITE_JPEG_QUALITY, quality]
    return np.stack(
        [cv2.imdecode(cv2.imencode(".jpg", crop[..., ::-1], flag)[1], cv2.IMREAD_COLOR)[..., ::-1]
         for crop in crops]
    )  # fmt: skip


def shifted_copy(crops: np.ndarray, pixels: float = 0.5) -> np.ndarray:
    """Each crop moved right and down by `pixels` (bilinear, edges replicated)."""
    height, width = crops.shape[1:3]
    move = np.float32([[1, 0, pixels], [0, 1, pixels]])
    return np.stack(
        [cv2.warpAffine(crop, move, (width, height), borderMode=cv2.BORDER_REPLICATE)
         for crop in crops]
    )  # fmt: skip


COPIES = {"jpeg q75": jpeg_copy, "0.5 px shift": shifted_copy}


def copy_r(mesh: FaceMesh, crops: np.ndarray, copy) -> float:
    """Mouth-opening r of a copy of `crops` against `crops` themselves."""
    real, real_found = opening(mesh, crops)
    copied, copy_found = opening(mesh, copy(crops))
    both = real_found & copy_found
    return metrics.pearson(real[both], copied[both])


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
    copies = {(name, framing): [] for name in COPIES for framing in ("ours", "other")}
    with FaceDetector() as detector:
        for clip in args.clips:
            frames, _ = decode_for_evaluation(clip, None, args.max_seconds)
            crops = {"ours": crop_clip_faces(frames, detector)}
            crops["other"] = crop_clip_faces(frames, detector, other)
            ours, ours_found = opening(mesh, crops["ours"])
            theirs, theirs_found = opening(mesh, crops["other"])
            both = ours_found & theirs_found
            values.append(metrics.pearson(ours[both], theirs[both]))
            line = f"{clip}: r {values[-1]:.3f} ({both.mean():.0%} of frames with a face in both)"
            for (name, framing), found in copies.items():
                found.append(copy_r(mesh, crops[framing], COPIES[name]))
                line += f"; {name} copy at {framing} {found[-1]:.3f}"
            print(line)
    print(
        f"mean r, real at crop scale {other.scale:g} offset {other.offset} vs real at ours: "
        f"{np.mean(values):.3f} over {len(values)} clips"
    )
    for name in COPIES:
        own, theirs = np.mean(copies[name, "ours"]), np.mean(copies[name, "other"])
        print(
            f"mean r of a {name} copy against the real crops: at ours {own:.3f}, at scale "
            f"{other.scale:g} {theirs:.3f}; share kept {theirs / own:.2f}"
        )


if __name__ == "__main__":
    main()
