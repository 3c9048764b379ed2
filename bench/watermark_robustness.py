"""The watermark on generated videos: its cost (PSNR) and its detection after what sharing does.

For each photo (the stills in ../shared/data, the bundled example and the first frames of seven
real clips), makes an 11-s talking video with the shipped model twice, with both provenance marks
and without (`--no_provenance`), then:
  - PSNR of every 10th frame of the unmarked video marked exactly as `Mp4Writer` marks it,
    against the same frame unmarked (the mark's own cost, before H.264);
  - the detection rate over 2-s windows (`watermark.detect_file`, the decision of `bin/verify`)
    of the marked video as written and after each transformation of issue 31 (x264 CRF 30, half
    size, first 2 s cut; `lipsync_tf.provenance.robustness`), plus half size at CRF 30 together;
  - the same on the unmarked videos (must be 0: no false positives on our own output).

    python bench/watermark_robustness.py [--model exported_models/lipsync] [--keep DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np
import soundfile
from speed_common import REPO, SHARED

from lipsync_tf.inference.generate import GenerateOptions, generate_video
from lipsync_tf.inference.runners import make_runner
from lipsync_tf.provenance import c2pa_manifest, watermark
from lipsync_tf.provenance.marks import UNMARKED
from lipsync_tf.provenance.robustness import TRANSFORMATIONS, reencode

CLIPS = [
    "clips/grid_spkB_brbk7n.mpg",
    "clips/videoretalking_face2.mp4",
    "clips/sadtalker_WDA_KatieHill_000.mp4",
    "clips/dfrf_french.mp4",
    "clips/tpsmm_driving.mp4",
    "clips/vox2_pcavs_00086.mp4",
    "lrc_ar/video/00139.mp4",
]
KINDS = {"as written": None, **TRANSFORMATIONS, "half size + CRF 30": {"scale": 0.5, "crf": 30}}
MIN_SIDE = 200  # smaller outputs are reported apart (docs/provenance.md)


def photos(work: Path) -> list[Path]:
    """The stills, the bundled example, and first frames of real clips saved as PNG."""
    from PIL import Image

    found = [*sorted((SHARED / "stills").iterdir()), REPO / "examples" / "still.jpg"]
    for clip in CLIPS:
        with av.open(str(SHARED / clip)) as container:
            frame = next(container.decode(video=0)).to_image()
        path = work / f"frame_{Path(clip).stem}.png"
        Image.fromarray(np.asarray(frame)).save(path)
        found.append(path)
    return found


def speech(work: Path) -> Path:
    """11 s of real speech: two recordings back to back, 16 kHz mono."""
    parts = []
    for name in ("sadtalker_RD_Radio31_000.wav", "sda_example_audio.wav"):
        import librosa

        wave, _ = librosa.load(SHARED / "audio" / name, sr=16000, mono=True)
        parts.append(wave)
    path = work / "speech.wav"
    soundfile.write(path, np.concatenate(parts), 16000)
    return path


def mark_psnr(unmarked: Path, mark_id: int) -> float:
    """Lowest PSNR (dB, RGB) over every 10th frame of the unmarked video marked as Mp4Writer
    marks it (one `FrameMarker` over all frames in order) against the same frame unmarked."""
    values = []
    marker = watermark.FrameMarker(mark_id)
    with av.open(str(unmarked)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            yuv = cv2.cvtColor(frame.to_ndarray(format="rgb24"), cv2.COLOR_RGB2YUV_I420)
            marked = yuv.copy()
            marker(marked[: frame.height])
            if index % 10:
                continue
            a, b = (cv2.cvtColor(x, cv2.COLOR_YUV2RGB_I420).astype(float) for x in (marked, yuv))
            values.append(10 * np.log10(255**2 / max(np.mean((a - b) ** 2), 1e-12)))
    return min(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "exported_models" / "lipsync")
    parser.add_argument("--keep", type=Path, help="keep the videos in this folder")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="watermark_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    runner = make_runner(args.model, "savedmodel")
    mark_id = watermark.model_mark_id(c2pa_manifest.model_info(runner).sha256)
    audio = speech(work)
    rows = []
    print(
        f"model mark {mark_id}; windows of {watermark.WINDOW_SECONDS:g} s, threshold "
        f"{watermark.THRESHOLD:g}"
    )
    for photo in photos(work):
        marked, plain = work / f"{photo.stem}.mp4", work / f"{photo.stem}_plain.mp4"
        options = GenerateOptions(progress=False, overwrite=True)  # --keep may reuse a folder
        report = generate_video(photo, audio, marked, options, runner=runner)
        generate_video(photo, audio, plain, options, provenance=UNMARKED, runner=runner)
        row = {"photo": photo.name, "size": (report.width, report.height)}
        row["psnr"] = mark_psnr(plain, mark_id)
        for kind, arguments in KINDS.items():
            for label, video in (("marked", marked), ("plain", plain)):
                path = video
                if arguments is not None:
                    path = reencode(
                        video, work / f"{video.stem}_{kind.replace(' ', '_')}.mp4", **arguments
                    )
                result = watermark.detect_file(path)
                hits = [
                    w.score >= watermark.THRESHOLD and w.mark_id == mark_id for w in result.windows
                ]
                row[(kind, label)] = (sum(hits), len(hits), min(w.score for w in result.windows))
        rows.append(row)
        cells = "  ".join(
            f"{kind}: {row[(kind, 'marked')][0]}/{row[(kind, 'marked')][1]} "
            f"(min {row[(kind, 'marked')][2]:.1f})"
            for kind in KINDS
        )
        print(
            f"{photo.name:34s} {report.width}x{report.height}  PSNR {row['psnr']:.1f}  {cells}",
            flush=True,
        )
    for subset, chosen in (
        (f"photos >= {MIN_SIDE} px", [r for r in rows if min(r["size"]) >= MIN_SIDE]),
        ("all photos", rows),
    ):
        print(
            f"\n{subset}: {len(chosen)} videos; lowest PSNR {min(r['psnr'] for r in chosen):.1f} dB"
        )
        for kind in KINDS:
            hit = sum(r[(kind, "marked")][0] for r in chosen)
            total = sum(r[(kind, "marked")][1] for r in chosen)
            false = sum(r[(kind, "plain")][0] for r in chosen)
            plain_total = sum(r[(kind, "plain")][1] for r in chosen)
            print(
                f"  {kind:20s} detected {hit}/{total} windows ({100 * hit / total:.1f} %); "
                f"unmarked twins: {false}/{plain_total} windows wrongly detected"
            )
    print(f"\nvideos in {work}")


if __name__ == "__main__":
    main()
