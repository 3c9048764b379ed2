"""Reading the user's photo and writing the H.264 + AAC mp4 (PyAV, no system ffmpeg needed)."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import warnings
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from lipsync_tf.console import final_step
from lipsync_tf.errors import InputError
from lipsync_tf.files import check_input_file, check_output, temporary_name

AUDIO_RATE = 48000


# Photos with more pixels are refused from their header, before a pixel is decoded: decoding
# takes 7 bytes a pixel (about 840 MB here), and a tiny file can claim any size (a
# "decompression bomb": 14000x13000 pixels in a 568 KB PNG). The largest phone photos, 108
# megapixels, fit.
MAX_IMAGE_PIXELS = 120_000_000


def image_size(path: str | Path) -> tuple[int, str]:
    """(pixels, "WxH (N megapixels)") of the image at `path`, from its header: nothing is
    decoded. Raises what `PIL.Image.open` raises for a file that is not an image."""
    try:
        with warnings.catch_warnings():
            # Pillow warns from 89 megapixels and refuses twice that; the callers' limits decide.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
    except Image.DecompressionBombError as error:  # not even opened: it states the pixels
        match = re.search(r"\((\d+) pixels\)", str(error))
        pixels = int(match.group(1)) if match else 2 * Image.MAX_IMAGE_PIXELS + 1
        return pixels, f"{pixels / 1e6:.1f} megapixels"
    return width * height, f"{width}x{height} ({width * height / 1e6:.1f} megapixels)"


def load_image(path: str | Path) -> np.ndarray:
    """Any PIL-readable photo (jpg/png/webp/bmp; RGB, RGBA, greyscale) -> RGB uint8 [H, W, 3].

    EXIF rotation is applied; transparent areas are composited over white. A photo over
    `MAX_IMAGE_PIXELS` is refused from its header.
    """
    path = check_input_file(path, "image")
    try:
        pixels, size = image_size(path)
        if pixels > MAX_IMAGE_PIXELS:
            raise InputError(
                f"image {path} is {size}, more than the {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels "
                "bin/generate reads; scale it down."
            )
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                rgba = image.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image = Image.alpha_composite(background, rgba)
            rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise InputError(
            f"cannot read image {path} ({type(error).__name__}); give a jpg, png, webp or bmp "
            "photo."
        ) from error
    if min(rgb.shape[:2]) < 2:
        height, width = rgb.shape[:2]
        raise InputError(f"image {path} is {width}x{height} pixels; give a photo of a face.")
    return rgb


# The output's default pixel budget: the area of 1080p. H.264 level 4 (25 fps up to 8192 16x16
# macroblocks per frame) covers it, and every phone, browser and desktop player decodes level 4;
# a 12-megapixel photo kept at full size needs level 6, which many players refuse.
MAX_OUTPUT_PIXELS = 1920 * 1080


def fit_pixels(rgb: np.ndarray, max_pixels: int | None) -> np.ndarray:
    """`rgb` scaled down (area-averaged) to at most `max_pixels` pixels, keeping its shape; as it
    is when it already fits or `max_pixels` is 0 or None."""
    height, width = rgb.shape[:2]
    if not max_pixels or height * width <= max_pixels:
        return rgb
    scale = (max_pixels / (height * width)) ** 0.5
    size = (max(int(width * scale), 2), max(int(height * scale), 2))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def even_crop(frame: np.ndarray) -> np.ndarray:
    """Drops the last row/column of an odd-sized frame (H.264 yuv420p needs even sizes)."""
    height, width = frame.shape[:2]
    return frame[: height - height % 2, : width - width % 2]


class Mp4Writer:
    """Writes RGB frames (H.264, yuv420p) and mono float audio (AAC) to `path` atomically.

    The file is written under a temporary name in the same folder (`temporary_name`) and takes
    its real name on `close()`, all at once and only if no file of that name appeared meanwhile
    (unless `overwrite`). `abort()`, or leaving a `with` block by an exception (a user error,
    a bug, Ctrl-C or SIGTERM, see `console`), deletes it, so a failed run leaves nothing.

    Provenance hooks (`lipsync_tf.provenance.marks`): `mark_luma(y)` changes each frame's luma
    plane (uint8 [height, width]) in place just before it is encoded (the watermark);
    `before_publish(temp_path)` may rewrite the finished temporary file in place (the signed
    manifest) before it takes its name; if it raises (or is interrupted), the file is deleted
    and nothing is written.
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: int = 25,
        audio_rate: int | None = AUDIO_RATE,
        crf: int = 20,
        overwrite: bool = False,
        mark_luma: Callable[[np.ndarray], None] | None = None,
        before_publish: Callable[[Path], None] | None = None,
    ):
        self.path = check_output(path, overwrite=overwrite)
        self.overwrite = overwrite
        self.mark_luma, self.before_publish = mark_luma, before_publish
        self.temp = temporary_name(self.path)
        self.container = None
        self.closed = False
        try:
            self.container = av.open(str(self.temp), mode="w", format="mp4")
        except OSError as error:
            raise InputError(f"cannot write {self.path}: {error.strerror}.") from error
        try:
            self.video = self.container.add_stream("libx264", rate=fps)
            self.video.width, self.video.height = width, height
            self.video.pix_fmt = "yuv420p"
            self.video.options = {"crf": str(crf), "preset": "veryfast"}
            self.audio = None
            self.audio_rate = audio_rate
            self._audio_samples = 0
            if audio_rate:
                self.audio = self.container.add_stream("aac", rate=audio_rate)
                self.audio.layout = "mono"
            self.frames_written = 0
        except BaseException:
            self.abort()
            raise

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write_frame(self, rgb: np.ndarray) -> None:
        """rgb: uint8 [height, width, 3] matching the size given at construction."""
        # OpenCV's RGB -> I420 is the encoder's own BT.601 limited-range conversion (within 2
        # levels of swscale's) at a tenth of the time: on a 1280x1280 photo 0.4 ms, not 2.5.
        yuv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)
        if self.mark_luma is not None:
            self.mark_luma(yuv[: self.video.height])
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        for packet in self.video.encode(frame):
            self.container.mux(packet)
        self.frames_written += 1

    def write_audio(self, samples: np.ndarray) -> None:
        """samples: float32 [n] mono at `audio_rate`, in order (call as often as convenient)."""
        if self.audio is None or len(samples) == 0:
            return
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, np.float32)[None], format="fltp", layout="mono"
        )
        frame.sample_rate = self.audio_rate
        frame.pts = self._audio_samples
        frame.time_base = Fraction(1, self.audio_rate)
        self._audio_samples += len(samples)
        for packet in self.audio.encode(frame):
            self.container.mux(packet)

    def close(self) -> Path:
        """Flushes the encoders, runs `before_publish` and gives the file its name (once; later
        calls do nothing)."""
        if self.closed:
            return self.path
        try:
            for stream in (self.video, self.audio):
                if stream is not None:
                    for packet in stream.encode():
                        self.container.mux(packet)
            self.container.close()
            if self.before_publish is not None:  # still interruptible: nothing is published
                self.before_publish(self.temp)
            with final_step():
                self._publish()
        except BaseException:
            self.abort()
            raise
        self.closed = True
        return self.path

    def _publish(self) -> None:
        """Temporary name -> `path`. Without `overwrite` a hard link does it, which fails if
        `path` exists, so of two runs writing one file the second is told, not silently lost."""
        if self.overwrite:
            os.replace(self.temp, self.path)
            return
        try:
            os.link(self.temp, self.path)
        except FileExistsError:
            raise InputError(
                f"output {self.path} appeared while this run was writing it (another run?); "
                "nothing written: give another name, or --overwrite to replace it."
            ) from None
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
            # A file system without hard links (FAT, some network mounts): check, then rename.
            if self.path.exists():
                raise InputError(
                    f"output {self.path} appeared while this run was writing it; nothing "
                    "written: give another name, or --overwrite to replace it."
                ) from None
            os.replace(self.temp, self.path)
            return
        self.temp.unlink()

    def abort(self) -> None:
        """Deletes the temporary file, whatever state the muxer is in."""
        self.closed = True
        if self.container is not None:
            with contextlib.suppress(Exception):
                self.container.close()
        self.temp.unlink(missing_ok=True)
