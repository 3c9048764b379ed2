"""What real recordings do to speech, in the graph: room reverb, background noise, band limits
and low-bit-rate coding, each drawn per training example from stateless seeds.

The training clips are studio speech (GRID) and clean interviews; people bring phone
recordings, rooms and noisy backgrounds. Each effect is applied with its own probability
(`DataConfig.audio_reverb`, `audio_noise`, `audio_band_limit`, `audio_codec`), to the
example's in-sync and out-of-sync audio alike (one recording), before the MFCC:

- reverb: convolution with a synthetic room response, exponentially decaying noise with
  RT60 0.15-0.8 s after the direct sound, mixed at a direct-to-reverberant ratio of 0-12 dB;
- noise: Gaussian noise with a random spectral tilt (white to brown: fans, hum, traffic) at an
  SNR of 10-30 dB over the window's speech;
- band limit: a high-pass at 50-400 Hz and a low-pass at 3-7.6 kHz (small loudspeakers,
  telephone-like microphones);
- codec: what low-bit-rate speech codecs leave, emulated (no codec runs in the graph): a
  low-pass at 3.4-6 kHz and 6- to 8-bit mu-law quantisation.
"""

from __future__ import annotations

import math

import tensorflow as tf

SAMPLE_RATE = 16000
REVERB_SECONDS = 0.5  # impulse response length
RT60_RANGE = (0.15, 0.8)
DRR_DB_RANGE = (0.0, 12.0)
SNR_DB_RANGE = (10.0, 30.0)
HIGH_PASS_HZ = (50.0, 400.0)
LOW_PASS_HZ = (3000.0, 7600.0)
CODEC_LOW_PASS_HZ = (3400.0, 6000.0)
CODEC_BITS = (6.0, 8.0)


def _uniform(seed, low, high):
    return tf.random.stateless_uniform([], seed, low, high)


def _fft_size(length: int) -> int:
    return 1 << (length - 1).bit_length()


