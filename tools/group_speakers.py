#!/usr/bin/env python3
"""Groups unlabelled talking-face clips by identity and writes a speaker map for bin/prepare_data.

    python tools/group_speakers.py --input_dir ../shared/data/lrc_ar --prefix lrc_ar \
        --output configs/data/lrc_ar_speakers.json --cache lrc_ar_descriptors.npz \
        --threshold 0.40 --merge 0.38 --overview docs/lrc_ar_groups

Made for `../shared/data/lrc_ar` (2,065 clips of news anchors, none labelled, clip numbers not
grouped by person), usable on any folder of single-speaker clips.

How: dlib's face recognition network (ResNet, 128-d descriptors; 99.38 % on LFW) describes the
largest face in three frames of each clip (a quarter, half and three quarters in); a clip's
descriptor is their mean. Clips are clustered by average linkage, cut where the mean distance
between two groups' clips reaches `--threshold`; then groups whose mean descriptors are closer
than `--merge` are joined (one person split by hair or lighting). On lrc_ar, dlib's own
same-person threshold (0.6, single link) and Chinese whispers at 0.5 merged several anchors
with similar hair into one group (checked on the contact sheets); average linkage at 0.40 with
merging at 0.38 gave 35 groups that each look like one person. Every group gets a row of
thumbnails on the overview sheets (`--overview`) or a sheet of its own (`--sheets`) to check by
eye; groups too small to trust are named apart (`--min_group`). The map's keys are clip ids as
`bin/prepare_data --layout tree` names them (path below the input folder, without suffix).

Needs dlib and its model files, which are not project dependencies (this is a one-off data
tool): `pip install dlib-bin==20.0.1.post1 face_recognition_models==0.3.0 scipy av numpy
pillow` in a separate virtualenv. Describing 2,065 clips takes about 15 minutes on 2 cores;
with `--cache`, re-clustering takes seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

VIDEO_SUFFIXES = (".mp4", ".mpg", ".avi", ".mov", ".webm", ".mkv")
# Where in each clip the face is described (fractions of its length).
SAMPLE_POSITIONS = (0.25, 0.5, 0.75)
THUMB = (72, 96)  # width, height of a contact-sheet thumbnail


def clip_ids(root: Path) -> list[tuple[str, Path]]:
    """(clip id, path) of every video under `root`: the relative path without its suffix."""
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
    return [(str(p.relative_to(root).with_suffix("")), p) for p in paths]


def sample_frames(path: Path) -> list[np.ndarray]:
    """RGB frames at `SAMPLE_POSITIONS` of the clip."""
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    if not frames:
        return []
    picks = [frames[min(int(p * len(frames)), len(frames) - 1)] for p in SAMPLE_POSITIONS]
    return [np.ascontiguousarray(frame, np.uint8) for frame in picks]


_MODELS = None


def _models():
    global _MODELS
    if _MODELS is None:
        import dlib
        import face_recognition_models as files

        _MODELS = (
            dlib.get_frontal_face_detector(),
            dlib.shape_predictor(files.pose_predictor_five_point_model_location()),
            dlib.face_recognition_model_v1(files.face_recognition_model_location()),
        )
    return _MODELS


def describe(path: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(mean 128-d descriptor of the clip's largest face or None, a face thumbnail or None)."""
    detector, predictor, encoder = _models()
    descriptors, thumb = [], None
    for rgb in sample_frames(path):
        boxes = detector(rgb, 1)
        if not boxes:
            continue
        box = max(boxes, key=lambda b: b.width() * b.height())
        shape = predictor(rgb, box)
        descriptors.append(np.array(encoder.compute_face_descriptor(rgb, shape, 1)))
        if thumb is None:
            thumb = _thumbnail(rgb, box)
    if not descriptors:
        return None, None
    return np.mean(descriptors, axis=0), thumb


def _thumbnail(rgb: np.ndarray, box) -> np.ndarray:
    """The face with some margin, THUMB-sized."""
    cx, cy = (box.left() + box.right()) / 2, (box.top() + box.bottom()) / 2
    half = 0.8 * max(box.width(), box.height())
    x0, y0 = int(max(cx - half, 0)), int(max(cy - 1.2 * half, 0))
    x1, y1 = int(min(cx + half, rgb.shape[1])), int(min(cy + 1.3 * half, rgb.shape[0]))
    return np.asarray(Image.fromarray(rgb[y0:y1, x0:x1]).resize(THUMB))


def _describe_one(item):
    clip_id, path = item
    try:
        return clip_id, *describe(path)
    except (av.error.FFmpegError, OSError) as error:
        print(f"{clip_id}: cannot read ({error})", file=sys.stderr)
        return clip_id, None, None


