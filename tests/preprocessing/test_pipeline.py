"""The Beam pipeline end to end: shards + manifest, skip reasons, atomic commit, re-runs, CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from lipsync_tf.data import schema
from lipsync_tf.preprocessing.pipeline import prepare_data, remove_stale_staging
from lipsync_tf.preprocessing.video import decode_clip
from tests.preprocessing.media import far_away_clip, no_face_clip

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def input_dir(tmp_path, shared_data):
    """Two real GRID clips, a face-less clip and a corrupt file, in the flat layout."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("grid_spkA_bbaf2n.mpg", "grid_spkB_brbk7n.mpg"):
        (folder / name).symlink_to(shared_data / "clips" / name)
    no_face_clip(folder / "gradient.mp4")
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    return folder


def _read_shards(output_dir) -> list[dict]:
    files = sorted(tf.io.gfile.glob(schema.shard_pattern(str(output_dir))))
    return [schema.parse(raw) for raw in tf.data.TFRecordDataset(files)]


def _run(input_dir, output_dir, **kwargs):
    kwargs.setdefault("direct_running_mode", "in_memory")
    kwargs.setdefault("direct_num_workers", 1)
    return prepare_data(
        str(input_dir),
        str(output_dir),
        layout="flat",
        progress=False,
        print_fn=lambda _: None,
        **kwargs,
    )


def _check_output(output_dir, manifest, num_shards):
    assert sorted(p.name for p in output_dir.iterdir()) == sorted(
        [schema.MANIFEST_NAME] + [schema.shard_name(i, num_shards) for i in range(num_shards)]
    )  # nothing half-written or staged is left behind
    assert json.loads((output_dir / schema.MANIFEST_NAME).read_text()) == manifest
    assert [entry["clip_id"] for entry in manifest["kept"]] == [
        "grid_spkA_bbaf2n",
        "grid_spkB_brbk7n",
    ]
    reasons = {entry["clip_id"]: entry["reason"] for entry in manifest["skipped"]}
    assert reasons == {"broken": "undecodable", "gradient": "no face"}
    assert manifest["totals"]["clips"] == 4
    assert manifest["totals"]["skipped_by_reason"] == {"undecodable": 1, "no face": 1}
    records = _read_shards(output_dir)
    assert sorted(r["clip_id"].numpy().decode() for r in records) == [
        "grid_spkA_bbaf2n",
        "grid_spkB_brbk7n",
    ]
    for record in records:
        assert record["num_frames"] == 75 and record["audio"].shape == (75 * 640,)
        assert tf.io.decode_jpeg(record["frames"][0]).shape == (128, 96, 3)


def test_pipeline_writes_good_clips_and_explains_skipped_ones(input_dir, tmp_path):
    output_dir = tmp_path / "out"
    manifest = _run(input_dir, output_dir, num_shards=3)
    _check_output(output_dir, manifest, 3)


def test_rerun_skips_finished_work_and_a_changed_run_overwrites_cleanly(input_dir, tmp_path):
    output_dir = tmp_path / "out"
    first = _run(input_dir, output_dir, num_shards=3)
    shard = output_dir / schema.shard_name(0, 3)
    mtime = shard.stat().st_mtime_ns
    again = _run(input_dir, output_dir, num_shards=3)
    assert again == first and shard.stat().st_mtime_ns == mtime  # nothing redone
    fewer = _run(input_dir, output_dir, num_shards=2)  # other settings: redone, old shards gone
    _check_output(output_dir, fewer, 2)
    assert fewer["fingerprint"] != first["fingerprint"]


@pytest.mark.large
def test_multi_process_direct_runner_gives_the_same_records(input_dir, tmp_path):
    single = _run(input_dir, tmp_path / "single", num_shards=1)
    multi = _run(
        input_dir,
        tmp_path / "multi",
        num_shards=2,
        direct_running_mode="multi_processing",
        direct_num_workers=2,
    )
    _check_output(tmp_path / "multi", multi, 2)
    by_id = {}
    for folder in ("single", "multi"):
        for record in _read_shards(tmp_path / folder):
            by_id.setdefault(record["clip_id"].numpy(), []).append(record)
    for one, other in by_id.values():
        np.testing.assert_array_equal(one["audio"].numpy(), other["audio"].numpy())
        np.testing.assert_array_equal(one["crop_boxes"].numpy(), other["crop_boxes"].numpy())
        assert one["frames"].numpy().tolist() == other["frames"].numpy().tolist()
    assert single["totals"]["kept"] == multi["totals"]["kept"] == 2


@pytest.mark.large  # three bin/prepare_data processes: ~20 s
def test_cli_skips_a_face_too_small_and_redoes_finished_work_only_with_overwrite(
    shared_data, tmp_path
):
    folder = tmp_path / "in"
    folder.mkdir()
    grid = shared_data / "clips" / "grid_spkA_bbaf2n.mpg"
    (folder / grid.name).symlink_to(grid)
    far_away_clip(folder / "far_away.mp4", decode_clip(grid))
    output_dir = tmp_path / "out"
    command = [
        sys.executable, str(REPO / "bin/prepare_data"), f"--input_dir={folder}",
        f"--output_dir={output_dir}", "--layout=flat", "--num_shards=1", "--noprogress",
        "--direct_running_mode=in_memory", "--direct_num_workers=1",
    ]  # fmt: skip

    def run(*flags: str) -> str:
        result = subprocess.run(
            [*command, *flags], capture_output=True, text=True, timeout=600,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    first = run()
    assert "kept 1 of 2 clips" in first and "skipped 1 {'face too small': 1}" in first
    manifest = json.loads((output_dir / schema.MANIFEST_NAME).read_text())
    assert [entry["clip_id"] for entry in manifest["kept"]] == ["grid_spkA_bbaf2n"]
    (skipped,) = manifest["skipped"]
    assert (skipped["clip_id"], skipped["reason"]) == ("far_away", "face too small")
    assert "px wide (need 32)" in skipped["detail"]
    shard = output_dir / schema.shard_name(0, 1)
    written = shard.stat().st_mtime_ns
    # Unchanged inputs and settings: nothing is redone...
    assert "is up to date with these inputs and settings; nothing to do." in run()
    assert shard.stat().st_mtime_ns == written
    # ...unless --overwrite says so: the same clips again, in new files.
    assert "kept 1 of 2 clips" in run("--overwrite")
    assert shard.stat().st_mtime_ns != written
    redone = json.loads((output_dir / schema.MANIFEST_NAME).read_text())
    assert (redone["kept"][0]["num_frames"], redone["skipped"][0]["reason"]) == (
        75, "face too small"
    )  # fmt: skip


def test_cli_reports_a_missing_input_folder_in_one_line(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bin/prepare_data"),
            f"--input_dir={tmp_path / 'missing'}",
            f"--output_dir={tmp_path / 'out'}",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=300,
    )
    assert result.returncode == 1
    assert "bin/prepare_data: input folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_staging_folders_of_killed_runs_are_removed_and_live_ones_kept(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    dead_pid = int(finished.stdout)
    killed = tmp_path / f".staging-{dead_pid}-0123456789ab"
    (killed / "progress").mkdir(parents=True)
    (killed / "train.tfrecord-00000-of-00001").write_bytes(b"partial")
    running = tmp_path / f".staging-{os.getpid()}-ba9876543210"
    running.mkdir()
    unrelated = tmp_path / "train.tfrecord-00000-of-00001"
    unrelated.write_bytes(b"kept")
    assert remove_stale_staging(tmp_path) == [killed]
    assert not killed.exists() and running.is_dir() and unrelated.read_bytes() == b"kept"