def _filter_spectrum(waveforms: tf.Tensor, gain_of_hz) -> tf.Tensor:
    """Each waveform [k, n] (n static) filtered by a zero-phase gain(frequency in Hz) in the FFT
    domain."""
    length = int(waveforms.shape[-1])
    size = _fft_size(length)
    spectrum = tf.signal.rfft(waveforms, [size])
    hz = tf.linspace(0.0, SAMPLE_RATE / 2, size // 2 + 1)
    filtered = spectrum * tf.cast(gain_of_hz(hz), tf.complex64)
    return tf.signal.irfft(filtered, [size])[..., :length]


def band_limit(waveforms: tf.Tensor, low_hz: tf.Tensor, high_hz: tf.Tensor) -> tf.Tensor:
    """A smooth band-pass: gain 1 between `low_hz` and `high_hz`, falling off over an octave
    (half-cosine on a log-frequency axis) on each side."""

    def gain(hz):
        octaves_below = tf.math.log(tf.maximum(low_hz, 1.0) / tf.maximum(hz, 1.0)) / math.log(2.0)
        octaves_above = tf.math.log(tf.maximum(hz, 1.0) / high_hz) / math.log(2.0)
        below = 0.5 + 0.5 * tf.cos(math.pi * tf.clip_by_value(octaves_below, 0.0, 1.0))
        above = 0.5 + 0.5 * tf.cos(math.pi * tf.clip_by_value(octaves_above, 0.0, 1.0))
        return below * above

    return _filter_spectrum(waveforms, gain)


def reverberate(waveforms: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """waveforms [k, n] (one recording, several slices) in a synthetic room: the direct sound
    plus exponentially decaying noise, level kept."""
    rt60_seed, drr_seed, tail_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    rt60 = _uniform(rt60_seed, *RT60_RANGE)
    drr_db = _uniform(drr_seed, *DRR_DB_RANGE)
    taps = int(REVERB_SECONDS * SAMPLE_RATE)
    t = tf.range(taps, dtype=tf.float32) / SAMPLE_RATE
    # -60 dB after rt60 seconds: amplitude exp(-6.91 t / rt60).
    tail = tf.random.stateless_normal([taps], tail_seed) * tf.exp(-6.908 * t / rt60)
    tail = tf.concat([[0.0], tail[1:]], axis=0)
    tail *= tf.sqrt(10.0 ** (-drr_db / 10.0) / tf.maximum(tf.reduce_sum(tail**2), 1e-12))
    response = tf.concat([[1.0], tf.zeros([taps - 1])], axis=0) + tail
    length = int(waveforms.shape[-1])
    size = _fft_size(length + taps)
    wet = tf.signal.irfft(
        tf.signal.rfft(waveforms, [size]) * tf.signal.rfft(response[None], [size]), [size]
    )[..., :length]
    return wet * _rms(waveforms) / tf.maximum(_rms(wet), 1e-8)


def _rms(waveforms: tf.Tensor) -> tf.Tensor:
    return tf.sqrt(tf.reduce_mean(waveforms**2) + 1e-12)


def add_noise(waveforms: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Tilted Gaussian noise at 10-30 dB SNR over the speech of waveforms [k, n]."""
    snr_seed, tilt_seed, noise_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    snr_db = _uniform(snr_seed, *SNR_DB_RANGE)
    # Spectral slope in dB per octave: 0 (white) to -6 (brown).
    slope = _uniform(tilt_seed, -6.0, 0.0)
    noise = tf.random.stateless_normal(tf.shape(waveforms), noise_seed)

    def tilt(hz):
        octaves = tf.math.log(tf.maximum(hz, 50.0) / 50.0) / math.log(2.0)
        return 10.0 ** (slope * octaves / 20.0)

    noise = _filter_spectrum(noise, tilt)
    # The SNR is over the speech: the louder half of 40 ms frames, as audio/level.py levels it.
    frames = tf.reshape(waveforms[..., : (waveforms.shape[-1] // 640) * 640], [-1, 640])
    power = tf.reduce_mean(frames**2, axis=-1)
    speech_power = tf.reduce_mean(tf.sort(power)[tf.shape(power)[0] // 2 :])
    scale = tf.sqrt(speech_power / 10.0 ** (snr_db / 10.0)) / _rms(noise)
    return waveforms + scale * noise


def emulate_codec(waveforms: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """A low-bit-rate speech codec's traces: low-passed at 3.4-6 kHz, mu-law quantised to 6-8
    bits."""
    cutoff_seed, bits_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    cutoff = _uniform(cutoff_seed, *CODEC_LOW_PASS_HZ)
    levels = 2.0 ** tf.round(_uniform(bits_seed, *CODEC_BITS))
    limited = band_limit(waveforms, tf.constant(20.0), cutoff)
    mu = 255.0
    peak = tf.maximum(tf.reduce_max(tf.abs(limited)), 1e-6)
    x = tf.clip_by_value(limited / peak, -1.0, 1.0)
    encoded = tf.sign(x) * tf.math.log1p(mu * tf.abs(x)) / math.log1p(mu)
    encoded = tf.round(encoded * (levels / 2 - 1)) / (levels / 2 - 1)
    decoded = tf.sign(encoded) * ((1.0 + mu) ** tf.abs(encoded) - 1.0) / mu
    return decoded * peak


def degrade(
    waveforms: tf.Tensor,
    seed: tf.Tensor,
    reverb: float = 0.0,
    noise: float = 0.0,
    band: float = 0.0,
    codec: float = 0.0,
) -> tf.Tensor:
    """waveforms [k, n] of one recording, each effect applied with its probability (all with
    the same draws to every slice), clipped to [-1, 1]."""
    seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 8))
    low_seed, high_seed = seeds[6], seeds[7]

    def maybe(probability, index, effect, x):
        if not probability:
            return x
        apply = tf.random.stateless_uniform([], seeds[index]) < probability
        return tf.cond(apply, lambda: effect(x, seeds[index + 1]), lambda: x)

    x = maybe(reverb, 0, reverberate, waveforms)
    x = maybe(
        band,
        2,
        lambda w, _: band_limit(
            w, _uniform(low_seed, *HIGH_PASS_HZ), _uniform(high_seed, *LOW_PASS_HZ)
        ),
        x,
    )
    x = maybe(codec, 4, emulate_codec, x)
    # Noise last: a room's or a street's noise is recorded, not filtered, with the speech.
    if noise:
        apply = tf.random.stateless_uniform([], tf.random.experimental.stateless_fold_in(seed, 9))
        x = tf.cond(
            apply < noise,
            lambda: add_noise(x, tf.random.experimental.stateless_fold_in(seed, 10)),
            lambda: x,
        )
    return tf.clip_by_value(x, -1.0, 1.0)
