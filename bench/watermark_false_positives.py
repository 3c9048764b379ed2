"""The watermark detector on every real clip in ../shared/data: how many are wrongly "found"?

Runs `bin/verify`'s watermark decision (`watermark.detect_file`: every 2-s window of the whole
file, found when any window scores >= THRESHOLD) on all clips in clips/, grid/s1/ and lrc_ar/,
and prints the false positives (the target is 0), the null distribution of the window scores
(the best of 256 allowed shifts, in standard deviations) and the highest-scoring windows.

    python bench/watermark_false_positives.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from speed_common import SHARED

from lipsync_tf.provenance import watermark


def real_clips(shared: Path) -> list[Path]:
    files = sorted(shared.glob("clips/*.mp*"))
    files += sorted((shared / "grid").glob("*/*.mp4"))
    files += sorted((shared / "lrc_ar").glob("*/*.mp4"))
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=SHARED)
    args = parser.parse_args()
    files = real_clips(args.shared)
    begin = time.perf_counter()
    scores, found, top = [], [], []
    for index, path in enumerate(files, 1):
        result = watermark.detect_file(path)
        for window in result.windows:
            scores.append(window.score)
            top.append((window.score, path.relative_to(args.shared), window.start_frame))
        if result.found:
            found.append((path.relative_to(args.shared), round(result.score, 2)))
        if index % 500 == 0:
            print(f"  {index}/{len(files)} files, {time.perf_counter() - begin:.0f} s", flush=True)
    scores = np.array(scores)
    print(
        f"{len(files)} real clips ({len(scores)} windows of up to {watermark.WINDOW_SECONDS:g} s) "
        f"in {time.perf_counter() - begin:.0f} s; threshold {watermark.THRESHOLD:g}"
    )
    print(f"false positives: {len(found)} files {found}")
    percentiles = np.percentile(scores, [99, 99.9])
    print(
        f"window scores: mean {scores.mean():.2f}, std {scores.std():.2f}, 99th percentile "
        f"{percentiles[0]:.2f}, 99.9th {percentiles[1]:.2f}, max {scores.max():.2f}"
    )
    for score, path, start in sorted(top, reverse=True)[:5]:
        print(f"  {score:.2f}  {path} from frame {start}")


if __name__ == "__main__":
    main()
