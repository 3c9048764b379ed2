"""Issue 29's held-out scoreboard, from `bin/evaluate --output` reports.

The targets are stated per kind of held-out speaker (GRID, VoxCeleb2-style, HDTF-style, anchors),
over noise seeds, at three framings (ours, 1.4x looser, 0.85x). This module turns any number of
reports (one per model, framing, seed and clip folder) into those figures, one way for every
checkpoint rule:

- per group, the mean over its clips, then the mean over seeds, of mouth-opening r, the spread
  ratio, LMD and PSNR (and the still's LMD and PSNR beside them);
- the score: the mean r of the groups outside GRID;
- the same outside GRID per speaker (clips of one speaker are not independent), with a 95 %
  interval over speakers;
- each framing's score and group r as a share of the model's own at our framing;
- two models paired speaker by speaker on the clips both scored.

A report says its model, framing and seed itself; clips are assigned to speakers by speaker
maps (clip id -> speaker, as `bin/prepare_data --speaker_map` reads), falling back to the
report's own speaker id.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lipsync_tf.evaluation.audio_probe import speaker_group, t_interval

GROUPS = ("GRID", "VoxCeleb2-style", "HDTF-style", "anchors")
OUTSIDE_GRID = GROUPS[1:]
OUR_FRAMING = (1.0, 0.0, 0.0)
# The report's per-clip keys: the model's, and the static still's beside them.
MODEL_KEYS = {"r": "mouth_corr", "std_ratio": "mouth_std_ratio", "lmd": "lmd", "psnr": "psnr"}
STILL_KEYS = {"lmd_still": "lmd", "psnr_still": "psnr"}


@dataclasses.dataclass
class Run:
    """One model at one framing: {seed: {clip id: {speaker, and each measure}}}."""

    model: str
    framing: tuple[float, float, float]  # scale, x offset, y offset
    seeds: dict[int, dict[str, dict]] = dataclasses.field(default_factory=dict)


def load_speaker_maps(paths: list[str]) -> dict[str, str]:
    """clip id -> speaker from JSON maps, as `bin/prepare_data --speaker_map` reads them."""
    from lipsync_tf.preprocessing.layouts import load_speaker_map

    speaker_of: dict[str, str] = {}
    for path in paths:
        speaker_of.update(load_speaker_map(path))
    return speaker_of


def load_runs(reports: list[dict], speaker_of: dict[str, str]) -> list[Run]:
    """Group `bin/evaluate` reports by (model, framing); reports of one seed merge their clips."""
    runs: dict[tuple, Run] = {}
    for report in reports:
        framing = report["framing"]
        key = (report["model"], (float(framing["scale"]), *map(float, framing["offset"])))
        run = runs.setdefault(key, Run(*key))
        clips = run.seeds.setdefault(int(report["seed"]), {})
        for clip in report["clips"]:
            model, still = clip["systems"]["model"], clip["systems"]["static_still"]
            row = {"speaker": speaker_of.get(clip["clip_id"], clip["speaker_id"])}
            row.update({name: model.get(key) for name, key in MODEL_KEYS.items()})
            row.update({name: still.get(key) for name, key in STILL_KEYS.items()})
            clips[clip["clip_id"]] = row
    return list(runs.values())


def _finite(value) -> bool:
    return value is not None and bool(np.isfinite(value))


def _group_mean(clips: dict[str, dict], group: str, measure: str) -> float | None:
    values = [
        row[measure]
        for row in clips.values()
        if speaker_group(row["speaker"]) == group and _finite(row[measure])
    ]
    return float(np.mean(values)) if values else None


def clip_means(run: Run, measure: str = "r") -> dict[str, tuple[str, float]]:
    """clip id -> (speaker, the measure's mean over the seeds that scored the clip)."""
    values: dict[str, list[float]] = {}
    speakers: dict[str, str] = {}
    for clips in run.seeds.values():
        for clip_id, row in clips.items():
            speakers[clip_id] = row["speaker"]
            if _finite(row[measure]):
                values.setdefault(clip_id, []).append(float(row[measure]))
    return {clip_id: (speakers[clip_id], float(np.mean(v))) for clip_id, v in values.items()}


def summarise(run: Run) -> dict:
    """Per group and measure the mean over seeds of the mean over clips; the score; the
    outside-GRID mean per speaker with its 95 % interval (2 or more speakers)."""
    groups: dict[str, dict] = {}
    for group in GROUPS:
        clips = [
            sum(speaker_group(row["speaker"]) == group for row in seed.values())
            for seed in run.seeds.values()
        ]
        if not max(clips):
            continue
        measures = {}
        for measure in (*MODEL_KEYS, *STILL_KEYS):
            per_seed = [_group_mean(seed, group, measure) for seed in run.seeds.values()]
            per_seed = [v for v in per_seed if v is not None]
            measures[measure] = float(np.mean(per_seed)) if per_seed else None
        groups[group] = {"clips": max(clips), "by_seed_r": _by_seed(run, group), **measures}
    outside = [groups[g]["r"] for g in OUTSIDE_GRID if g in groups and groups[g]["r"] is not None]
    summary = {
        "model": run.model,
        "framing": run.framing,
        "seeds": sorted(run.seeds),
        "groups": groups,
        "score": float(np.mean(outside)) if outside else None,
    }
    speakers: dict[str, list[float]] = {}
    for speaker, r in clip_means(run).values():
        if speaker_group(speaker) != "GRID":
            speakers.setdefault(speaker, []).append(r)
    if len(speakers) >= 2:
        mean, _, interval = t_interval(np.array([np.mean(v) for v in speakers.values()]))
        summary["outside_grid_by_speaker"] = {
            "speakers": len(speakers),
            "mean": mean,
            "interval95": interval,
        }
    return summary


def _by_seed(run: Run, group: str) -> dict[int, float | None]:
    return {seed: _group_mean(clips, group, "r") for seed, clips in sorted(run.seeds.items())}


def framing_ratios(summaries: list[dict]) -> list[dict]:
    """Each other framing's score and group r over the same model's at our framing (the score
    over the groups outside GRID that both framings measured)."""
    own = {s["model"]: s for s in summaries if s["framing"] == OUR_FRAMING}
    ratios = []
    for s in summaries:
        base = own.get(s["model"])
        if base is None or s is base:
            continue
        common = [g for g in GROUPS if g in s["groups"] and g in base["groups"]]
        r = {g: (s["groups"][g]["r"], base["groups"][g]["r"]) for g in common}
        r = {g: pair for g, pair in r.items() if None not in pair}
        outside = [g for g in r if g in OUTSIDE_GRID]
        score = None
        if outside:
            score = float(np.mean([r[g][0] for g in outside]) / np.mean([r[g][1] for g in outside]))
        groups = {g: a / b for g, (a, b) in r.items() if b}
        ratios.append(
            {"model": s["model"], "framing": s["framing"], "score": score, "groups": groups}
        )
    return ratios


def paired(candidate: Run, baseline: Run) -> dict:
    """Candidate minus baseline r on the clips both scored (seed means), outside GRID: per clip
    and per speaker, each with its 95 % interval."""
    a, b = clip_means(candidate), clip_means(baseline)
    speakers: dict[str, list[float]] = {}
    for clip_id, (speaker, r) in a.items():
        if clip_id in b and speaker_group(speaker) != "GRID":
            speakers.setdefault(speaker, []).append(r - b[clip_id][1])
    if len(speakers) < 2:
        raise ValueError("pairing needs clips of 2 or more speakers outside GRID scored by both")
    per_clip = np.concatenate([np.array(v) for v in speakers.values()])
    per_speaker = np.array([np.mean(v) for v in speakers.values()])
    result = {"framing": candidate.framing, "clips": len(per_clip), "speakers": len(speakers)}
    for name, values in (("per_clip", per_clip), ("per_speaker", per_speaker)):
        mean, _, interval = t_interval(values)
        result[name] = {"mean": mean, "interval95": interval}
    return result


def framing_name(framing: tuple[float, float, float]) -> str:
    scale, dx, dy = framing
    if framing == OUR_FRAMING:
        return "ours"
    offset = f", centre {dx:+.0%} x {dy:+.0%} y" if (dx, dy) != (0.0, 0.0) else ""
    return f"{scale:g}x{offset}"
