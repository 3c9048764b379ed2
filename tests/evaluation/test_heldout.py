"""Issue 29's held-out scoreboard: known answers on constructed reports, and real reports."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lipsync_tf.evaluation import heldout
from tests.conftest import SHARED_DATA

REPO = Path(__file__).resolve().parents[2]
SPEAKERS = {"g1": "grid_spkD", "v1": "vox2_V02", "h1": "videoretalking_face5",
            "a1": "lrc_ar_13", "a2": "lrc_ar_13", "a3": "lrc_ar_15"}  # fmt: skip


def _report(model: str, seed: int, r: dict, scale: float = 1.0, offset=(0.0, 0.0), **extra):
    """The part of a `bin/evaluate --output` report the scoreboard reads: r per clip, and the
    other measures constant unless given per clip in `extra` ({measure: {clip: value}})."""
    clips = []
    for clip_id, value in r.items():
        model_row = {"mouth_corr": value, "mouth_std_ratio": 1.0, "lmd": 0.02, "psnr": 20.0}
        model_row.update({k: v[clip_id] for k, v in extra.items() if clip_id in v})
        still = {"lmd": 0.03, "psnr": 21.0}
        clips.append(
            {"clip_id": clip_id, "speaker_id": clip_id,
             "systems": {"model": model_row, "static_still": still}}
        )  # fmt: skip
    framing = {"scale": scale, "offset": list(offset)}
    return {"model": model, "seed": seed, "framing": framing, "clips": clips}


def test_groups_average_clips_then_seeds_and_the_score_leaves_grid_out():
    seed0 = _report("m", 0, {"g1": 0.8, "v1": 0.4, "h1": 0.2, "a1": 0.1, "a2": 0.3, "a3": 0.5})
    seed1 = _report("m", 1, {"g1": 0.6, "v1": 0.2, "h1": 0.4, "a1": 0.3, "a2": 0.1, "a3": 0.2})
    (run,) = heldout.load_runs([seed0, seed1], SPEAKERS)
    summary = heldout.summarise(run)
    groups = summary["groups"]
    assert summary["seeds"] == [0, 1]
    assert groups["GRID"]["r"] == pytest.approx(0.7)
    assert groups["anchors"]["by_seed_r"] == pytest.approx({0: 0.3, 1: 0.2})
    assert groups["anchors"]["r"] == pytest.approx(0.25) and groups["anchors"]["clips"] == 3
    assert summary["score"] == pytest.approx((0.3 + 0.3 + 0.25) / 3)  # Vox, HDTF, anchors
    assert groups["anchors"]["lmd_still"] == pytest.approx(0.03)
    # Per speaker outside GRID: vox2_V02 0.3, the HDTF clip 0.3, lrc_ar_13 0.2, lrc_ar_15 0.35.
    by_speaker = summary["outside_grid_by_speaker"]
    assert by_speaker["speakers"] == 4
    assert by_speaker["mean"] == pytest.approx((0.3 + 0.3 + 0.2 + 0.35) / 4)
    low, high = by_speaker["interval95"]
    assert low < by_speaker["mean"] < high


def test_reports_of_one_seed_merge_and_a_clip_without_r_is_left_out():
    shared = _report("m", 0, {"g1": 0.8, "v1": 0.4, "h1": None})
    anchors = _report("m", 0, {"a1": 0.1, "a2": 0.3}, lmd={"a1": 0.05})
    (run,) = heldout.load_runs([shared, anchors], SPEAKERS)
    summary = heldout.summarise(run)
    assert set(run.seeds[0]) == {"g1", "v1", "h1", "a1", "a2"}
    assert summary["groups"]["HDTF-style"]["r"] is None  # the mesh found too little
    assert summary["score"] == pytest.approx((0.4 + 0.2) / 2)
    assert summary["groups"]["anchors"]["lmd"] == pytest.approx((0.05 + 0.02) / 2)


def test_each_framing_is_a_share_of_the_same_models_r_at_ours():
    own = _report("m", 0, {"g1": 0.8, "v1": 0.4, "h1": 0.2, "a1": 0.3})
    loose = _report("m", 0, {"g1": 0.4, "v1": 0.1, "h1": 0.2, "a1": 0.3}, scale=1.4,
                    offset=(0.0, 0.05))  # fmt: skip
    partial = _report("m", 0, {"g1": 0.6, "v1": 0.2}, scale=0.85)  # only two groups measured
    runs = heldout.load_runs([loose, own, partial], SPEAKERS)
    summaries = [heldout.summarise(run) for run in runs]
    ratios = {r["framing"]: r for r in heldout.framing_ratios(summaries)}
    assert set(ratios) == {(1.4, 0.0, 0.05), (0.85, 0.0, 0.0)}
    assert ratios[(1.4, 0.0, 0.05)]["groups"]["GRID"] == pytest.approx(0.5)
    assert ratios[(1.4, 0.0, 0.05)]["score"] == pytest.approx(0.6 / 0.9)
    # Judged on the groups both framings measured: VoxCeleb2 only, not against a 3-group score.
    assert ratios[(0.85, 0.0, 0.0)]["score"] == pytest.approx(0.5)
    assert heldout.framing_name((1.4, 0.0, 0.05)) == "1.4x, centre +0% x +5% y"
    assert heldout.framing_name(heldout.OUR_FRAMING) == "ours"


def test_pairing_two_models_uses_common_clips_outside_grid_per_clip_and_per_speaker():
    base = _report("base", 0, {"g1": 0.9, "v1": 0.4, "a1": 0.1, "a2": 0.3, "a3": 0.2})
    cand = _report("cand", 0, {"g1": 0.1, "v1": 0.5, "a1": 0.3, "a2": 0.3, "h1": 0.9})
    runs = {run.model: run for run in heldout.load_runs([base, cand], SPEAKERS)}
    pair = heldout.paired(runs["cand"], runs["base"])
    # Common clips outside GRID: v1 +0.1, a1 +0.2, a2 0.0 (g1 is GRID, h1 and a3 one-sided).
    assert (pair["clips"], pair["speakers"]) == (3, 2)
    assert pair["per_clip"]["mean"] == pytest.approx(0.1)
    assert pair["per_speaker"]["mean"] == pytest.approx((0.1 + 0.1) / 2)
    lonely = _report("lonely", 0, {"v1": 0.5})
    runs["lonely"] = heldout.load_runs([lonely], SPEAKERS)[0]
    with pytest.raises(ValueError, match="2 or more speakers"):
        heldout.paired(runs["lonely"], runs["base"])


def test_real_reports_of_two_seeds_and_two_framings_score_through_the_bench_script(
    tiny_saved_model,
    tmp_path,
):
    """bin/evaluate's own reports (a tiny model, one real GRID and one real VoxCeleb2 clip, 2 s)
    read by bench/heldout_scores.py: every seed and framing is found and named."""
    data = tmp_path / "clips"
    data.mkdir()
    for relative in ("clips/grid_spkD_lbax4n.mpg", "clips/vox2_pcavs_00086.mp4"):
        if not (SHARED_DATA / relative).is_file():
            pytest.skip(f"real clip {SHARED_DATA / relative} not found; set LIPSYNC_SHARED_DATA")
        (data / Path(relative).name).symlink_to(SHARED_DATA / relative)
    reports = []
    for seed, scale in ((0, "1.0"), (1, "1.0"), (0, "1.4")):
        output = tmp_path / f"s{seed}_{scale}.json"
        result = subprocess.run(
            [sys.executable, str(REPO / "bin" / "evaluate"), f"--model={tiny_saved_model}",
             f"--data={data}", f"--output={output}", "--noprogress", "--layout=flat",
             "--max_seconds=2", f"--seed={seed}", f"--crop_scale={scale}"],
            capture_output=True, text=True, cwd=REPO, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        reports.append(str(output))
    scores = tmp_path / "scores.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "heldout_scores.py"), *reports,
         f"--output={scores}"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "at ours, seeds 0,1" in result.stdout and "at 1.4x, seeds 0" in result.stdout
    saved = json.loads(scores.read_text())
    own = next(s for s in saved["summaries"] if s["seeds"] == [0, 1])
    assert set(own["groups"]) == {"GRID", "VoxCeleb2-style"}  # the committed speaker maps
    assert own["groups"]["GRID"]["clips"] == 1
    (ratio,) = saved["ratios"]
    assert ratio["framing"] == [1.4, 0.0, 0.0]