def cluster(descriptors: np.ndarray, threshold: float, method: str = "average") -> np.ndarray:
    """Labels of descriptors [n, 128]; same label = same person.

    "average": agglomerative clustering with average linkage, cut where the mean distance
    between two groups' members reaches `threshold` (a group joins only what it is close to on
    the whole); "whispers": dlib's Chinese whispers on the graph of pairs closer than
    `threshold` (one close pair can chain two people together)."""
    if method == "whispers":
        import dlib

        vectors = [dlib.vector(list(map(float, d))) for d in descriptors]
        return np.array(dlib.chinese_whispers_clustering(vectors, threshold))
    from scipy.cluster import hierarchy

    tree = hierarchy.linkage(descriptors, method="average", metric="euclidean")
    return hierarchy.fcluster(tree, t=threshold, criterion="distance")


def merge_close_groups(descriptors: np.ndarray, labels: np.ndarray, distance: float) -> np.ndarray:
    """Labels with every two groups whose mean descriptors are closer than `distance` joined,
    closest pair first, until no pair is that close."""
    labels = labels.copy()
    while True:
        names = np.unique(labels)
        centroids = np.stack([descriptors[labels == n].mean(axis=0) for n in names])
        gaps = np.linalg.norm(centroids[:, None] - centroids[None], axis=-1)
        np.fill_diagonal(gaps, np.inf)
        a, b = np.unravel_index(np.argmin(gaps), gaps.shape)
        if gaps[a, b] >= distance:
            return labels
        labels[labels == names[b]] = names[a]


