"""The evaluation driver: known answers for constructed systems, and a real end-to-end run."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lipsync_tf.errors import InputError
from lipsync_tf.evaluation import evaluate as ev
from tests.conftest import SHARED_DATA

REPO = Path(__file__).resolve().parents[2]
REAL_CLIPS = ("clips/grid_spkI_sbwe5n.mpg", "clips/vox2_pcavs_00010.mp4")


def _shared(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"real test media {path} not found; set LIPSYNC_SHARED_DATA")
    return path


@pytest.fixture(scope="module")
def grid_crops():
    """Real GRID face crops uint8 [75, 128, 96, 3] and the clip's 16 kHz audio."""
    from lipsync_tf.preprocessing.faces import FaceDetector
    from lipsync_tf.preprocessing.video import decode_clip

    decoded = decode_clip(_shared(REAL_CLIPS[0]))
    with FaceDetector() as detector:
        crops = ev.crop_clip_faces(decoded.frames, detector)
    return crops, decoded.audio


def test_a_looser_framing_shows_the_real_face_smaller_about_the_crop_centre(grid_crops):
    # The same clip as another tool might crop it (window 1.25x larger): the face mesh finds the
    # lip corners 1.25x closer to the crop's centre, frame by frame.
    from lipsync_tf.face_geometry import Framing
    from lipsync_tf.preprocessing.faces import FaceDetector
    from lipsync_tf.preprocessing.video import decode_clip

    crops, _ = grid_crops
    decoded = decode_clip(_shared(REAL_CLIPS[0]))
    with FaceDetector() as detector:
        looser = ev.crop_clip_faces(decoded.frames[:10], detector, Framing(scale=1.25))
    mesh = ev.FaceMesh()
    mouth_corners = [61, 291]  # face-mesh indices of the lip corners
    centre = np.array([(96 - 1) / 2, (128 - 1) / 2])
    trained = mesh.video(crops[:10])[0][:, mouth_corners, :2]
    reframed = mesh.video(looser)[0][:, mouth_corners, :2]
    expected = centre + (trained - centre) / 1.25
    assert np.abs(reframed - expected).mean() < 1.0
    # Not a shift the corners' error could hide: the trained crop's corners are 2.7 px off.
    assert np.abs(trained - expected).mean() > 2.0


def test_a_model_that_replays_the_real_clip_scores_like_the_real_clip(grid_crops):
    crops, audio = grid_crops
    systems, length = ev.evaluate_clip(crops, audio, lambda face, a, seed: crops, ev.FaceMesh())
    assert length == len(crops)
    model, real, still = systems["model"], systems["real_clip"], systems["static_still"]
    assert model["psnr"] == real["psnr"] == math.inf
    assert model["ssim"] == pytest.approx(1.0) and model["lmd"] == 0.0
    assert model["mouth_corr"] == pytest.approx(1.0)
    assert model["mouth_std_ratio"] == pytest.approx(1.0) and model["psnr_upper"] == math.inf
    # A replay ignores the audio: other speech changes nothing.
    assert model["audio_swap"] == 0.0 and still["audio_swap"] == 0.0
    assert still["mouth_std_ratio"] == pytest.approx(0.0, abs=1e-9) and still["psnr_upper"] < 40
    assert model["av_offset"] == real["av_offset"]
    # The still is beaten on both lip-sync measures; it never blinks and has no AV offset.
    assert still["lmd"] > 0.005 and still["mouth_corr"] == 0.0
    assert still["av_offset"] is None and still["blinks_per_s"] == 0.0
    # This speaker's audio and mouth are in sync, and the estimate says so.
    assert real["av_offset"] == 0 and real["av_corr"] > 0.5


def test_a_model_three_frames_late_is_reported_three_frames_late(grid_crops):
    crops, audio = grid_crops

    def late(face, waveform, seed):
        return np.concatenate([np.repeat(crops[:1], 3, axis=0), crops[:-3]])

    systems, _ = ev.evaluate_clip(crops, audio, late, ev.FaceMesh())
    assert systems["model"]["av_offset"] == systems["real_clip"]["av_offset"] + 3
    assert 0.0 < systems["model"]["lmd"]
    assert systems["model"]["mouth_corr"] < systems["real_clip"]["mouth_corr"]


