"""How the mouth looks in what bin/generate writes, against the real video, at the photo's size.

    python bench/mouth_quality.py --model exported_models/lipsync [--model OTHER ...] \
        [--clips CLIP ...] [--seeds 0] [--max_seconds 10] [--mouth_motion layers lip_shape] \
        [--output quality.json]

For each held-out clip (default: the five held-out speakers' clips of ../shared/data/clips and
three clips of each held-out news anchor, configs/data/held_out_anchor_clips.txt), the photo is
the clip's first frame at its own resolution and the speech is the clip's own sound; every model
makes the video through `generate_video` (bin/generate's path: crop, run, composite, encode),
and MediaPipe's face mesh measures every frame of it and of the real video at that resolution:

- lip sharpness: variance of the Laplacian of the grey image in the lip box (the outer-lip
  points' bounding box, 1.5x as wide and 2x as tall, same centre), median over frames, over the
  real video's; eye sharpness the same around the eye points;
- lip colour: mean CIELAB a*, b* over the lip flesh (outer minus inner lip polygon), averaged
  over frames; Euclidean distance to the real video's;
- teeth: over the frames where the real mouth is open, the mean share of the mouth's inside
  brighter than the lips (`metrics.bright_inside_fraction`: teeth, not a dark gap; a closed
  mouth shows none); real_teeth the same in the real video (a share, not a ratio: some real
  mouths hardly show teeth, and a ratio to them would swing);
- mouth opening (inner-lip gap / face height): Pearson r with the real video's, and its std over
  the real one's; for a model with a mouth head also the r of the head's own lip gap (what the
  model hears) beside the output's (what it draws).

The photo itself, repeated, is the baseline row. Prints a table per clip and the mean over
clips; `--output` writes every number as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import av
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lipsync_tf import face_geometry as geometry  # noqa: E402
from lipsync_tf.evaluation import metrics  # noqa: E402
from lipsync_tf.evaluation.frame_mesh import FrameMesh  # noqa: E402

SHARED = Path(os.environ.get("LIPSYNC_SHARED_DATA", REPO.parent / "shared" / "data"))
HELD_OUT_CLIPS = (
    "clips/grid_spkD_lbax4n.mpg",
    "clips/grid_spkH_sbia1a.mpg",
    "clips/vox2_pcavs_00086.mp4",
    "clips/vox2_pcavs_00098.mp4",
    "clips/videoretalking_face5.mp4",
)
ANCHOR_LIST = REPO / "configs" / "data" / "held_out_anchor_clips.txt"
EYES = geometry.RIGHT_EYE_EAR + geometry.LEFT_EYE_EAR
LIPS_OUTER = geometry.OUTER_LIP_CONTOUR
COLUMNS = (
    "lip_sharp", "eye_sharp", "lip_color", "teeth", "real_teeth", "mouth_r", "std_ratio", "head_r"
)  # fmt: skip


def default_clips() -> list[Path]:
    clips = [SHARED / clip for clip in HELD_OUT_CLIPS]
    if ANCHOR_LIST.is_file():
        lines = [line.strip() for line in ANCHOR_LIST.read_text().splitlines()]
        clips += [SHARED / line for line in lines if line and not line.startswith("#")]
    return clips


def read_frames(path: Path, limit: int) -> np.ndarray:
    """RGB frames of a video at 25 fps (the project's decoder), at most `limit`."""
    from lipsync_tf.preprocessing.video import iter_video_frames

    frames = []
    for frame in iter_video_frames(path, 25):
        frames.append(frame)
        if len(frames) == limit:
            break
    return np.stack(frames)


def decode_mp4(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def describe(frames: np.ndarray, mesh: FrameMesh) -> dict[str, np.ndarray]:
    """Per-frame measures of one video: lip and eye sharpness, lip a*b*, mouth opening."""
    rows = []
    for frame in frames:
        points = mesh(frame)
        if points is None:
            rows.append([np.nan] * 6)
            continue
        lips = metrics.landmark_box(points, LIPS_OUTER)
        eyes = metrics.landmark_box(points, EYES)
        ab = metrics.mean_ab(frame, metrics.lip_flesh_mask(points, frame.shape))
        opening = float(geometry.mouth_opening(points))
        rows.append(
            [
                metrics.laplacian_sharpness(frame, lips),
                metrics.laplacian_sharpness(frame, eyes),
                *ab,
                opening,
                metrics.bright_inside_fraction(frame, points),
            ]
        )
    values = np.array(rows, np.float64)
    return {
        "lip_sharp": values[:, 0],
        "eye_sharp": values[:, 1],
        "ab": values[:, 2:4],
        "opening": values[:, 4],
        "teeth": values[:, 5],
    }


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return 0.0
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def teeth_shares(system: np.ndarray, real: np.ndarray) -> tuple[float, float]:
    """Mean bright share inside the mouth over the frames where the real mouth is open, in the
    system's frames (a closed mouth there counts 0) and in the real ones."""
    open_ = np.isfinite(real)
    if not open_.any():
        return math.nan, math.nan
    return float(np.nan_to_num(system[open_]).mean()), float(real[open_].mean())


def compare(system: dict, real: dict, head_gap: np.ndarray | None = None) -> dict[str, float]:
    """The bench's numbers for one system against the real video of the same clip."""
    n = min(len(system["opening"]), len(real["opening"]))
    opening, real_opening = system["opening"][:n], real["opening"][:n]
    result = {
        "lip_sharp": float(np.nanmedian(system["lip_sharp"]) / np.nanmedian(real["lip_sharp"])),
        "eye_sharp": float(np.nanmedian(system["eye_sharp"]) / np.nanmedian(real["eye_sharp"])),
        "lip_color": float(
            np.linalg.norm(np.nanmean(system["ab"], axis=0) - np.nanmean(real["ab"], axis=0))
        ),
        "mouth_r": _pearson(opening, real_opening),
        "std_ratio": float(np.nanstd(opening) / np.nanstd(real_opening)),
        "head_r": math.nan,
    }
    result["teeth"], result["real_teeth"] = teeth_shares(system["teeth"][:n], real["teeth"][:n])
    if head_gap is not None:
        result["head_r"] = _pearson(head_gap[:n], real_opening)
    return result


def head_lip_gap(runner, photo: np.ndarray, audio: Path) -> np.ndarray | None:
    """The mouth head's lip gap per frame (what the model hears), or None without a head."""
    from lipsync_tf.face_geometry import LIP_SHAPE_SCALE, lip_gap
    from lipsync_tf.inference.generate import crop_photo, load_speech

    _, face = crop_photo(photo, str(audio))
    waveform = load_speech(audio, runner.samples_per_frame)
    shapes = [
        outputs["mouth_shape"]
        for _, outputs in runner.iter_outputs(runner.encode_face(face), waveform, seed=0)
        if "mouth_shape" in outputs
    ]
    if not shapes:
        return None
    shapes = np.concatenate(shapes).reshape(-1, 40, 2) * LIP_SHAPE_SCALE
    return lip_gap(shapes)


def run(
    models: list[str],
    clips: list[Path],
    seeds: list[int],
    max_seconds: float,
    backend: str,
    motions: tuple[str, ...] = ("layers",),
    gains: tuple[float, ...] = (),
):
    from lipsync_tf.inference.generate import GenerateOptions, generate_video
    from lipsync_tf.inference.runners import make_runner

    runners = {model: make_runner(model, backend) for model in models}
    mesh = FrameMesh()
    results: dict[str, dict[str, dict[str, float]]] = {}
    limit = int(max_seconds * 25)
    with tempfile.TemporaryDirectory() as folder:
        for clip in clips:
            real_frames = read_frames(clip, limit)
            real = describe(real_frames, mesh)
            photo_path = Path(folder) / f"{clip.stem}.png"
            Image.fromarray(real_frames[0]).save(photo_path)
            row = {
                "photo": compare(describe(real_frames[:1].repeat(len(real_frames), 0), mesh), real)
            }
            variants = [(m, None) for m in motions if m != "lip_shape" or not gains]
            variants += [("lip_shape", gain) for gain in gains if "lip_shape" in motions]
            for (model, runner), (motion, gain), seed in itertools.product(
                runners.items(), variants, seeds
            ):
                output = Path(folder) / f"{clip.stem}-{len(row)}.mp4"
                options = GenerateOptions(seed=seed, progress=False, mouth_motion=motion)
                if gain is not None:
                    options = dataclasses.replace(options, lip_shape_gain=gain)
                generate_video(photo_path, clip, output, options, runner=runner)
                frames = decode_mp4(output)[: len(real_frames)]
                gap = head_lip_gap(runner, real_frames[0], clip) if seed == seeds[0] else None
                name = f"{model} seed {seed}" + ("" if motion == "layers" else f" {motion}")
                name += "" if gain is None else f" gain {gain:g}"
                row[name] = compare(describe(frames, mesh), real, gap)
                output.unlink()
            results[clip.name] = row
            print_table(clip.name, row)
    mesh.close()
    return results


def print_table(title: str, row: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    print(f"  {'system':58s}" + "".join(f"{c:>11s}" for c in COLUMNS))
    for system, values in row.items():
        cells = "".join(f"{values[c]:11.3f}" for c in COLUMNS)
        print(f"  {system[-58:]:58s}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", required=True)
    parser.add_argument("--clips", nargs="*", type=Path)
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--max_seconds", type=float, default=10.0)
    parser.add_argument("--backend", default="savedmodel")
    parser.add_argument(
        "--mouth_motion",
        nargs="*",
        default=["layers"],
        help="bin/generate's --mouth_motion values to run each model with (layers, lip_shape)",
    )
    parser.add_argument(
        "--lip_shape_gains",
        nargs="*",
        type=float,
        default=[],
        help="run lip_shape once per --lip_shape_gain given (default: bin/generate's)",
    )
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    clips = args.clips or default_clips()
    results = run(
        args.model,
        clips,
        args.seeds,
        args.max_seconds,
        args.backend,
        tuple(args.mouth_motion),
        tuple(args.lip_shape_gains),
    )
    systems = list(next(iter(results.values())))
    mean = {
        system: {
            c: float(np.nanmean([results[clip][system][c] for clip in results])) for c in COLUMNS
        }
        for system in systems
    }
    print_table(f"mean over {len(results)} clips", mean)
    if args.output:
        args.output.write_text(json.dumps({"clips": results, "mean": mean}, indent=1) + "\n")


if __name__ == "__main__":
    main()
