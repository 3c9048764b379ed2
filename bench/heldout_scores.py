"""Issue 29's held-out figures from `bin/evaluate` reports: by kind of speaker, seed, framing.

    python bench/heldout_scores.py REPORT.json [REPORT.json ...] \
        [--speaker_maps configs/data/shared_clips_speakers.json,configs/data/lrc_ar_speakers.json] \
        [--baseline exported_models/lipsync/3] [--output scores.json]

Reports are `bin/evaluate --output` files: any mix of models, framings (--crop_scale,
--crop_offset), seeds and clip folders (e.g. the five held-out shared clips and the held-out
anchors' clips, one report each). Each report says its model, framing and seed. Prints, per model
and framing (lipsync_tf/evaluation/heldout.py):
- per group (GRID, VoxCeleb2-style, HDTF-style, anchors): mouth-opening r (mean over clips,
  then over seeds; each seed's in brackets), spread ratio, LMD and PSNR beside the still's;
- the score (mean r outside GRID) and the same per speaker with its 95 % interval;
- each framing's score and group r as a share of ours (issue 29 asks for 0.85 or more);
- with --baseline (a model path as the reports name it), every other model minus it, paired
  on the clips both scored, per clip and per speaker, with 95 % intervals.
"""

import argparse
import json
import os

from lipsync_tf.evaluation import heldout

DEFAULT_MAPS = ",".join(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "configs", "data", name)
    for name in ("shared_clips_speakers.json", "lrc_ar_speakers.json")
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reports", nargs="+", help="bin/evaluate --output JSON files")
    parser.add_argument("--speaker_maps", default=DEFAULT_MAPS, help="comma-separated JSON maps")
    parser.add_argument("--baseline", help="model path (as in the reports) to pair others with")
    parser.add_argument("--output", help="also write the numbers as JSON here")
    args = parser.parse_args()

    reports = []
    for path in args.reports:
        with open(path) as stream:
            reports.append(json.load(stream))
    runs = heldout.load_runs(reports, heldout.load_speaker_maps(args.speaker_maps.split(",")))
    runs.sort(key=lambda run: (run.model, run.framing != heldout.OUR_FRAMING, run.framing))
    summaries = [heldout.summarise(run) for run in runs]
    for summary in summaries:
        _print_summary(summary)
    ratios = heldout.framing_ratios(summaries)
    if ratios:
        print("\nshare of r at our framing:")
        for ratio in ratios:
            cells = "  ".join(f"{g} {v:.2f}" for g, v in ratio["groups"].items())
            score = f"{ratio['score']:.2f}" if ratio["score"] is not None else "-"
            print(f"  {ratio['model']} at {heldout.framing_name(ratio['framing'])}: "
                  f"score {score}  ({cells})")  # fmt: skip
    pairs = []
    if args.baseline:
        base = {run.framing: run for run in runs if run.model == args.baseline}
        if not base:
            parser.error(f"--baseline {args.baseline}: no report names that model")
        print(f"\nminus {args.baseline}, r outside GRID on the clips both scored:")
        for run in runs:
            if run.model != args.baseline and run.framing in base:
                pair = heldout.paired(run, base[run.framing])
                pairs.append({"model": run.model, **pair})
                print(
                    f"  {run.model} at {heldout.framing_name(run.framing)}: "
                    + "; ".join(_interval(pair, k) for k in ("per_clip", "per_speaker"))
                )
    if args.output:
        with open(args.output, "w") as stream:
            json.dump({"summaries": summaries, "ratios": ratios, "paired": pairs}, stream, indent=2)


def _print_summary(summary: dict) -> None:
    seeds = ",".join(map(str, summary["seeds"]))
    print(f"\n{summary['model']} at {heldout.framing_name(summary['framing'])}, seeds {seeds}")
    header = ("group", "clips", "r", "by seed", "std", "LMD", "still", "PSNR", "still")
    print("  {:<16} {:>5} {:>6}  {:<22} {:>5} {:>7} {:>7} {:>6} {:>6}".format(*header))
    for group, g in summary["groups"].items():
        by_seed = " ".join("-" if v is None else f"{v:.3f}" for v in g["by_seed_r"].values())
        cells = [
            _cell(g[key], fmt)
            for key, fmt in (("r", "6.3f"), ("std_ratio", "5.2f"), ("lmd", "7.4f"),
                             ("lmd_still", "7.4f"), ("psnr", "6.2f"), ("psnr_still", "6.2f"))
        ]  # fmt: skip
        print(f"  {group:<16} {g['clips']:>5} {cells[0]}  {by_seed:<22} " + " ".join(cells[1:]))
    if summary["score"] is not None:
        line = f"  score (mean r outside GRID): {summary['score']:.3f}"
        by_speaker = summary.get("outside_grid_by_speaker")
        if by_speaker:
            low, high = by_speaker["interval95"]
            line += (f"; per speaker {by_speaker['mean']:.3f} ({low:.3f} to {high:.3f}, "
                     f"{by_speaker['speakers']} speakers)")  # fmt: skip
        print(line)


def _cell(value, fmt: str) -> str:
    width = int(fmt.split(".")[0])
    return f"{'-':>{width}}" if value is None else format(value, fmt)


def _interval(pair: dict, key: str) -> str:
    low, high = pair[key]["interval95"]
    count = pair["clips"] if key == "per_clip" else pair["speakers"]
    name = key.replace("_", " ")
    return f"{name} {pair[key]['mean']:+.3f} ({low:+.3f} to {high:+.3f}, {count})"


if __name__ == "__main__":
    main()
