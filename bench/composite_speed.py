"""What bicubic photo taps cost: `PhotoCompositor.compose` per frame, bicubic (the default) vs
bilinear, side by side in interleaved rounds, on the shipped model's own layers.

The layers come from the shipped model on the bundled example; the photo is the example at its
own size (224x224) and enlarged to 1080x1080 (a phone portrait's face window). Prints the median
milliseconds per frame of each and the ratio bicubic / bilinear.

    python bench/composite_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
from speed_common import REPO, where

from lipsync_tf.audio.io import load_waveform
from lipsync_tf.face_geometry import FaceBox
from lipsync_tf.inference.composite import PhotoCompositor
from lipsync_tf.inference.generate import crop_photo
from lipsync_tf.inference.media import load_image
from lipsync_tf.inference.runners import make_runner

MODEL = REPO / "exported_models" / "lipsync"
PHOTO, SPEECH = REPO / "examples" / "still.jpg", REPO / "examples" / "speech.wav"


def layers_of_example():
    """(flow, mask, drawn, crop window) of the shipped model's first chunk on the example,
    cropped as bin/generate crops it."""
    runner = make_runner(MODEL)
    window, face = crop_photo(load_image(PHOTO), PHOTO.name)
    _, out = next(runner.iter_outputs(runner.encode_face(face), load_waveform(SPEECH), 0))
    return out["flow"], out["mask"], out["drawn"], window


def per_frame_ms(compositor, photo, layers) -> float:
    flow, mask, drawn = layers
    begin = time.perf_counter()
    for index in range(len(flow)):
        compositor.compose(photo, flow[index], mask[index], drawn[index])
    return 1000 * (time.perf_counter() - begin) / len(flow)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    flow, mask, drawn, window = layers_of_example()
    photo = load_image(PHOTO)
    print(where())
    for size in (photo.shape[0], 1080):
        factor = size / photo.shape[0]
        picture = cv2.resize(photo, (size, size), interpolation=cv2.INTER_CUBIC)
        scaled = FaceBox(*(factor * v for v in (window.x0, window.y0, window.x1, window.y1)))
        times: dict[str, list[float]] = {"bicubic": [], "bilinear": []}
        for _ in range(args.repeats):
            for name, taps in (("bicubic", cv2.INTER_CUBIC), ("bilinear", cv2.INTER_LINEAR)):
                compositor = PhotoCompositor(picture.shape, scaled, interpolation=taps)
                times[name].append(per_frame_ms(compositor, picture, (flow, mask, drawn)))
        cubic, linear = (statistics.median(times[k]) for k in ("bicubic", "bilinear"))
        print(
            f"{size}x{size}: bicubic {cubic:.2f} ms/frame, bilinear {linear:.2f} ms/frame, "
            f"ratio {cubic / linear:.2f} (a 25 fps video has 40 ms per frame of real time)"
        )


if __name__ == "__main__":
    main()
