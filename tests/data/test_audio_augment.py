"""data/audio_augment.py: each degradation does what it says, on real speech."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from lipsync_tf.audio.io import load_waveform
from lipsync_tf.data import audio_augment

SPEECH = Path(__file__).resolve().parents[2] / "examples" / "speech.wav"


@pytest.fixture(scope="module")
def speech():
    """Two 1-second slices of the bundled speech, as one recording's in- and out-of-sync audio."""
    waveform = load_waveform(SPEECH, 16000)
    return tf.constant(np.stack([waveform[16000:32000], waveform[40000:56000]]), tf.float32)


def _seed(value):
    return tf.constant([value, 0], tf.int64)


def _band_energy(waveform, low, high):
    spectrum = np.abs(np.fft.rfft(waveform)) ** 2
    hz = np.fft.rfftfreq(len(waveform), 1 / 16000)
    return spectrum[(hz >= low) & (hz < high)].sum()


def test_noise_is_added_at_10_to_30_db_below_the_speech(speech):
    for seed in range(5):
        noisy = audio_augment.add_noise(speech, _seed(seed)).numpy()
        noise = noisy - speech.numpy()
        frames = speech.numpy()[:, :16000].reshape(-1, 640)
        power = np.sort((frames**2).mean(axis=1))
        speech_power = power[len(power) // 2 :].mean()
        snr = 10 * np.log10(speech_power / (noise**2).mean())
        assert 9.5 < snr < 30.5, snr


def test_band_limit_keeps_the_pass_band_and_removes_the_rest():
    t = np.arange(16000) / 16000
    tones = np.sin(2 * np.pi * 1000 * t) + np.sin(2 * np.pi * 60 * t) + np.sin(2 * np.pi * 7000 * t)
    out = audio_augment.band_limit(tf.constant(tones[None], tf.float32), 200.0, 3000.0)[0].numpy()
    assert _band_energy(out, 900, 1100) > 0.95 * _band_energy(tones, 900, 1100)
    assert _band_energy(out, 50, 70) < 0.01 * _band_energy(tones, 50, 70)
    assert _band_energy(out, 6900, 7100) < 0.01 * _band_energy(tones, 6900, 7100)


def test_reverb_keeps_the_level_and_spreads_the_sound_in_time(speech):
    wet = audio_augment.reverberate(speech, _seed(1)).numpy()
    np.testing.assert_allclose(
        np.sqrt((wet**2).mean()), np.sqrt((speech.numpy() ** 2).mean()), rtol=1e-3
    )
    # An impulse comes back as a decaying tail.
    impulse = np.zeros((1, 16000), np.float32)
    impulse[0, 100] = 1.0
    response = audio_augment.reverberate(tf.constant(impulse), _seed(1)).numpy()[0]
    assert np.abs(response[200:4000]).max() > 1e-3
    assert np.abs(response[:100]).max() < 1e-6  # nothing before the sound (FFT rounding)


def test_codec_emulation_band_limits_and_quantises(speech):
    coded = audio_augment.emulate_codec(speech, _seed(2)).numpy()[0]
    clean = speech.numpy()[0]
    # The speech band survives; above the cut-off only quantisation noise is left.
    assert _band_energy(coded, 300, 3000) > 0.8 * _band_energy(clean, 300, 3000)
    assert _band_energy(coded, 6500, 8000) < 0.5 * _band_energy(clean, 6500, 8000)
    assert len(np.unique(np.round(coded, 6))) <= 256
    assert np.corrcoef(coded, clean)[0, 1] > 0.8


def test_degrade_is_repeatable_applies_one_draw_to_every_slice_and_is_off_at_zero(speech):
    settings = dict(reverb=1.0, noise=1.0, band=1.0, codec=1.0)
    first = audio_augment.degrade(speech, _seed(3), **settings).numpy()
    np.testing.assert_array_equal(first, audio_augment.degrade(speech, _seed(3), **settings))
    assert not np.allclose(first, audio_augment.degrade(speech, _seed(4), **settings))
    assert np.abs(first).max() <= 1.0
    np.testing.assert_array_equal(audio_augment.degrade(speech, _seed(3)), speech)
