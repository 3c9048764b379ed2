"""Evenly spaced frames of a video side by side in one PNG (the README's result strips).

python docs/frame_strip.py out.mp4 docs/quickstart_frames.png --frames 8 --height 224
python docs/frame_strip.py out.mp4 docs/quickstart_mouth.png --frames 7 --mouth_of PHOTO

With --mouth_of, every tile is the mouth: the box around the photo's lips (MediaPipe's face mesh
on the photo, 1.6x the lips' width, 2.6x their height) cut from the photo and from each picked
frame at their own resolution and shown at 2x; the photo's own mouth is the first tile.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from PIL import Image

from lipsync_tf.errors import LipsyncError
from lipsync_tf.preprocessing.video import iter_video_frames


def frame_strip(video: str, count: int, height: int) -> Image.Image:
    frames = list(iter_video_frames(video))
    picks = np.linspace(0, len(frames) - 1, count).round().astype(int)
    tiles = []
    for index in picks:
        tile = Image.fromarray(frames[index])
        width = round(tile.width * height / tile.height)
        tiles.append(np.asarray(tile.resize((width, height), Image.Resampling.LANCZOS)))
    return Image.fromarray(np.concatenate(tiles, axis=1))


def mouth_strip(video: str, photo: str, count: int) -> Image.Image:
    from lipsync_tf import face_geometry as geometry
    from lipsync_tf.evaluation.frame_mesh import FrameMesh
    from lipsync_tf.evaluation.metrics import landmark_box

    still = np.asarray(Image.open(photo).convert("RGB"))
    mesh = FrameMesh()
    try:
        points = mesh(still)
    finally:
        mesh.close()
    if points is None:
        raise LipsyncError(f"no face found in {photo}")
    x0, y0, x1, y1 = landmark_box(points, geometry.OUTER_LIP_CONTOUR, widen=1.6, heighten=2.6)
    frames = list(iter_video_frames(video))
    picks = np.linspace(0, len(frames) - 1, count).round().astype(int)
    tiles = []
    for image in [still] + [frames[index] for index in picks]:
        crop = Image.fromarray(image[max(y0, 0) : y1, max(x0, 0) : x1])
        tiles.append(
            np.asarray(crop.resize((crop.width * 2, crop.height * 2), Image.Resampling.LANCZOS))
        )
    gap = np.full((tiles[0].shape[0], 6, 3), 255, np.uint8)
    return Image.fromarray(np.concatenate([tiles[0], gap, *tiles[1:]], axis=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("output", help="PNG to write")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--height", type=int, default=224)
    parser.add_argument("--mouth_of", metavar="PHOTO", help="close-up of the mouth, photo first")
    args = parser.parse_args()
    try:
        if args.mouth_of:
            strip = mouth_strip(args.video, args.mouth_of, args.frames)
        else:
            strip = frame_strip(args.video, args.frames, args.height)
        strip.save(args.output)
    except LipsyncError as error:
        sys.exit(f"frame_strip: {error}")


if __name__ == "__main__":
    main()
