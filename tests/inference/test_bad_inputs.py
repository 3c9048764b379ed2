"""Every input a user may get wrong, given to a real `bin/generate` and `bin/redub` process.

Real files, the shipped model, no mocks. Each case checks the exit status, that the process
printed exactly one line (the fix, for a refused input; "Wrote ..." for one that works), no
traceback, and that the folder holding the inputs and the output is as it was (plus the new
video, for one that works). The page's half of the matrix is tests/demo/test_bad_inputs.py.

Inputs refused before TensorFlow is imported take about a second each and run by default; the
ones that need the face detector, a whole generation or a signal mid-run are `large`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile

from lipsync_tf.inference.media import Mp4Writer
from lipsync_tf.preprocessing.video import iter_video_frames
from tests.bad_inputs import (
    PHOTO,
    PHOTOS,
    SPEECH,
    SPEECHES,
    copy,
    snapshot,
    speech_samples,
    write,
)

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "exported_models" / "lipsync"
CLIP = "clips/vox2_pcavs_00002.mp4"  # 126 frames of one face, 224x224, 25 fps


def run(tool: str, *flags: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "bin" / tool), f"--model={MODEL}", "--noprogress", *flags],
        capture_output=True, text=True, cwd=cwd, timeout=600,
    )  # fmt: skip


def start(tool: str, *flags: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(REPO / "bin" / tool), f"--model={MODEL}", "--noprogress", *flags],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
    )  # fmt: skip


def assert_refused(result, tool: str, message: str) -> None:
    """Exit 1 and one line on stderr, `bin/TOOL: ...` matching `message`; nothing else."""
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"bin/{tool}: "), result.stderr[-3000:]
    assert re.search(message, lines[0]), lines[0]
    assert result.stdout == ""


def assert_wrote(result, output: Path, frames: int | None = None, notice: str | None = None):
    """Exit 0, one "Wrote OUTPUT: ..." line (returned), no other line but the `notice` given,
    and a video that decodes (of `frames` frames)."""
    assert result.returncode == 0, result.stderr[-3000:]
    if notice is None:
        assert result.stderr == ""
    else:
        (line,) = result.stderr.splitlines()
        assert line.startswith("bin/") and re.search(notice, line), line
    (line,) = result.stdout.splitlines()
    assert line.startswith(f"Wrote {output}: "), line
    with av.open(str(output)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    assert frames is None or decoded == frames
    return line


@pytest.fixture
def work(tmp_path) -> Path:
    """A folder with the bundled photo and speech, where each case makes its files."""
    folder = tmp_path / "work"
    folder.mkdir()
    copy(PHOTO, folder)
    copy(SPEECH, folder)
    return folder


# --- bin/generate -------------------------------------------------------------------------

FILE_CASES = {f"image:{name}": ("image", case) for name, case in PHOTOS.items()} | {
    f"audio:{name}": ("audio", case) for name, case in SPEECHES.items()
}
FAST_FILE_CASES = sorted(name for name, (_, case) in FILE_CASES.items() if not case.slow)
SLOW_FILE_CASES = sorted(name for name, (_, case) in FILE_CASES.items() if case.slow)


def _run_file_case(name: str, work: Path, data: Path) -> None:
    kind, case = FILE_CASES[name]
    given = case.make(work, data)
    files = {"image": work / PHOTO.name, "audio": work / SPEECH.name, kind: given}
    output = work / "out.mp4"
    before = snapshot(work)
    result = run(
        "generate", f"--image={files['image']}", f"--audio={files['audio']}",
        f"--output={output}", cwd=work,
    )  # fmt: skip
    if case.message is None:
        assert_wrote(result, output, notice=case.notice)
        assert set(snapshot(work)) == set(before) | {"out.mp4"}
    else:
        assert_refused(result, "generate", case.message)
        assert snapshot(work) == before


@pytest.mark.parametrize("name", FAST_FILE_CASES)
def test_bin_generate_refuses_a_bad_file_in_one_line(name, work, shared_data):
    _run_file_case(name, work, shared_data)


@pytest.mark.large  # the face detector imports TensorFlow: ~10 s each
@pytest.mark.parametrize("name", SLOW_FILE_CASES)
def test_bin_generate_on_photos_only_the_face_detector_judges(name, work, shared_data):
    _run_file_case(name, work, shared_data)


@pytest.mark.large  # the face detector: ~10 s
def test_bin_generate_face_index_out_of_range_is_one_line(work, shared_data):
    photo = PHOTOS["two_faces"].make(work, shared_data)
    before = snapshot(work)
    result = run(
        "generate", f"--image={photo}", f"--audio={work / SPEECH.name}",
        f"--output={work / 'out.mp4'}", "--face_index=2", cwd=work,
    )  # fmt: skip
    assert_refused(result, "generate", r"--face_index 2 is out of range: \S*two_faces.png has 2")
    assert snapshot(work) == before


def _output_case(work: Path, name: str) -> tuple[Path, list[str]]:
    """(output, extra flags) of each output case; makes what is in the way."""
    output = work / "out.mp4"
    if name == "missing_output_folder":
        return work / "missing" / "out.mp4", []
    if name == "output_is_a_folder":
        (work / "videos").mkdir()
        return work / "videos", []
    if name == "output_exists":
        write(output, b"an earlier video")
        return output, []
    if name == "read_only_output_with_overwrite":
        write(output, b"a video kept read-only")
        output.chmod(0o444)
        return output, ["--overwrite"]
    if name == "output_is_the_photo":
        return work / PHOTO.name, ["--overwrite"]
    if name == "output_is_a_symlink_to_the_speech":
        output.symlink_to(work / SPEECH.name)
        return output, ["--overwrite"]
    if name == "output_is_a_hard_link_to_the_photo":
        os.link(work / PHOTO.name, output)
        return output, ["--overwrite"]
    if name == "output_name_too_long":
        return work / ("v" * 300 + ".mp4"), []
    if name == "negative_max_output_pixels":
        return output, ["--max_output_pixels=-1"]
    raise KeyError(name)


OUTPUT_CASES = {
    "missing_output_folder": r"folder \S*missing does not exist; create it first",
    "output_is_a_folder": r"output \S*videos is a directory",
    "output_exists": r"output \S*out.mp4 already exists; give another name, or --overwrite",
    "read_only_output_with_overwrite": r"output \S*out.mp4 is read-only, so it is not replaced",
    "output_is_the_photo": r"output \S*still.jpg is the input \S*still.jpg; writing it would",
    "output_is_a_symlink_to_the_speech": r"output \S*out.mp4 is the input \S*speech.wav",
    "output_is_a_hard_link_to_the_photo": r"output \S*out.mp4 is the input \S*still.jpg",
    "output_name_too_long": r"output name v{40}... is 304 bytes long, more than the 255",
    "negative_max_output_pixels": r"--max_output_pixels must be 0 \(the photo's size\) or more",
}


@pytest.mark.parametrize("name", sorted(OUTPUT_CASES))
def test_bin_generate_never_writes_over_what_it_must_not(name, work):
    output, flags = _output_case(work, name)
    before = snapshot(work)
    result = run(
        "generate", f"--image={work / PHOTO.name}", f"--audio={work / SPEECH.name}",
        f"--output={output}", *flags, cwd=work,
    )  # fmt: skip
    assert_refused(result, "generate", OUTPUT_CASES[name])
    assert snapshot(work) == before


@pytest.mark.large  # one generation: ~15 s
def test_bin_generate_overwrites_only_when_asked(work):
    output = write(work / "out.mp4", b"an earlier video")
    result = run(
        "generate", f"--image={work / PHOTO.name}", f"--audio={work / SPEECH.name}",
        f"--output={output}", "--overwrite", cwd=work,
    )  # fmt: skip
    assert_wrote(result, output, frames=132)
    assert {path.name for path in work.iterdir()} == {PHOTO.name, SPEECH.name, "out.mp4"}


@pytest.mark.large  # one generation: ~15 s
def test_bin_generate_takes_unicode_paths_and_the_longest_legal_name(work):
    photo = copy(PHOTO, work, "fötö 照片.jpg")
    speech = copy(SPEECH, work, "rede ñ 话.wav")
    output = work / ("ü" * 123 + ".mp4")  # 246 bytes + .mp4: at the file system's limit
    before = snapshot(work)
    result = run(
        "generate", f"--image={photo}", f"--audio={speech}", f"--output={output}", cwd=work
    )
    assert_wrote(result, output, frames=132)
    assert set(snapshot(work)) == set(before) | {output.name}


@pytest.mark.large  # two generations at once: ~30 s
def test_of_two_runs_writing_one_file_the_second_says_so(work):
    output = work / "out.mp4"
    before = snapshot(work)
    flags = (f"--image={work / PHOTO.name}", f"--audio={work / SPEECH.name}", f"--output={output}")
    processes = [start("generate", *flags, cwd=work) for _ in range(2)]
    results = [(process.wait(timeout=600), *process.communicate()) for process in processes]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    (stderr,) = [stderr for code, _, stderr in results if code == 1]
    assert len(stderr.splitlines()) == 1 and "Traceback" not in stderr, stderr
    assert re.search(r"out.mp4 (appeared while this run was writing it|already exists)", stderr)
    assert set(snapshot(work)) == set(before) | {"out.mp4"}  # one video, no temporary file


def _long_speech(work: Path, seconds: float) -> Path:
    samples, rate = speech_samples()
    path = work / "long_speech.wav"
    soundfile.write(path, np.resize(samples, int(seconds * rate)), rate)
    return path


def _interrupt_once_writing(process: subprocess.Popen, work: Path, signum: int) -> None:
    """Sends `signum` once the video's temporary file exists: mid-generation."""
    deadline = time.monotonic() + 300
    while not list(work.glob(".out.tmp-*")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signum)


