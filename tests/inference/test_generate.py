"""bin/generate on real photos and speech: mp4 structure, durations, paste-back, user errors."""

import logging
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import soundfile
from PIL import Image

from lipsync_tf.errors import InputError
from lipsync_tf.inference.generate import ChunkWriter, GenerateOptions, generate_video
from lipsync_tf.inference.media import load_image
from lipsync_tf.inference.runners import SavedModelRunner

REPO = Path(__file__).resolve().parents[2]
PEOPLE = "stills/sadtalker_people_0.png"  # 474x474 RGB
SPEECH_16K = "audio/makeittalk_M6_04_16k.wav"  # 16 kHz mono, 4.877 s
SPEECH_44K_STEREO = "audio/videoretalking_audio1.wav"  # 44.1 kHz stereo, 5.016 s
QUIET = GenerateOptions(progress=False)


def probe_mp4(path: Path) -> dict:
    """Decodes the whole file: frame count and size, audio codec and duration."""
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        info = {
            "video_codec": video.codec_context.name,
            "audio_codec": audio.codec_context.name,
            "fps": float(video.average_rate),
            "audio_seconds": float(audio.duration * audio.time_base),
        }
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    info["frames"] = len(frames)
    info["size"] = frames[0].shape[:2]
    info["first_frame"] = frames[0]
    return info


def assert_matches_audio(info: dict, audio_path: Path) -> None:
    duration = soundfile.info(str(audio_path)).duration
    assert abs(info["frames"] - round(duration * 25)) <= 1
    assert abs(info["audio_seconds"] - duration) < 0.03
    assert info["video_codec"] == "h264" and info["audio_codec"] == "aac"
    assert info["fps"] == 25


@pytest.fixture(scope="module")
def runner(tiny_export):
    return SavedModelRunner(tiny_export[1])


def test_bin_generate_makes_an_mp4_of_the_photo_speaking(tiny_export, shared_data, tmp_path):
    output = tmp_path / "speaking.mp4"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "bin" / "generate"),
            f"--image={shared_data / PEOPLE}",
            f"--audio={shared_data / SPEECH_16K}",
            f"--output={output}",
            f"--model={tiny_export[1]}",
            "--noprogress",
        ],
        check=True,
        capture_output=True,
    )
    info = probe_mp4(output)
    assert_matches_audio(info, shared_data / SPEECH_16K)
    photo = load_image(shared_data / PEOPLE)
    assert info["size"] == photo.shape[:2]  # 474x474: the photo, not the 128x96 crop
    # Paste-back: away from the face the video is the photo (up to H.264 loss)...
    corner = np.abs(info["first_frame"][:80, :80].astype(int) - photo[:80, :80]).mean()
    assert corner < 3
    # ...while the (untrained) generated face differs from it.
    centre = np.abs(info["first_frame"][150:250, 190:290].astype(int) - photo[150:250, 190:290])
    assert centre.mean() > 10
    assert [p.name for p in tmp_path.iterdir()] == ["speaking.mp4"]


def test_generate_takes_44k_stereo_audio_and_an_odd_sized_rgba_photo_with_tflite(
    tiny_export, shared_data, tmp_path
):
    image = shared_data / "stills/sadtalker_happy1.png"  # 221x226 RGBA
    report = generate_video(
        image,
        shared_data / SPEECH_44K_STEREO,
        tmp_path / "out.mp4",
        GenerateOptions(model=tiny_export[1], backend="tflite", progress=False),
    )
    info = probe_mp4(report.output)
    assert_matches_audio(info, shared_data / SPEECH_44K_STEREO)
    assert info["size"] == (226, 220)  # odd width cropped by one pixel for yuv420p
    assert set(report.seconds) >= {"crop", "generate", "encode"}


def test_generate_without_paste_back_writes_the_face_crop(runner, shared_data, tmp_path):
    report = generate_video(
        shared_data / "stills/vox2_pcavs_still_517600055.jpg",
        shared_data / "audio/sda_example_audio.wav",  # 50 kHz mono, 3 s
        tmp_path / "crop.mp4",
        GenerateOptions(paste_back=False, progress=False),
        runner=runner,
    )
    info = probe_mp4(report.output)
    assert info["size"] == (128, 96)
    assert_matches_audio(info, shared_data / "audio/sda_example_audio.wav")