def test_a_model_that_follows_the_audio_changes_when_the_audio_is_swapped(grid_crops):
    crops, audio = grid_crops

    def follows(face, waveform, seed):
        # Plays the real clip in step with whatever audio it is given: rotated audio, rotated
        # frames (by the same half clip).
        own = np.array_equal(waveform, audio)
        return crops if own else np.roll(crops, len(crops) // 2, axis=0)

    systems, _ = ev.evaluate_clip(crops, audio, follows, ev.FaceMesh())
    # Other words, another mouth: the lower face changes more than from one frame to the next.
    assert systems["model"]["audio_swap"] > 1.0
    assert systems["real_clip"]["audio_swap"] is None


@pytest.mark.parametrize("real_frames, defined", [(30, False), (45, True)])
def test_landmark_metrics_are_null_when_the_mesh_finds_a_face_in_under_half_the_frames(
    grid_crops, rng, real_frames, defined
):
    crops, audio = grid_crops
    noise = rng.integers(0, 256, crops.shape, dtype=np.uint8)  # no face for the mesh

    def partly_faceless(face, waveform, seed):
        # The real crops for the first `real_frames` of 75 frames (40% or 60%), then noise.
        return np.concatenate([crops[:real_frames], noise[real_frames:]])

    systems, _ = ev.evaluate_clip(crops, audio, partly_faceless, ev.FaceMesh())
    model = systems["model"]
    assert model["face_fraction"] == pytest.approx(real_frames / len(crops), abs=0.03)
    landmark_metrics = ("lmd", "mouth_corr", "mouth_std_ratio", "av_corr", "blinks_per_s")
    assert all((model[name] is not None) == defined for name in landmark_metrics), model
    assert ("note" in model) != defined
    assert math.isfinite(model["psnr"])  # pixel metrics do not depend on the mesh


def test_a_clip_shorter_than_three_frames_is_rejected(grid_crops):
    crops, audio = grid_crops
    with pytest.raises(InputError, match="frame"):
        ev.evaluate_clip(crops[:2], audio, lambda face, a, seed: crops[:2], ev.FaceMesh())


def _write_video(path: Path, frames: np.ndarray, audio: np.ndarray | None) -> None:
    from lipsync_tf.inference.media import Mp4Writer

    height, width = frames.shape[1:3]
    with Mp4Writer(path, width, height, audio_rate=16000 if audio is not None else None) as out:
        for frame in frames:
            out.write_frame(frame)
        if audio is not None:
            out.write_audio(audio)


def _no_special_floats(constant: str):
    raise ValueError(f"JSON contains {constant}")


def test_end_to_end_two_real_clips_write_json_with_every_field(tiny_saved_model, tmp_path, rng):
    data = tmp_path / "clips"
    data.mkdir()
    for relative in REAL_CLIPS:
        (data / Path(relative).name).symlink_to(_shared(relative))
    # Two clips that cannot be evaluated, each for its own reason.
    # A smooth colour ramp: pixel noise can hold a false face detection after H.264 coding.
    ramp = np.linspace(0, 255, 128, dtype=np.float32)
    blank = np.stack([ramp[None, :] + 0 * ramp[:, None], ramp[:, None] + 0 * ramp[None, :]], -1)
    blank = np.concatenate([blank, np.full((128, 128, 1), 128.0, np.float32)], -1)
    frames = np.repeat(blank.astype(np.uint8)[None], 10, axis=0)
    _write_video(data / "zz_no_face.mp4", frames, rng.normal(0, 0.1, 6400).astype(np.float32))
    _write_video(data / "zz_silent_film.mp4", frames, None)

    output = tmp_path / "report" / "metrics.json"
    report = ev.evaluate(tiny_saved_model, data, output=output, progress=False)

    saved = json.loads(output.read_text(), parse_constant=_no_special_floats)
    assert saved == json.loads(json.dumps(report, allow_nan=False))
    assert output.stat().st_mode & 0o777 == 0o644  # readable by others, like any report
    assert saved["model"].endswith(os.path.join("tiny", "1"))
    assert saved["found"]["clips"] == 4 and saved["found"]["evaluated"] == 2
    reasons = {entry["clip_id"]: entry["reason"] for entry in saved["found"]["skipped"]}
    assert "no face" in reasons["zz_no_face"]
    assert "no audio" in reasons["zz_silent_film"]
    assert [clip["clip_id"] for clip in saved["clips"]] == [
        Path(name).stem for name in sorted(Path(r).name for r in REAL_CLIPS)
    ]
    for clip in saved["clips"]:
        assert clip["frames"] > 50
        for system in ev.SYSTEMS:
            assert set(ev.METRICS) <= set(clip["systems"][system])
        assert clip["systems"]["real_clip"]["psnr"] is None  # inf has no JSON spelling
        assert clip["systems"]["real_clip"]["ssim"] == pytest.approx(1.0)
        assert clip["systems"]["static_still"]["lmd"] > 0
        assert 0 < clip["systems"]["model"]["psnr"] < clip["systems"]["static_still"]["psnr"]
    for system in ev.SYSTEMS:
        assert set(saved["summary"][system]) == {
            key for name in ev.METRICS for key in (name, f"{name}_clips")
        } | {"av_offset_median"}
    assert set(saved["definitions"]) == set(ev.METRICS)
    assert "psnr" in saved["not_meaningful"]["real_clip"]
    table = ev.format_table(report)
    assert [line.split()[0] for line in table.splitlines()[2:5]] == list(ev.SYSTEMS)


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "bin" / "evaluate"), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )


def test_cli_layout_max_clips_max_seconds_and_seed_shape_the_run(tiny_saved_model, tmp_path):
    # Two clips at the top (the flat layout) and one in s7/ (what `auto` would take: grid).
    data = tmp_path / "clips"
    (data / "s7").mkdir(parents=True)
    (data / "a_vox.mp4").symlink_to(_shared(REAL_CLIPS[1]))
    (data / "b_grid.mpg").symlink_to(_shared(REAL_CLIPS[0]))
    (data / "s7" / "c_grid.mpg").symlink_to(_shared("clips/grid_spkA_bbaf2n.mpg"))
    output = tmp_path / "metrics.json"
    result = _run_cli(
        f"--model={tiny_saved_model}", f"--data={data}", f"--output={output}", "--noprogress",
        "--layout=flat", "--max_clips=1", "--max_seconds=1", "--seed=3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 clip(s) evaluated" in result.stdout
    report = json.loads(output.read_text())
    assert (report["layout"], report["seed"], report["max_seconds"]) == ("flat", 3, 1.0)
    assert report["framing"] == {"scale": 1.0, "offset": [0.0, 0.0]}
    assert report["found"] == {"clips": 2, "considered": 1, "evaluated": 1, "skipped": []}
    (clip,) = report["clips"]
    assert (clip["clip_id"], clip["speaker_id"], clip["frames"]) == ("a_vox", "a_vox", 25)
    # Another seed draws other noise: the model's frames change, the baselines do not.
    other = ev.evaluate(
        tiny_saved_model, data, layout="flat", max_clips=1, max_seconds=1, seed=4, output=None,
        progress=False,
    )  # fmt: skip
    systems, other_systems = clip["systems"], other["clips"][0]["systems"]
    assert other_systems["model"]["psnr"] != systems["model"]["psnr"]
    assert other_systems["static_still"] == systems["static_still"]
    # Quieter audio reaches the model (its frames change), not the baselines.
    quieter = ev.evaluate(
        tiny_saved_model, data, layout="flat", max_clips=1, max_seconds=1, seed=3, output=None,
        progress=False, audio_gain_db=-20.0,
    )  # fmt: skip
    assert quieter["audio_gain_db"] == -20.0 and report["audio_gain_db"] == 0.0
    quieter_systems = quieter["clips"][0]["systems"]
    assert quieter_systems["model"]["psnr"] != systems["model"]["psnr"]
    assert quieter_systems["static_still"] == systems["static_still"]
    # Normalised, the quiet clip is heard as the original is (up to the float rounding of a
    # gain and its inverse), as bin/generate would hear it.
    normalized = [
        ev.evaluate(
            tiny_saved_model, data, layout="flat", max_clips=1, max_seconds=1, seed=3,
            output=None, progress=False, audio_gain_db=gain, normalize_audio=True,
        )["clips"][0]["systems"]["model"]
        for gain in (0.0, -20.0)
    ]  # fmt: skip
    assert normalized[0]["psnr"] == pytest.approx(normalized[1]["psnr"], abs=0.01)
    assert normalized[0]["psnr"] != systems["model"]["psnr"]


def test_cli_on_an_odd_folder_says_what_it_found_in_one_line(tiny_saved_model, tmp_path):
    (tmp_path / "notes.txt").write_text("not a video")
    (tmp_path / "frames").mkdir()
    output = tmp_path / "metrics.json"
    result = _run_cli(
        f"--model={tiny_saved_model}", f"--data={tmp_path}", f"--output={output}", "--noprogress"
    )
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("bin/evaluate: nothing evaluated: no videos found in")
    assert "1 file(s) and 1 folder(s) (frames/, notes.txt)" in error
    assert "Traceback" not in result.stderr
    report = json.loads(output.read_text())
    assert report["found"] == {"clips": 0, "considered": 0, "evaluated": 0, "skipped": []}


@pytest.mark.parametrize(
    "flag, words",
    [("--crop_offset=0.05", "crop offset (0.05,) needs two numbers"),
     ("--crop_offset=a,b", "--crop_offset 'a,b' must be two numbers"),
     ("--crop_scale=3", "crop scale 3 is outside 0.5-1.5"),
     ("--audio_gain_db=-60", "--audio_gain_db -60 is outside +-40 dB")],
)  # fmt: skip
def test_cli_with_a_framing_or_gain_out_of_range_fails_in_one_line(tmp_path, flag, words):
    result = _run_cli(f"--model={tmp_path / 'nope'}", f"--data={tmp_path}", flag)
    assert result.returncode == 1
    assert words in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr


def test_cli_with_a_missing_model_fails_in_one_line(tmp_path):
    result = _run_cli(f"--model={tmp_path / 'nope'}", f"--data={tmp_path}")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"bin/evaluate: no SavedModel in {tmp_path / 'nope'}; run bin/export (or pass --model)."
    )
    assert "Traceback" not in result.stderr


