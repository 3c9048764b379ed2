"""load_waveform: real files in several formats, and clear errors for unusable ones."""

import numpy as np
import pytest
import soundfile

from lipsync_tf.audio import load_waveform
from lipsync_tf.audio.io import SampleReader, stream_waveform
from lipsync_tf.errors import InputError


def test_loads_16k_mono_speech_unchanged(shared_data):
    path = shared_data / "audio/makeittalk_M6_04_16k.wav"
    raw, rate = soundfile.read(path, dtype="float32")
    waveform = load_waveform(path)
    assert rate == 16000
    assert waveform.dtype == np.float32
    np.testing.assert_array_equal(waveform, raw)


@pytest.mark.parametrize(
    "name, seconds",
    [
        ("audio/videoretalking_audio1.wav", 5.016),  # 44.1 kHz stereo
        ("audio/sda_example_audio.wav", 3.000),  # 50 kHz mono
        ("audio/sadtalker_bus_chinese.wav", 3.376),  # 48 kHz stereo
    ],
)
def test_other_rates_and_stereo_become_16k_mono(shared_data, name, seconds):
    waveform = load_waveform(shared_data / name)
    assert waveform.ndim == 1
    assert abs(len(waveform) / 16000 - seconds) < 0.002
    assert 0.01 < np.abs(waveform).max() <= 1.0  # real speech survived the resampling


def test_flac_gives_the_same_waveform_as_the_wav_it_was_made_from(shared_data, tmp_path):
    # 44.1 kHz stereo 16-bit speech: FLAC is lossless, so resampled and downmixed the two agree
    # exactly.
    source = shared_data / "audio/videoretalking_audio1.wav"
    samples, rate = soundfile.read(source, dtype="int16")
    flac = tmp_path / "speech.flac"
    soundfile.write(flac, samples, rate, subtype="PCM_16")
    assert soundfile.info(flac).format == "FLAC"
    np.testing.assert_array_equal(load_waveform(flac), load_waveform(source))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_waveform(tmp_path / "nope.wav")


def test_corrupt_file_is_a_clear_error(tmp_path):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF not really a wave file")
    with pytest.raises(InputError, match="cannot decode audio file"):
        load_waveform(path)


def test_empty_recording_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.wav"
    soundfile.write(path, np.zeros(0, np.float32), 16000)
    with pytest.raises(InputError, match="contains no samples"):
        load_waveform(path)


# --- formats soundfile cannot read, decoded through PyAV ---------------------------------------


def _encode_audio(path, codec: str, waveform: np.ndarray, rate: int, layout: str = "stereo"):
    """Writes `waveform` (float32 [samples]) with PyAV's encoder `codec` into `path`."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        channels = 2 if layout == "stereo" else 1
        frame_size = 1152
        planar = np.tile(waveform, (channels, 1)).astype(np.float32)
        for start in range(0, planar.shape[1], frame_size):
            chunk = np.ascontiguousarray(planar[:, start : start + frame_size])
            # PyAV converts float planar to the encoder's own sample format and frame size.
            frame = av.AudioFrame.from_ndarray(chunk, "fltp", layout)
            frame.sample_rate = rate
            frame.pts = None
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def _tone(seconds: float, rate: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("suffix, codec", [(".mp3", "libmp3lame"), (".m4a", "aac")])
def test_compressed_audio_files_are_decoded(tmp_path, suffix, codec):
    path = tmp_path / f"tone{suffix}"
    _encode_audio(path, codec, _tone(2.0, 44100), 44100)
    waveform = load_waveform(path)
    assert waveform.dtype == np.float32 and waveform.ndim == 1
    # Encoders add a little padding (priming / last frame) but never lose the signal.
    assert abs(len(waveform) / 16000 - 2.0) < 0.1
    spectrum = np.abs(np.fft.rfft(waveform[4000:20000]))
    peak_hz = np.argmax(spectrum) * 16000 / 16000  # bin width 1 Hz over 16000 samples
    assert abs(peak_hz - 440) < 5  # the tone is still a 440 Hz tone after decode + resample


@pytest.mark.parametrize(
    "name, seconds",
    [
        ("clips/grid_spkA_bbaf2n.mpg", 2.98),  # MPEG-1 with MP2 44.1 kHz stereo
        ("clips/vox2_pcavs_00015.mp4", 6.98),  # AAC 16 kHz mono
        ("clips/dfrf_french.mp4", 50.43),  # AAC 48 kHz stereo
    ],
)
def test_sound_track_of_video_files_is_read(shared_data, name, seconds):
    waveform = load_waveform(shared_data / name)
    assert waveform.ndim == 1 and waveform.dtype == np.float32
    assert abs(len(waveform) / 16000 - seconds) < 0.01
    assert 0.05 < np.abs(waveform).max() <= 1.0


def test_video_without_sound_track_is_a_clear_error(tmp_path):
    import av

    path = tmp_path / "silent.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(5):
            image = np.full((48, 64, 3), index * 40, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with pytest.raises(InputError, match="has no audio stream"):
        load_waveform(path)


def test_corrupt_video_is_a_clear_error(tmp_path):
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    with pytest.raises(InputError, match="cannot decode audio file"):
        load_waveform(path)


@pytest.mark.parametrize(
    "name",
    [
        "audio/videoretalking_audio1.wav",  # 44.1 kHz stereo wav (soundfile)
        "audio/sda_example_audio.wav",  # 50 kHz mono
        "clips/grid_spkA_bbaf2n.mpg",  # MP2 in MPEG-PS (PyAV)
        "clips/vox2_pcavs_00002.mp4",  # AAC in mp4
    ],
)
def test_the_streamed_sound_is_the_loaded_one_read_in_any_pieces(shared_data, name):
    """bin/generate muxes the sound decoded a second at a time: the same samples, bit for bit,
    as the whole file decoded at once."""
    whole = load_waveform(shared_data / name, 48000)
    reader = SampleReader(stream_waveform(shared_data / name, 48000))
    pieces = [reader.read(48000 // 25 * 25) for _ in range(2)] + [reader.read(7), reader.read()]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    assert reader.samples_read == len(whole) and len(reader.read()) == 0