@pytest.mark.parametrize("max_pixels", [0, 300_000])
def test_a_photo_above_the_pixel_budget_is_scaled_down_keeping_its_shape(
    max_pixels, runner, shared_data, tmp_path
):
    photo = load_image(shared_data / PEOPLE)  # 474x474: a face on a wide 1040x800 canvas
    canvas = cv2.copyMakeBorder(photo, 163, 163, 283, 283, cv2.BORDER_REFLECT)
    image = tmp_path / "wide.png"
    Image.fromarray(canvas).save(image)
    speech, rate = soundfile.read(shared_data / SPEECH_16K, dtype="float32")
    short = tmp_path / "short.wav"
    soundfile.write(short, speech[: rate // 2], rate)  # 12 frames are enough
    options = GenerateOptions(max_output_pixels=max_pixels, progress=False)
    report = generate_video(image, short, tmp_path / "out.mp4", options, runner=runner)
    height, width = probe_mp4(report.output)["size"]
    if max_pixels == 0:
        assert (height, width) == (800, 1040)
    else:
        assert 0.98 * max_pixels <= height * width <= max_pixels
        assert abs(width / height - 1040 / 800) < 0.01
        assert height % 2 == 0 and width % 2 == 0


def _two_faces(shared_data: Path, tmp_path: Path) -> Path:
    big = load_image(shared_data / "stills/vox2_pcavs_still_517600055.jpg")
    small = cv2.resize(
        load_image(shared_data / "stills/vox2_pcavs_still_581600416.jpg"), (160, 160)
    )
    column = np.zeros((224, 160, 3), np.uint8)
    column[32:192] = small
    path = tmp_path / "two_faces.png"
    Image.fromarray(np.concatenate([big, column], axis=1)).save(path)
    return path


# In _two_faces' picture: the middle of the large face (left) and of the small one (right).
LARGE_FACE = (slice(70, 170), slice(60, 160))
SMALL_FACE = (slice(80, 150), slice(270, 340))


def _changed(frame: np.ndarray, photo: np.ndarray, region) -> float:
    """Mean absolute difference of a region of the video frame and of the photo (0-255)."""
    return float(np.abs(frame[region].astype(int) - photo[region]).mean())


@pytest.mark.parametrize(
    "face_index, animated, untouched",
    [(None, LARGE_FACE, SMALL_FACE), (1, SMALL_FACE, LARGE_FACE)],
    ids=["largest_by_default", "face_index_1"],
)
def test_generate_animates_the_largest_face_or_the_one_face_index_picks(
    face_index, animated, untouched, runner, shared_data, tmp_path, caplog
):
    image = _two_faces(shared_data, tmp_path)
    with caplog.at_level(logging.WARNING):
        generate_video(
            image,
            shared_data / "audio/sda_example_audio.wav",
            tmp_path / "out.mp4",
            GenerateOptions(face_index=face_index, progress=False),
            runner=runner,
        )
    # Only the chosen face is redrawn (the untrained model's face is far from the photo's);
    # the other stays the photo, up to H.264 loss and the watermark (a few levels on a face).
    frame, photo = probe_mp4(tmp_path / "out.mp4")["first_frame"], load_image(image)
    assert _changed(frame, photo, animated) > 10
    assert _changed(frame, photo, untouched) < 5
    warned = "has 2 faces; using the largest (choose another with --face_index)" in caplog.text
    assert warned == (face_index is None)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _wav(path: Path, samples: int) -> Path:
    soundfile.write(path, np.zeros(samples, np.float32), 16000)
    return path


def _image(path: Path, array: np.ndarray) -> Path:
    Image.fromarray(array).save(path)
    return path


def _no_face(data: Path, tmp: Path) -> Path:
    ramp = np.tile(np.linspace(0, 255, 300, dtype=np.uint8), (200, 1))
    return _image(tmp / "wall.png", np.repeat(ramp[..., None], 3, axis=-1))


def _small_face(data: Path, tmp: Path) -> Path:
    small = cv2.resize(load_image(data / PEOPLE), (64, 64), interpolation=cv2.INTER_AREA)
    return _image(tmp / "tiny.png", small)  # the face is ~24 px wide


ERROR_CASES = {
    # name: (image maker, audio maker, output maker, expected message); None: a good input
    "no_face": (_no_face, None, None, "No face found"),
    "face_too_small": (_small_face, None, None, "px wide"),
    "corrupt_image": (
        lambda d, t: _write(t / "broken.jpg", b"not a jpeg" * 50),
        None,
        None,
        "cannot read image",
    ),
    "missing_image": (lambda d, t: t / "nowhere.png", None, None, "does not exist"),
    "corrupt_audio": (
        None,
        lambda d, t: _write(t / "broken.wav", b"RIFF" + b"\x00" * 300),
        None,
        "cannot decode",
    ),
    "empty_audio": (None, lambda d, t: _wav(t / "empty.wav", 0), None, "audio"),
    "audio_shorter_than_a_frame": (
        None,
        lambda d, t: _wav(t / "blip.wav", 300),
        None,
        "shorter than one video frame",
    ),
    "silent_audio": (None, lambda d, t: _wav(t / "silent.wav", 16000), None, "is silent"),
    "unwritable_output": (None, None, lambda t: t / "missing" / "out.mp4", "does not exist"),
    "output_is_a_folder": (None, None, lambda t: t, "is a directory"),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_generate_reports_user_errors_and_writes_nothing(case, runner, shared_data, tmp_path):
    make_image, make_audio, make_output, message = ERROR_CASES[case]
    image = make_image(shared_data, tmp_path) if make_image else shared_data / PEOPLE
    audio = make_audio(shared_data, tmp_path) if make_audio else shared_data / SPEECH_16K
    output = make_output(tmp_path) if make_output else tmp_path / "out.mp4"
    before = set(tmp_path.iterdir())
    with pytest.raises(InputError, match=message) as raised:
        generate_video(image, audio, output, QUIET, runner=runner)
    assert "\n" not in str(raised.value)
    assert set(tmp_path.iterdir()) == before  # no output, no temp file


def _bin_generate(*flags: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "bin" / "generate"), "--noprogress", *flags],
        capture_output=True, text=True, cwd=cwd, timeout=600,
    )  # fmt: skip


def test_bin_generate_model_name_uses_its_highest_numbered_version(
    tiny_export, runner, shared_data, tmp_path
):
    name = tmp_path / "exported_models" / "tiny"
    shutil.copytree(tiny_export[1] / "1", name / "10")
    (name / "2").mkdir()  # the highest as text: picking it would fail to load
    (name / "2" / "saved_model.pb").write_bytes(b"not a SavedModel")
    audio = shared_data / "audio/sda_example_audio.wav"
    result = _bin_generate(
        f"--image={shared_data / PEOPLE}", f"--audio={audio}", "--output=by_name.mp4",
        "--model=exported_models/tiny", "--nopaste_back", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    # Version 10 is version 1 of the tiny export: the same video as that model makes.
    expected = generate_video(
        shared_data / PEOPLE, audio, tmp_path / "expected.mp4",
        GenerateOptions(paste_back=False, progress=False), runner=runner,
    )  # fmt: skip
    # (To within coding noise: x264 is not bit-reproducible on a busy machine.)
    ours, theirs = _decoded(tmp_path / "by_name.mp4"), _decoded(expected.output)
    assert ours.shape == theirs.shape
    assert np.abs(ours.astype(int) - theirs).mean() < 0.5


def _decoded(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def test_face_index_out_of_range_is_a_clear_error(runner, shared_data, tmp_path):
    with pytest.raises(InputError, match="--face_index 2 is out of range"):
        generate_video(
            _two_faces(shared_data, tmp_path),
            shared_data / SPEECH_16K,
            tmp_path / "out.mp4",
            GenerateOptions(face_index=2, progress=False),
            runner=runner,
        )


def test_model_folder_without_a_saved_model_is_a_clear_error(shared_data, tmp_path):
    (tmp_path / "exported_models" / "empty").mkdir(parents=True)
    with pytest.raises(InputError, match=r"no SavedModel in .*empty; run bin/export"):
        generate_video(
            shared_data / PEOPLE,
            shared_data / SPEECH_16K,
            tmp_path / "out.mp4",
            GenerateOptions(model=tmp_path / "exported_models" / "empty", progress=False),
        )
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.large  # a separate export or interpreter: ~10 s
def test_bin_generate_without_the_default_model_fails_in_one_line(shared_data, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bin" / "generate"),
            f"--image={shared_data / PEOPLE}",
            f"--audio={shared_data / SPEECH_16K}",
            f"--output={tmp_path / 'out.mp4'}",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # no exported_models/lipsync here
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("bin/generate:")]
    assert errors == [
        "bin/generate: no SavedModel in exported_models/lipsync; run bin/export (or pass --model)."
    ]
    assert not (tmp_path / "out.mp4").exists()


def test_quick_start_makes_out_mp4_with_the_shipped_model(tmp_path):
    """README quick start, command 1: the bundled photo and speech with the default model."""
    if not (REPO / "exported_models" / "lipsync" / "3" / "saved_model.pb").is_file():
        pytest.fail("the shipped model exported_models/lipsync/3 is missing from the repository")
    output = tmp_path / "out.mp4"
    result = subprocess.run(
        [sys.executable, "bin/generate", "--image=examples/still.jpg",
         "--audio=examples/speech.wav", f"--output={output}"],
        capture_output=True, text=True, cwd=REPO, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    # Only its own lines: the summary, and the progress bar (redrawn with carriage returns);
    # none of TensorFlow's, MediaPipe's or LiteRT's start-up notices.
    (summary,) = result.stdout.splitlines()
    assert summary.startswith(f"Wrote {output}: 132 frames 224x224 at 25 fps"), summary
    bar = [piece for piece in re.split(r"[\r\n]", result.stderr) if piece.strip()]
    assert bar and all(piece.startswith("generating: ") for piece in bar), result.stderr[:3000]
    info = probe_mp4(output)
    assert_matches_audio(info, REPO / "examples" / "speech.wav")
    assert info["size"] == (224, 224)  # pasted back into the full photo
    assert (info["video_codec"], info["audio_codec"]) == ("h264", "aac")
    # The shipped model changes only the lower face (blend mask + warp) and bin/generate pastes
    # back only that region, so: the strips beside MediaPipe's paste window (columns 41-192,
    # rows 0-198) and the eyes (rows 40-80: glasses and brows; below them the nose, which
    # the warp moves a little) stay the photo; the mouth differs from the photo and
    # moves over time while the eyes do not; the face is still the photo's face. Measured on
    # every frame (seed 0, version 3, auto backend): strips 1.19 and 1.34 levels from the
    # photo (H.264 and the watermark); eyes 3.87; mouth 10.2; temporal std of the grey level per
    # pixel, eyes 0.009, mouth 9.7 (version 2: 0.008 and 8.6; version 1: 0.07 and 1.74); face r
    # 0.90 with the photo, contrast 0.99. A model that returns the still gives a still mouth
    # (std at the eyes' level), a flat grey face gives contrast 0; the bounds leave about 2x.
    from lipsync_tf.preprocessing.video import iter_video_frames

    frames = np.stack(list(iter_video_frames(output))).astype(np.float32)
    photo = np.asarray(Image.open(REPO / "examples" / "still.jpg").convert("RGB"), np.float32)
    for columns in (slice(0, 38), slice(195, 224)):
        assert np.abs(frames[:, :, columns] - photo[:, columns]).mean() < 3
    eyes, mouth = (slice(40, 80), slice(60, 170)), (slice(110, 170), slice(85, 150))
    eyes_error = np.abs(frames[:, eyes[0], eyes[1]] - photo[eyes]).mean()
    mouth_error = np.abs(frames[:, mouth[0], mouth[1]] - photo[mouth]).mean()
    assert eyes_error < 5 and mouth_error > 1.5 * eyes_error
    grey = frames.mean(axis=3)
    assert grey[:, eyes[0], eyes[1]].std(axis=0).mean() < 0.5
    assert grey[:, mouth[0], mouth[1]].std(axis=0).mean() > 0.8
    drawn_grey = grey[0, 48:148, 78:155].ravel()
    real_grey = photo[48:148, 78:155].mean(axis=2).ravel()
    assert np.corrcoef(drawn_grey, real_grey)[0, 1] > 0.8
    assert 0.5 < drawn_grey.std() / real_grey.std() < 1.5


@pytest.mark.parametrize(
    "how", ["--verbosity=1", pytest.param("LIPSYNC_VERBOSE=1", marks=pytest.mark.large)]
)
def test_the_libraries_logs_come_back_when_asked_for(how, tmp_path):
    wall = tmp_path / "wall.png"
    Image.new("RGB", (300, 200), (128, 128, 128)).save(wall)  # no face: stops after detection
    flags, env = ([how], {}) if how.startswith("--") else ([], dict([how.split("=")]))
    result = subprocess.run(
        [sys.executable, str(REPO / "bin" / "generate"), f"--image={wall}",
         f"--audio={REPO / 'examples' / 'speech.wav'}", f"--output={tmp_path / 'out.mp4'}",
         *flags],
        capture_output=True, text=True, timeout=600, env={**os.environ, **env},
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("bin/generate: No face found in"), result.stderr[-2000:]
    # MediaPipe's LiteRT runtime announces itself ("INFO: Created TensorFlow Lite XNNPACK
    # delegate for CPU.", ...): hidden in a normal run, shown here.
    assert any("TensorFlow Lite" in line or "LiteRT" in line for line in lines[:-1]), lines


def test_chunk_writer_writes_in_order_on_a_second_thread_and_reports_each_chunk():
    written = []

    def write(start, frames):
        written.append((start, len(frames), threading.current_thread().name))

    with ChunkWriter(write, depth=1) as writer:
        for start in (0, 25, 50):
            writer.put(start, [None] * (25 if start < 50 else 7))
    assert [(start, count) for start, count, _ in written] == [(0, 25), (25, 25), (50, 7)]
    assert {name for _, _, name in written} == {"chunk-writer"}
    assert writer.finished() == [25, 50, 57]


def test_chunk_writer_raises_a_failed_write_in_the_caller_without_hanging():
    def write(start, frames):
        if start == 25:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        with ChunkWriter(write, depth=1) as writer:
            for start in range(0, 500, 25):  # more chunks than the queue holds
                writer.put(start, [None] * 25)


def test_overlapped_and_sequential_encoding_write_the_same_video(
    runner, shared_data, tmp_path, monkeypatch
):
    from lipsync_tf.inference.media import Mp4Writer

    # What the encoder is given, frame by frame. x264 itself is not bit-reproducible on a busy
    # machine (the same frames encoded twice under load came out different 6 times in 8), so
    # the encoder's input is compared exactly and its output only to within coding noise.
    handed = {}
    write_frame = Mp4Writer.write_frame

    def record(writer, rgb):
        handed.setdefault(writer.path.stem, []).append(rgb.copy())
        write_frame(writer, rgb)

    monkeypatch.setattr(Mp4Writer, "write_frame", record)
    reports, progress = {}, {}
    for name, overlap in (("overlapped", True), ("sequential", False)):
        progress[name] = []
        reports[name] = generate_video(
            shared_data / PEOPLE,
            shared_data / SPEECH_16K,
            tmp_path / f"{name}.mp4",
            QUIET,
            runner=runner,
            on_chunk=lambda done, total, name=name: progress[name].append((done, total)),
            overlap=overlap,
        )
    assert len(handed["overlapped"]) == len(handed["sequential"]) == 122
    for a, b in zip(handed["overlapped"], handed["sequential"], strict=True):
        np.testing.assert_array_equal(a, b)
    paths = [str(report.output) for report in reports.values()]
    with av.open(paths[0]) as first, av.open(paths[1]) as second:
        for frames in zip(first.decode(video=0), second.decode(video=0), strict=True):
            a, b = (frame.to_ndarray(format="rgb24").astype(int) for frame in frames)
            assert np.abs(a - b).mean() < 0.5
    # Progress comes chunk by chunk either way: 122 frames in chunks of 25.
    assert progress["overlapped"] == progress["sequential"] == [
        (25, 122), (50, 122), (75, 122), (100, 122), (122, 122)
    ]  # fmt: skip
    report = reports["overlapped"]
    steps = {"load_model", "decode", "crop", "generate", "paste", "encode", "provenance"}
    assert set(report.seconds) == steps
    assert report.wall_seconds > report.seconds["generate"]