@pytest.mark.large  # a minute of speech, interrupted: ~20 s each
@pytest.mark.parametrize(
    "tool, signum, code",
    [
        ("generate", signal.SIGINT, 130),
        ("generate", signal.SIGTERM, 143),
        ("redub", signal.SIGINT, 130),
        ("redub", signal.SIGTERM, 143),
    ],
)
def test_an_interrupted_run_says_so_in_one_line_and_leaves_nothing(
    tool, signum, code, work, shared_data
):
    speech = _long_speech(work, 60)
    source = (
        f"--image={work / PHOTO.name}" if tool == "generate" else
        f"--video={copy(shared_data / CLIP, work)}"
    )  # fmt: skip
    before = snapshot(work)
    process = start(tool, source, f"--audio={speech}", f"--output={work / 'out.mp4'}", cwd=work)
    _interrupt_once_writing(process, work, signum)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr[-3000:]
    assert stderr.splitlines() == [f"bin/{tool}: interrupted; nothing written."]
    assert stdout == ""
    assert snapshot(work) == before


# --- bin/redub ----------------------------------------------------------------------------

VIDEO_CASES = {
    "missing_video": (lambda w: w / "nowhere.mp4", r"video file \S*nowhere.mp4 does not exist"),
    "zero_byte_video": (
        lambda w: write(w / "empty.mp4", b""),
        r"video file \S*empty.mp4 is empty \(0 bytes\)",
    ),
    "text_named_mp4": (
        lambda w: write(w / "notes.mp4", b"not a video\n" * 50),
        r"cannot decode video file \S*notes.mp4 \(Invalid data found when processing input\)",
    ),
    "sound_only_video": (lambda w: copy(SPEECH, w, "sound.mp4"), r"sound.mp4 has no video"),
    "video_is_the_output": (lambda w: w / "clip.mp4", r"output \S*clip.mp4 is the input"),
    "missing_audio": (None, SPEECHES["missing_audio"].message),
    "zero_byte_audio": (None, SPEECHES["zero_byte_audio"].message),
    "text_named_wav": (None, SPEECHES["text_named_wav"].message),
}


