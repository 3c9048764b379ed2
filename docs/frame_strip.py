"""Evenly spaced frames of a video side by side in one PNG (the README's result strip).

python docs/frame_strip.py out.mp4 docs/quickstart_frames.png --frames 8 --height 224
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("output", help="PNG to write")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--height", type=int, default=224)
    args = parser.parse_args()
    try:
        frame_strip(args.video, args.frames, args.height).save(args.output)
    except LipsyncError as error:
        sys.exit(f"frame_strip: {error}")


if __name__ == "__main__":
    main()