def overview(rows: list[tuple[str, list[np.ndarray]]], columns: int = 10) -> Image.Image:
    """One row per group: its name and size, and up to `columns` thumbnails spread over it."""
    sheet = Image.new("RGB", (110 + columns * THUMB[0], len(rows) * THUMB[1]), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (title, thumbs) in enumerate(rows):
        draw.text((2, r * THUMB[1] + 40), title, fill="black")
        picks = np.linspace(0, len(thumbs) - 1, min(columns, len(thumbs))).round().astype(int)
        for c, index in enumerate(picks):
            sheet.paste(Image.fromarray(thumbs[index]), (110 + c * THUMB[0], r * THUMB[1]))
    return sheet


def contact_sheet(thumbs: list[np.ndarray], title: str, columns: int = 12) -> Image.Image:
    rows = (len(thumbs) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * THUMB[0], rows * THUMB[1] + 16), "white")
    ImageDraw.Draw(sheet).text((4, 2), title, fill="black")
    for index, thumb in enumerate(thumbs):
        x, y = (index % columns) * THUMB[0], 16 + (index // columns) * THUMB[1]
        sheet.paste(Image.fromarray(thumb), (x, y))
    return sheet


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input_dir", required=True)
    parser.add_argument("--prefix", required=True, help="Speaker ids are <prefix>_<NN>.")
    parser.add_argument("--output", required=True, help="The speaker map (JSON) to write.")
    parser.add_argument("--sheets", help="Folder for one contact sheet per group (JPEG).")
    parser.add_argument(
        "--overview",
        help="Folder for overview sheets: one row per group, 12 groups a page (JPEG).",
    )
    parser.add_argument("--method", choices=("average", "whispers"), default="average")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument(
        "--merge",
        type=float,
        default=0.0,
        help="Then merge groups whose mean descriptors are closer than this (one person split "
        "by a haircut or lighting); 0: off.",
    )
    parser.add_argument("--min_group", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max_sheet_clips", type=int, default=48)
    parser.add_argument(
        "--cache", help="An .npz to keep the descriptors in (re-clustering then takes seconds)."
    )
    return parser.parse_args()


def describe_all(clips: list[tuple[str, Path]], workers: int, cache: str | None) -> list[tuple]:
    """(clip id, descriptor or None, thumbnail or None) of every clip: read from `cache` when it
    exists, else described by `workers` processes (and kept in `cache` when named)."""
    if cache and Path(cache).is_file():
        cached = np.load(cache, allow_pickle=False)
        return [
            (cid, d if np.isfinite(d).all() else None, t if np.isfinite(d).all() else None)
            for cid, d, t in zip(
                cached["ids"], cached["descriptors"], cached["thumbs"], strict=True
            )
        ]
    with ProcessPoolExecutor(workers) as pool:
        results = list(pool.map(_describe_one, clips, chunksize=16))
    if cache:
        blank = np.zeros((THUMB[1], THUMB[0], 3), np.uint8)
        np.savez_compressed(
            cache,
            ids=np.array([cid for cid, _, _ in results]),
            descriptors=np.stack(
                [d if d is not None else np.full(128, np.nan) for _, d, _ in results]
            ),
            thumbs=np.stack([t if t is not None else blank for _, _, t in results]),
        )
    return results


def name_groups(described: list[tuple], labels: np.ndarray, args: argparse.Namespace):
    """Names the groups by size, largest first (`<prefix>_NN`, or `<prefix>_smallNN` below
    `--min_group`), writing a contact sheet of each with `--sheets`.

    Returns the speaker map of the described clips, the small groups' names, (name, size,
    spread) of every group and every group's mean descriptor."""
    order = sorted(set(labels), key=lambda label: (-np.sum(labels == label), label))
    speaker_map: dict[str, str] = {}
    small, summary = [], []
    centroids = {}
    for rank, label in enumerate(order):
        members = [i for i in np.flatnonzero(labels == label)]
        name = f"{args.prefix}_{rank:02d}"
        if len(members) < args.min_group:
            name = f"{args.prefix}_small{rank:02d}"
            small.append(name)
        vectors = np.stack([described[i][1] for i in members])
        centroids[name] = vectors.mean(axis=0)
        spread = float(np.linalg.norm(vectors - centroids[name], axis=1).mean())
        summary.append((name, len(members), spread))
        for i in members:
            speaker_map[described[i][0]] = name
        if args.sheets:
            Path(args.sheets).mkdir(parents=True, exist_ok=True)
            thumbs = [described[i][2] for i in members[: args.max_sheet_clips]]
            title = f"{name}: {len(members)} clips (first {len(thumbs)})"
            contact_sheet(thumbs, title).save(Path(args.sheets) / f"{name}.jpg", quality=80)
    return speaker_map, small, summary, centroids


def write_overview(folder: str, prefix: str, described, speaker_map, summary) -> None:
    """Overview sheets of every group, 12 groups a page, in `folder`."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    rows = []
    for name, size, _ in summary:
        members = [i for i, (cid, _, _) in enumerate(described) if speaker_map[cid] == name]
        rows.append((f"{name.removeprefix(prefix + '_')}\n{size} clips", members))
    for page in range(0, len(rows), 12):
        chunk = [(title, [described[i][2] for i in m]) for title, m in rows[page : page + 12]]
        overview(chunk).save(Path(folder) / f"groups_{page // 12}.jpg", quality=70)


def write_speaker_map(args: argparse.Namespace, speaker_map: dict[str, str]) -> None:
    """The map, sorted by clip id, after a comment that says how it was made."""
    report = {
        "_comment": (
            f"Speaker (identity) of every clip of {args.input_dir}, grouped by "
            f"tools/group_speakers.py (dlib face descriptors, {args.method} clustering at "
            f"{args.threshold}); groups of fewer than {args.min_group} clips are named "
            f"{args.prefix}_smallNN, clips without a describable face {args.prefix}_noface."
        ),
        **dict(sorted(speaker_map.items())),
    }
    Path(args.output).write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")


def print_groups(summary: list[tuple[str, int, float]], centroids: dict[str, np.ndarray]) -> None:
    """Each group's size, spread, and its nearest other group: how far apart identities are."""
    names = list(centroids)
    matrix = np.stack([centroids[n] for n in names])
    distances = np.linalg.norm(matrix[:, None] - matrix[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    for (name, size, spread), row in zip(summary, distances, strict=True):
        nearest = names[int(np.argmin(row))] if len(names) > 1 else "-"
        print(f"{name}: {size} clips, spread {spread:.3f}, nearest {nearest} {row.min():.3f}")


def main() -> None:
    args = _parse_args()
    clips = clip_ids(Path(args.input_dir))
    results = describe_all(clips, args.workers, args.cache)
    described = [(cid, d, t) for cid, d, t in results if d is not None]
    missing = sorted(cid for cid, d, _ in results if d is None)
    descriptors = np.stack([d for _, d, _ in described])
    labels = cluster(descriptors, args.threshold, args.method)
    if args.merge:
        labels = merge_close_groups(descriptors, labels, args.merge)
    speaker_map, small, summary, centroids = name_groups(described, labels, args)
    if args.overview:
        write_overview(args.overview, args.prefix, described, speaker_map, summary)
    for clip_id in missing:
        speaker_map[clip_id] = f"{args.prefix}_noface"
    write_speaker_map(args, speaker_map)
    print(f"{len(clips)} clips, {len(described)} described, {len(missing)} without a face")
    print(f"{len(summary)} groups, {len(summary) - len(small)} of at least {args.min_group} clips")
    print_groups(summary, centroids)


if __name__ == "__main__":
    main()