@pytest.mark.parametrize("name", sorted(VIDEO_CASES))
def test_bin_redub_refuses_a_bad_file_in_one_line(name, work, shared_data):
    clip = copy(shared_data / CLIP, work, "clip.mp4")
    make, message = VIDEO_CASES[name]
    video, audio, output = clip, work / SPEECH.name, work / "out.mp4"
    if name == "video_is_the_output":
        output = make(work)
    elif make is not None:
        video = make(work)
    else:
        audio = SPEECHES[name].make(work, shared_data)
    before = snapshot(work)
    result = run("redub", f"--video={video}", f"--audio={audio}", f"--output={output}", cwd=work)
    assert_refused(result, "redub", message)
    assert snapshot(work) == before


@pytest.mark.large  # the face detector over the video: ~10 s
def test_bin_redub_of_a_video_without_a_face_is_one_line(work):
    wall = work / "wall.mp4"
    with Mp4Writer(wall, 160, 120, audio_rate=None) as writer:
        for index in range(25):
            writer.write_frame(np.full((120, 160, 3), 40 + 4 * index, np.uint8))
    before = snapshot(work)
    result = run(
        "redub", f"--video={wall}", f"--audio={work / SPEECH.name}",
        f"--output={work / 'out.mp4'}", cwd=work,
    )  # fmt: skip
    assert_refused(result, "redub", r"No face found in any frame of \S*wall.mp4")
    assert snapshot(work) == before


@pytest.mark.large  # tracking and a generation: ~20 s
def test_bin_redub_says_how_many_frames_without_a_face_it_passed_through(work, shared_data):
    frames = list(iter_video_frames(shared_data / CLIP))
    with Mp4Writer(work / "blackout.mp4", 224, 224, audio_rate=None, crf=12) as writer:
        for index, frame in enumerate(frames):
            writer.write_frame(np.zeros_like(frame) if 40 <= index < 80 else frame)
    output = work / "redubbed ü.mp4"
    result = run(
        "redub", f"--video={work / 'blackout.mp4'}", f"--audio={work / SPEECH.name}",
        f"--output={output}", cwd=work,
    )  # fmt: skip
    line = assert_wrote(result, output, frames=132)  # the clip looped to the 5.25 s speech
    # Frames 40-79 of the clip; the speech is longer, so frames 0-5 show again at the end.
    assert line.endswith("; 40 frames without a face passed through as they were"), line
