"""MfccWindows: shapes, agreement with librosa on real speech, centring and chunking."""

import itertools

import keras
import librosa
import numpy as np
import pytest
import scipy.fft
import tensorflow as tf

from lipsync_tf.audio import load_waveform
from lipsync_tf.audio.mfcc import MfccWindows
from lipsync_tf.config import AudioFeatureConfig
from lipsync_tf.errors import ConfigError

SPEECH_16K = "audio/makeittalk_M6_04_16k.wav"


def _librosa_log_mel(layer: MfccWindows, waveform: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(padded waveform, librosa's log-mel of it with the same STFT as [frames, n_mels])."""
    c = layer.config
    left, right = layer.context_samples
    padded = np.pad(
        waveform,
        (left, layer.num_frames(len(waveform)) * c.samples_per_video_frame - len(waveform) + right),
    )
    # librosa centres a win_length window inside each n_fft frame; tf.signal puts it at the start.
    # Shifting by the difference makes both analyse exactly the same samples.
    shift = (c.fft_length - c.frame_length) // 2
    mel = librosa.feature.melspectrogram(
        y=np.pad(padded, (shift, shift)),
        sr=c.sample_rate,
        n_fft=c.fft_length,
        hop_length=c.frame_step,
        win_length=c.frame_length,
        window="hann",
        center=False,
        power=2.0,
        n_mels=c.n_mels,
        fmin=c.lower_hz,
        fmax=c.upper_hz,
        htk=True,
        norm=None,
    )
    return padded, np.log(mel.T + 1e-6)


@pytest.mark.parametrize("num_samples", [1, 639, 640, 641, 48000])
def test_mfcc_windows_give_one_window_per_video_frame(num_samples):
    layer = MfccWindows()
    features = layer(np.zeros((2, num_samples), np.float32))
    expected_frames = -(-num_samples // 640)  # 16 kHz / 25 fps = 640 samples a frame
    assert tuple(features.shape) == (2, expected_frames, 35, 13)
    assert layer.num_frames(num_samples) == expected_frames


@pytest.mark.parametrize("shape", [(16000,), (1, 16000, 2)])
def test_mfcc_windows_reject_anything_but_a_mono_batch(shape):
    with pytest.raises(ValueError, match=r"\[batch, samples\]"):
        MfccWindows()(np.zeros(shape, np.float32))


def test_log_mel_agrees_with_librosa_on_real_speech(shared_data):
    waveform = load_waveform(shared_data / SPEECH_16K)
    layer = MfccWindows()
    padded, reference = _librosa_log_mel(layer, waveform)
    ours = layer.log_mel_spectrogram(padded[None].astype(np.float32)).numpy()[0]
    assert ours.shape == reference.shape
    # Measured: correlation 0.999999, largest gap 0.022 nats (tf builds the triangles in mel
    # space, librosa in Hz). A misaligned frame or a wrong band edge breaks these bounds.
    assert np.corrcoef(ours.ravel(), reference.ravel())[0, 1] > 0.9999
    assert np.abs(ours - reference).max() < 0.1


def test_mfcc_is_the_orthonormal_dct_of_the_log_mel(shared_data):
    waveform = load_waveform(shared_data / SPEECH_16K)[:16000]
    layer = MfccWindows()
    _, reference_log_mel = _librosa_log_mel(layer, waveform)
    reference = scipy.fft.dct(reference_log_mel, type=2, norm="ortho", axis=-1)[:, :13]
    windows = layer(waveform[None]).numpy()[0]
    # Window t starts at MFCC frame 4 t (four 10 ms hops per 40 ms video frame).
    for t in (0, 10, 24):
        np.testing.assert_allclose(windows[t], reference[4 * t : 4 * t + 35], atol=0.3)
    assert np.corrcoef(windows[10].ravel(), reference[40:75].ravel())[0, 1] > 0.999


def test_pure_tone_at_a_band_centre_peaks_in_that_band():
    config = AudioFeatureConfig()
    layer = MfccWindows(config)
    centres = librosa.mel_frequencies(
        config.n_mels + 2, fmin=config.lower_hz, fmax=config.upper_hz, htk=True
    )[1:-1]
    for band in (3, 15, 30):
        time = np.arange(16000) / 16000
        tone = np.sin(2 * np.pi * centres[band] * time).astype(np.float32)
        log_mel = layer.log_mel_spectrogram(tone[None]).numpy()[0]
        assert log_mel.mean(axis=0).argmax() == band


def test_each_window_is_centred_on_its_video_frame():
    layer = MfccWindows()
    waveform = np.zeros(25 * 640, np.float32)
    frame = 12
    centre = int((frame + 0.5) * 640)
    burst = np.random.default_rng(0).normal(size=80).astype(np.float32)
    waveform[centre - 40 : centre + 40] = burst
    energy = layer(waveform[None]).numpy()[0, frame, :, 0]  # c0 tracks log energy
    assert energy.argmax() == 17  # the middle of a 35-frame window


def test_chunked_features_equal_whole_file_features(shared_data):
    waveform = load_waveform(shared_data / SPEECH_16K)[None]
    layer = MfccWindows()
    whole = layer(waveform).numpy()
    total = whole.shape[1]
    bounds = [0, 1, 40, 90, total]
    chunks = [
        layer(layer.context_slice(waveform, start, stop), context_included=True).numpy()
        for start, stop in itertools.pairwise(bounds)
    ]
    assert [chunk.shape[1] for chunk in chunks] == [1, 39, 50, total - 90]
    np.testing.assert_allclose(np.concatenate(chunks, axis=1), whole, atol=1e-4)


def test_mfcc_layer_config_round_trip():
    config = AudioFeatureConfig(n_mfcc=20, window_seconds=0.2)
    layer = MfccWindows(config)
    clone = MfccWindows.from_config(layer.get_config())
    assert clone.config == config
    waveform = np.random.default_rng(0).normal(size=(1, 3000)).astype(np.float32)
    assert tuple(clone(waveform).shape) == (1, 5, 20, 20)
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    np.testing.assert_array_equal(restored(waveform), layer(waveform))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"fps": 30}, "whole number of samples per video frame"),
        ({"frame_step_ms": 15.0}, "whole number of MFCC hops"),
        ({"fft_length": 384}, "power of two"),
        ({"upper_hz": 9000.0}, "mel band"),
        ({"n_mfcc": 41}, "n_mfcc"),
    ],
)
def test_audio_config_rejects_unworkable_settings(overrides, message):
    with pytest.raises(ConfigError, match=message):
        AudioFeatureConfig(**overrides)


def test_mfcc_layer_converts_to_tflite_builtins_with_the_same_output(shared_data):
    # Serving runs the same features on device: only builtin ops, no Flex delegate.
    from ai_edge_litert.interpreter import Interpreter

    layer = MfccWindows()
    features = tf.function(
        lambda waveform: layer(waveform), input_signature=[tf.TensorSpec([1, None], tf.float32)]
    )
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [features.get_concrete_function()], layer
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    interpreter = Interpreter(model_content=converter.convert())

    waveform = load_waveform(shared_data / SPEECH_16K)[None]
    input_index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(input_index, waveform.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(input_index, waveform)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    # Measured: 1.9e-5 largest gap on values up to 87.
    np.testing.assert_allclose(got, layer(waveform).numpy(), atol=1e-3)
