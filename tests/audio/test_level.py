"""audio.level: the speech level, bringing speech to the model's level, and what bin/generate
makes of quiet, loud and silent recordings."""

import numpy as np
import pytest
import soundfile

from lipsync_tf.audio import level
from lipsync_tf.errors import InputError
from lipsync_tf.inference.generate import load_speech

SPEECH_16K = "audio/makeittalk_M6_04_16k.wav"


def _tone_with_pauses(amplitude: float) -> np.ndarray:
    """1 s of a 200 Hz tone, then 1 s of silence: the louder half of the frames is the tone."""
    t = np.arange(16000) / 16000
    return np.concatenate([amplitude * np.sin(2 * np.pi * 200 * t), np.zeros(16000)])


def test_speech_level_is_the_rms_of_the_louder_half_leaving_pauses_out():
    # A sine's RMS is its amplitude / sqrt(2); the pause does not pull the level down.
    assert level.speech_level_dbfs(_tone_with_pauses(0.1)) == pytest.approx(-23.01, abs=0.01)
    assert level.speech_level_dbfs(np.zeros(3000)) == -np.inf
    assert level.speech_level_dbfs(0.5 * np.ones(100)) == pytest.approx(-6.02, abs=0.01)


def test_normalizing_reaches_the_target_unless_a_peak_would_clip():
    quiet = _tone_with_pauses(0.01)
    scaled, gain = level.normalize_level(quiet)
    assert level.speech_level_dbfs(scaled) == pytest.approx(level.TARGET_DBFS, abs=0.01)
    assert gain == pytest.approx(level.TARGET_DBFS + 43.01, abs=0.01)
    # A click at full scale leaves no headroom: the gain stops at the peak limit.
    clicked = quiet.copy()
    clicked[20000] = 0.5
    scaled, gain = level.normalize_level(clicked)
    assert np.abs(scaled).max() == pytest.approx(level.PEAK_LIMIT, rel=1e-6)
    assert gain == pytest.approx(20 * np.log10(level.PEAK_LIMIT / 0.5), abs=1e-6)
    # Silence is left for the caller to reject.
    silent = np.zeros(1000, np.float32)
    assert level.normalize_level(silent)[1] == 0.0


def test_load_speech_hears_a_quiet_recording_as_it_hears_the_original(shared_data, tmp_path):
    speech, rate = soundfile.read(shared_data / SPEECH_16K, dtype="float32")
    quiet = tmp_path / "quiet.wav"
    soundfile.write(quiet, 0.1 * speech, rate)  # a microphone 20 dB lower
    original = load_speech(shared_data / SPEECH_16K, 640)
    lowered = load_speech(quiet, 640)
    # This recording's peaks stand 17 dB above its speech, so the peak limit stops it at -17.2.
    assert np.abs(original).max() == pytest.approx(level.PEAK_LIMIT, rel=1e-5)
    assert -17.5 < level.speech_level_dbfs(original) < level.TARGET_DBFS
    # Equal up to one 16-bit step of the quiet file (3e-5), raised 20 dB.
    np.testing.assert_allclose(lowered, original, atol=4e-4)
    # Without normalising, the model would hear the quiet file 20 dB down.
    as_recorded = load_speech(quiet, 640, normalize=False)
    assert level.speech_level_dbfs(as_recorded) == pytest.approx(
        level.speech_level_dbfs(load_speech(shared_data / SPEECH_16K, 640, normalize=False)) - 20,
        abs=0.05,
    )


@pytest.mark.parametrize(
    "samples, words",
    [(np.zeros(8000), "all zeros"), (np.full(8000, 2e-4), "its loudest sample is -74 dBFS")],
)
def test_silence_is_a_user_error(tmp_path, samples, words):
    path = tmp_path / "silence.wav"
    soundfile.write(path, samples.astype(np.float32), 16000, subtype="FLOAT")
    with pytest.raises(InputError, match=f"is silent \\({words}\\); there is no speech"):
        load_speech(path, 640)
