"""bin/verify on real files: exit codes, JSON keys, the verdict, stripped copies."""

import json
import subprocess
import sys
from pathlib import Path

from tests.provenance.conftest import SHIPPED_VERSION
from tests.provenance.test_c2pa import _mdat_offset

REPO = Path(__file__).resolve().parents[2]


def _verify(path, *args):
    return subprocess.run(
        [sys.executable, str(REPO / "bin" / "verify"), str(path), *args],
        capture_output=True, text=True,
    )  # fmt: skip


def test_verify_reports_both_marks_of_a_generated_video(made_video):
    result = _verify(made_video, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["marked"] is True
    assert report["c2pa"]["state"] == "valid"
    assert report["c2pa"]["digital_source_type"] == "trainedAlgorithmicMedia"
    assert report["c2pa"]["model_id"].startswith(f"lipsync/{SHIPPED_VERSION} sha256:")
    assert report["watermark"]["found"] is True
    assert report["watermark"]["score"] >= report["watermark"]["threshold"]
    assert report["watermark"]["mark_id"] == report["c2pa"]["watermark_mark_id"]
    verdict = _verify(made_video).stdout
    assert "valid C2PA manifest" in verdict and "Verdict: marked as AI-generated." in verdict
    assert len(verdict.strip().splitlines()) == 1  # one paragraph


def test_a_reencoded_copy_without_metadata_is_still_marked_by_the_watermark(transformed):
    result = _verify(transformed["x264_crf30"], "--json")
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["c2pa"]["state"] == "absent" and report["watermark"]["found"] is True


def test_a_tampered_manifest_is_reported_invalid(made_video, tmp_path):
    data = bytearray(made_video.read_bytes())
    data[_mdat_offset(data) + 2000] ^= 0x01
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(data)
    report = json.loads(_verify(tampered, "--json").stdout)
    assert report["c2pa"]["state"] == "invalid"
    assert "does NOT validate" in report["verdict"]


def test_a_real_clip_has_no_mark_and_exits_1(shared_data):
    result = _verify(shared_data / "clips" / "vox2_pcavs_00015.mp4", "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["marked"] is False
    assert report["c2pa"]["state"] == "absent" and report["watermark"]["found"] is False


def test_an_unreadable_file_exits_2_with_one_line(tmp_path):
    garbage = tmp_path / "notes.mp4"
    garbage.write_text("not a video at all\n" * 20)
    for path in (garbage, tmp_path / "missing.mp4"):
        result = _verify(path)
        assert result.returncode == 2
        assert result.stdout == "" and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert result.stderr.startswith("bin/verify: ")