def test_speakers_and_a_speaker_map_pick_the_held_out_clips_of_a_mixed_folder(
    tiny_saved_model, tmp_path
):
    # A flat folder with a held-out speaker's clip and a training speaker's, named by a map.
    data = tmp_path / "clips"
    data.mkdir()
    (data / "a_vox.mp4").symlink_to(_shared(REAL_CLIPS[1]))
    (data / "b_grid.mpg").symlink_to(_shared(REAL_CLIPS[0]))
    speaker_map = tmp_path / "speakers.json"
    speaker_map.write_text(json.dumps({"_comment": "test", "a_vox": "vox_A", "b_grid": "grid_B"}))
    report = ev.evaluate(
        tiny_saved_model, data, layout="flat", max_seconds=1, output=None, progress=False,
        speaker_map=speaker_map, speakers=["grid_B"],
    )  # fmt: skip
    assert report["speakers"] == ["grid_B"]
    assert [(c["clip_id"], c["speaker_id"]) for c in report["clips"]] == [("b_grid", "grid_B")]
    assert report["found"]["clips"] == 1  # the other speaker's clip is not part of the run
    # Without the map no clip is by grid_B: one line naming the speakers the folder holds.
    result = _run_cli(
        f"--model={tiny_saved_model}", f"--data={data}", "--layout=flat", "--speakers=grid_B",
        "--noprogress", f"--output={tmp_path / 'out.json'}",
    )  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"bin/evaluate: no clip in {data} is by --speakers grid_B (2 speakers found: a_vox, "
        "b_grid); give a --speaker_map that names them."
    )
    assert not (tmp_path / "out.json").exists()
    # A map that is not there fails in one line too.
    result = _run_cli(
        f"--model={tiny_saved_model}", f"--data={data}", f"--speaker_map={tmp_path / 'no.json'}"
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "speaker map" in result.stderr and "does not exist" in result.stderr
