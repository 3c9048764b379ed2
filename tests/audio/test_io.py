"""load_waveform: real files in several formats, and clear errors for unusable ones."""

import numpy as np
import pytest
import soundfile

from lipsync_tf.audio import load_waveform
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
