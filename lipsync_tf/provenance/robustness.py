"""What happens to a shared video, done with PyAV (bundled libx264; no system ffmpeg needed).

The tests and `bench/watermark_robustness.py` check the watermark against exactly these: a
re-encode at x264 CRF 30, scaling to half size, and cutting the first 2 s. Every one decodes and
re-encodes the frames from scratch (a new file without the C2PA manifest or any other metadata),
as a sharing site does.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2

DEFAULT_CRF = 23  # x264's own default, for the transformations that do not set one


def reencode(
    source: str | Path,
    target: str | Path,
    crf: int = DEFAULT_CRF,
    scale: float = 1.0,
    skip_seconds: float = 0.0,
) -> Path:
    """Writes `target`: the video of `source` re-encoded with x264 at `crf` (preset medium),
    scaled by `scale` (area-averaged, even sizes) and without its first `skip_seconds`. The
    sound is dropped; the frame rate is kept."""
    target = Path(target)
    with av.open(str(source)) as container, av.open(str(target), "w", format="mp4") as output:
        stream = container.streams.video[0]
        fps = stream.average_rate or 25
        encoder = None
        for index, frame in enumerate(container.decode(stream)):
            if index < round(skip_seconds * float(fps)):
                continue
            rgb = frame.to_ndarray(format="rgb24")
            height, width = rgb.shape[:2]
            size = (max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2))
            if size != (width, height):
                rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            if encoder is None:
                encoder = output.add_stream("libx264", rate=fps)
                encoder.width, encoder.height = size
                encoder.pix_fmt = "yuv420p"
                encoder.options = {"crf": str(crf)}
            for packet in encoder.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                output.mux(packet)
        if encoder is None:
            raise ValueError(f"{source} has no frames after {skip_seconds} s")
        for packet in encoder.encode():
            output.mux(packet)
    return target


# name -> reencode keyword arguments: the three transformations of issue 31.
TRANSFORMATIONS = {
    "x264_crf30": {"crf": 30},
    "half_size": {"scale": 0.5},
    "cut_first_2s": {"skip_seconds": 2.0},
}
