"""The tf.data reader on real TFRecord shards written through the schema writer."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from lipsync_tf.audio.mfcc import MfccWindows
from lipsync_tf.config import AudioFeatureConfig, DataConfig
from lipsync_tf.data import reader
from lipsync_tf.errors import ConfigError, InputError
from tests.data.helpers import make_clip, write_shards

AUDIO = AudioFeatureConfig()
# clip_id, speaker, frames, clip_code
CLIPS = [("a0", "alice", 40, 10), ("a1", "alice", 55, 20), ("b0", "bob", 48, 30),
         ("c0", "carol", 60, 40), ("c1", "carol", 9, 50)]  # fmt: skip


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    rng = np.random.default_rng(0)
    records = [make_clip(c, s, n, rng, clip_code=code) for c, s, n, code in CLIPS]
    directory = tmp_path_factory.mktemp("shards")
    write_shards(directory, records, num_shards=2)
    return directory, {record.clip_id: record for record in records}


def _config(directory, **changes):
    base = DataConfig(
        data_dir=str(directory), window_frames=8, batch_size=2, deterministic=True, seed=3
    )
    return dataclasses.replace(base, **changes)


def _to_uint8(images):
    return np.round((np.asarray(images) + 1.0) * 127.5).astype(int)


def test_training_batches_have_the_documented_shapes_and_dtypes(shards):
    directory, _ = shards
    batch = next(iter(reader.training_dataset(_config(directory), AUDIO)))
    expected = {
        "still": ((2, 128, 96, 3), "float32"),
        "frames": ((2, 8, 128, 96, 3), "float32"),
        "audio": ((2, 8, 35, 13), "float32"),
        "offsync_audio": ((2, 8, 35, 13), "float32"),
        "noise": ((2, 8, 10), "float32"),
        "frame_index": ((2, 2), "int32"),
        "lips": ((2, 8, 40, 2), "float32"),
        "lips_delta": ((2, 8, 40, 2), "float32"),
        "still_lips": ((2, 40, 2), "float32"),
        "mouth_opening": ((2, 8), "float32"),
        "lips_valid": ((2, 8), "float32"),
        "framing": ((2, 3), "float32"),
        "teacher_coin": ((2,), "float32"),
    }
    assert {k: (tuple(v.shape), v.dtype.name) for k, v in batch.items()} == expected
    assert -1.0 <= float(np.min(batch["frames"])) and float(np.max(batch["frames"])) <= 1.0


def test_windows_are_consecutive_frames_with_their_own_audio(shards):
    directory, records = shards
    by_code = {code: clip for clip, _, _, code in CLIPS}
    mfcc = MfccWindows(AUDIO)
    for batch in reader.training_dataset(_config(directory), AUDIO).take(4):
        frames = _to_uint8(batch["frames"])
        for example in range(2):
            record = records[by_code[frames[example, 0, 0, 0, 1]]]
            start = int(np.argmax(
                [(i * 7) % 256 == frames[example, 0, 0, 0, 0] for i in range(record.num_frames)]
            ))  # fmt: skip
            expected_index = [((start + i) * 7) % 256 for i in range(8)]
            assert list(frames[example, :, 0, 0, 0]) == expected_index
            whole = mfcc(record.audio[None]).numpy()[0]
            np.testing.assert_allclose(
                batch["audio"][example], whole[start : start + 8], rtol=1e-4, atol=1e-3
            )
            # The out-of-sync audio is this clip's, from a window at least 5 frames away (when
            # the clip has one: c1 is too short, see the next test).
            if record.num_frames - 8 >= 5:
                offsync_start = _window_start(whole, batch["offsync_audio"][example])
                assert abs(offsync_start - start) >= 5, (start, offsync_start)
            # The mouth-shape targets are the record's, for the same frames.
            window = slice(start, start + 8)
            np.testing.assert_allclose(batch["lips"][example], record.lip_landmarks[window])
            opening = record.mouth_opening[window]
            np.testing.assert_allclose(batch["mouth_opening"][example], opening)
            mean_shape = record.lip_landmarks.mean(axis=0)
            np.testing.assert_allclose(
                batch["lips_delta"][example], record.lip_landmarks[window] - mean_shape, atol=1e-6
            )
            assert (batch["lips_valid"][example].numpy() == 1).all()


def _window_start(whole: np.ndarray, windows: np.ndarray) -> int:
    """Where the MFCC windows [8, ...] sit in a clip's windows [T, ...] (asserts they do)."""
    errors = [
        float(np.abs(whole[s : s + len(windows)] - windows).max())
        for s in range(len(whole) - len(windows) + 1)
    ]
    assert min(errors) < 1e-2, min(errors)
    return int(np.argmin(errors))


def test_a_clip_too_short_for_a_shifted_window_borrows_another_clips_audio(tmp_path):
    # One window long (8 frames): no window of the clip is 5 frames away from the only one.
    rng = np.random.default_rng(1)
    clips = [make_clip("short", "s0", 8, rng, clip_code=1), make_clip("long", "s1", 40, rng, 2)]
    write_shards(tmp_path, clips, num_shards=1)
    mfcc = MfccWindows(AUDIO)
    short_audio = mfcc(clips[0].audio[None]).numpy()[0]
    long_audio = mfcc(clips[1].audio[None]).numpy()[0]
    seen_short = borrowed = 0
    for batch in reader.training_dataset(_config(tmp_path), AUDIO).take(6):
        codes = _to_uint8(batch["frames"])[:, 0, 0, 0, 1]
        for example, code in enumerate(codes):
            if code != 1:
                continue
            seen_short += 1
            offsync = batch["offsync_audio"][example].numpy()
            assert not np.allclose(offsync, short_audio[:8], atol=1e-2)
            if codes[1 - example] == 2:  # the other example is the long clip: its audio
                _window_start(long_audio, offsync)
                borrowed += 1
    assert seen_short > 0 and borrowed > 0


def test_validation_speakers_never_reach_training(shards):
    directory, _ = shards
    config = _config(directory, validation_speakers=("carol",), window_frames=8)
    train_codes = set()
    for batch in reader.training_dataset(config, AUDIO).take(20):
        train_codes |= set(_to_uint8(batch["frames"])[:, 0, 0, 0, 1].tolist())
    assert train_codes == {10, 20, 30}
    validation = reader.validation_dataset(config, AUDIO)
    codes = [
        code for batch in validation for code in _to_uint8(batch["frames"])[:, 0, 0, 0, 1].tolist()
    ]
    # c1 has 9 frames (>= 8) so both carol clips are validated, each from its first frame.
    assert sorted(codes) == [40, 50]
    first = next(iter(validation))
    assert (_to_uint8(first["frames"])[:, 0, 0, 0, 0] == 0).all()
    assert (_to_uint8(first["still"])[:, 0, 0, 0] == 0).all()


def test_clips_shorter_than_the_window_are_not_used(shards):
    directory, _ = shards
    codes = set()
    for batch in reader.training_dataset(_config(directory, window_frames=12), AUDIO).take(20):
        codes |= set(_to_uint8(batch["frames"])[:, 0, 0, 0, 1].tolist())
    assert 50 not in codes and codes <= {10, 20, 30, 40}


def test_hash_split_is_stable_and_speaker_disjoint(shards):
    directory, _ = shards
    speakers = [f"s{i}" for i in range(200)]
    config = _config(directory, validation_fraction=0.25)
    held_out = reader.validation_speakers(config, speakers)
    assert held_out == reader.validation_speakers(config, list(reversed(speakers)))
    assert 30 <= len(held_out) <= 70


def test_deterministic_mode_repeats_batches_and_still_first_uses_frame_zero(shards):
    directory, _ = shards
    config = _config(directory, still="first")
    first = [b["frames"].numpy() for b in reader.training_dataset(config, AUDIO).take(3)]
    again = [b for b in reader.training_dataset(config, AUDIO).take(3)]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b["frames"].numpy())
    assert (_to_uint8(again[0]["still"])[:, 0, 0, 0] == 0).all()
    skipped = next(iter(reader.training_dataset(config, AUDIO, skip_batches=2)))
    np.testing.assert_array_equal(skipped["frames"].numpy(), first[2])


def test_random_still_comes_from_outside_the_window(shards):
    directory, _ = shards
    for batch in reader.training_dataset(_config(directory, still="random"), AUDIO).take(5):
        stills = _to_uint8(batch["still"])[:, 0, 0, 0]
        windows = _to_uint8(batch["frames"])[:, :, 0, 0, 0]
        for still, window in zip(stills, windows, strict=True):
            assert still not in set(window.tolist())


def test_missing_shards_are_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="bin/prepare_data"):
        reader.training_dataset(_config(tmp_path), AUDIO)


def _batches_without_and_with_flip(shards):
    """Six training batches (still: first frame) without and with --flip, in pairs."""
    directory, _ = shards
    plain = _config(directory, still="first")
    flipped = _config(directory, still="first", flip=True)
    return zip(
        reader.training_dataset(plain, AUDIO).take(6),
        reader.training_dataset(flipped, AUDIO).take(6),
        strict=True,
    )


def test_flip_mirrors_still_and_frames_together(shards):
    mirrored = 0
    for a, b in _batches_without_and_with_flip(shards):
        np.testing.assert_array_equal(a["audio"], b["audio"])
        for example in range(2):
            same = np.array_equal(a["frames"][example], b["frames"][example])
            mirror = np.array_equal(a["frames"][example][:, :, ::-1], b["frames"][example])
            still_mirror = np.array_equal(a["still"][example][:, ::-1], b["still"][example])
            assert same or (mirror and still_mirror)
            mirrored += int(mirror)
    assert 2 <= mirrored <= 10


def test_mirrored_examples_mirror_their_lip_landmarks(shards):
    mirrored = 0
    for a, b in _batches_without_and_with_flip(shards):
        for example in range(2):
            if np.array_equal(a["frames"][example], b["frames"][example]):
                np.testing.assert_array_equal(a["lips"][example], b["lips"][example])
                continue
            mirrored += 1
            for key in ("lips", "lips_delta", "still_lips"):
                expected = reader.mirror_lips(a[key][example]).numpy()
                np.testing.assert_allclose(b[key][example], expected, atol=1e-6)
    assert mirrored >= 2


def test_jitter_moves_the_pixels_not_the_lips(shards):
    directory, _ = shards
    plain = next(iter(reader.training_dataset(_config(directory), AUDIO)))
    jittered = next(iter(reader.training_dataset(_config(directory, jitter=0.1), AUDIO)))
    np.testing.assert_array_equal(plain["lips"], jittered["lips"])
    np.testing.assert_array_equal(plain["audio"], jittered["audio"])
    assert not np.allclose(plain["frames"], jittered["frames"], atol=0.05)
    # Still and frames move together: channel 1 (the clip code, constant over the image)
    # survives the reflection-filled warp unchanged.
    np.testing.assert_allclose(
        _to_uint8(jittered["frames"])[..., 1], _to_uint8(plain["frames"])[..., 1], atol=1
    )


def test_frame_points_says_where_frame_images_moves_a_pixel():
    image = np.zeros((1, 128, 96, 3), np.float32)
    image[0, 70:73, 30:33] = 1.0  # a 3x3 dot centred on pixel (x 31, y 71)
    for framing in ([1.0, 0.0, 0.0], [1.2, 0.05, -0.04], [0.8, -0.1, 0.06]):
        moved = reader.frame_images(tf.constant(image), tf.constant(framing)).numpy()[0, ..., 0]
        rows, cols = np.nonzero(moved > 0.5 * moved.max())
        expected = reader.frame_points(tf.constant([[31.0, 71.0]]), tf.constant([framing]))
        np.testing.assert_allclose([cols.mean(), rows.mean()], expected.numpy()[0], atol=0.6)


def test_jitter_max_scale_frames_faces_looser_and_says_how(shards):
    directory, _ = shards
    framings = np.stack(
        [reader.jitter_framing(0.05, tf.constant([seed, 0]), max_scale=1.3).numpy()
         for seed in range(200)]
    )  # fmt: skip
    scales = 1.0 / framings[:, 0]  # the crop window's size factor, bin/evaluate's --crop_scale
    assert scales.min() >= 1 / 1.05 - 1e-6 and scales.max() <= 1.3 + 1e-6
    assert scales.max() > 1.25 and np.mean(scales > 1.05) > 0.6
    assert np.abs(framings[:, 1:]).max() <= 0.05
    # The reader reports each example's framing; untouched examples say (1, 0, 0).
    plain = next(iter(reader.training_dataset(_config(directory), AUDIO)))
    np.testing.assert_array_equal(plain["framing"], [reader.NO_FRAMING] * 2)
    config = _config(directory, jitter=0.05, jitter_max_scale=1.3)
    flipped = dataclasses.replace(config, flip=True)
    mirrored = 0
    for a, b in zip(
        reader.training_dataset(config, AUDIO).take(4),
        reader.training_dataset(flipped, AUDIO).take(4),
        strict=True,
    ):
        assert np.all(1 / a["framing"].numpy()[:, 0] <= 1.3 + 1e-6)
        assert not np.allclose(a["framing"], [reader.NO_FRAMING] * 2)
        # A mirrored example's framing is mirrored too: its horizontal shift changes sign.
        for example in range(2):
            sign = 1.0
            if not np.allclose(a["lips"][example], b["lips"][example]):
                mirrored, sign = mirrored + 1, -1.0
            expected = a["framing"].numpy()[example] * [1.0, sign, 1.0]
            np.testing.assert_allclose(b["framing"][example], expected, atol=1e-7)
    assert mirrored >= 1
    with pytest.raises(ConfigError, match=r"jitter_max_scale 1\.3 needs jitter"):
        _config(directory, jitter_max_scale=1.3)


def test_color_jitter_changes_the_colours_not_the_lips(shards):
    directory, _ = shards
    plain = next(iter(reader.training_dataset(_config(directory), AUDIO)))
    graded = next(iter(reader.training_dataset(_config(directory, color_jitter=0.3), AUDIO)))
    for key in ("lips", "audio", "noise", "frame_index"):
        np.testing.assert_array_equal(plain[key], graded[key])  # no other draw moved
    assert np.abs(np.asarray(plain["frames"]) - np.asarray(graded["frames"])).mean() > 0.01
    assert np.abs(np.asarray(plain["still"]) - np.asarray(graded["still"])).mean() > 0.01
    # Validation examples are never graded.
    config = _config(directory, color_jitter=0.3, validation_speakers=("carol",))
    plain_config = _config(directory, validation_speakers=("carol",))
    first = next(iter(reader.validation_dataset(config, AUDIO)))
    reference = next(iter(reader.validation_dataset(plain_config, AUDIO)))
    np.testing.assert_array_equal(first["frames"], reference["frames"])


def _training_batches_differing_in_audio_only(directory, **audio_options):
    """The first training batch without and with `audio_options`, checked that no draw but the
    audio's moved."""
    plain = next(iter(reader.training_dataset(_config(directory), AUDIO)))
    changed = next(iter(reader.training_dataset(_config(directory, **audio_options), AUDIO)))
    for key in ("frames", "still", "lips", "noise", "frame_index", "framing"):
        np.testing.assert_array_equal(plain[key], changed[key])
    return plain, changed


def _assert_validation_audio_untouched(directory, **audio_options):
    """Validation examples get the recording as it is, whatever the audio augmentation."""
    config = _config(directory, validation_speakers=("carol",), **audio_options)
    reference = _config(directory, validation_speakers=("carol",))
    np.testing.assert_array_equal(
        next(iter(reader.validation_dataset(config, AUDIO)))["audio"],
        next(iter(reader.validation_dataset(reference, AUDIO)))["audio"],
    )


def _assert_only_training_audio_changes(directory, **audio_options):
    """`audio_options` clearly change the training audio (in and out of sync), no other draw,
    and no validation example."""
    plain, changed = _training_batches_differing_in_audio_only(directory, **audio_options)
    for key in ("audio", "offsync_audio"):
        assert np.abs(np.asarray(changed[key]) - np.asarray(plain[key])).mean() > 0.1
    _assert_validation_audio_untouched(directory, **audio_options)


def test_audio_gain_changes_the_loudness_and_nothing_else(shards):
    # A gain g adds 2 ln g to every log-mel band, so only MFCC 0 moves, by 2 ln g sqrt(n_mels)
    # (orthonormal DCT); the test audio peaks at 0.41, so +6 dB does not clip.
    directory, _ = shards
    plain, louder = _training_batches_differing_in_audio_only(directory, audio_gain_db=6.0)
    for key in ("audio", "offsync_audio"):
        change = np.asarray(louder[key]) - np.asarray(plain[key])
        assert np.median(np.abs(change[..., 1:])) < 1e-3
        shifts = np.median(change[..., 0].reshape(len(change), -1), axis=1)
        bound = 2 * np.log(10 ** (6.0 / 20)) * np.sqrt(AUDIO.n_mels)
        assert np.all(np.abs(shifts) <= bound + 1e-3) and np.abs(shifts).max() > 0.5
    # The in-sync and out-of-sync audio of an example get the same gain.
    np.testing.assert_allclose(
        np.median((louder["audio"] - plain["audio"])[..., 0].numpy().reshape(2, -1), axis=1),
        np.median(
            (louder["offsync_audio"] - plain["offsync_audio"])[..., 0].numpy().reshape(2, -1),
            axis=1,
        ),
        atol=1e-3,
    )
    _assert_validation_audio_untouched(directory, audio_gain_db=6.0)
    with pytest.raises(ConfigError, match="audio_gain_db"):
        _config(directory, audio_gain_db=40.0)


def test_audio_tilt_filters_the_audio_and_draws_nothing_else(shards):
    directory, _ = shards
    _assert_only_training_audio_changes(directory, audio_tilt=0.9)
    with pytest.raises(ConfigError, match="audio_tilt"):
        _config(directory, audio_tilt=1.0)


def test_tilt_audio_lifts_the_highs_or_the_lows_and_keeps_samples_in_range():
    seconds = np.arange(16000) / 16000
    low, high = (np.sin(2 * np.pi * hz * seconds).astype(np.float32) for hz in (100, 6000))

    def gain(wave, coefficient):
        filtered = reader.tilt_audio(tf.constant(wave), tf.constant(coefficient)).numpy()
        return filtered.std() / wave.std()

    # |1 - c e^-iw| / (1 + |c|): at c = 0.9, 0.06 at 100 Hz and 0.92 at 6 kHz; at c = -0.9,
    # 1.00 and 0.39.
    assert gain(high, 0.9) > 10 * gain(low, 0.9)
    assert gain(low, -0.9) > 2 * gain(high, -0.9)
    assert gain(low, 0.0) == pytest.approx(1.0)
    square = np.sign(high + 1e-9).astype(np.float32)  # full scale, flipping sign often
    for coefficient in (0.9, -0.9):
        assert np.abs(reader.tilt_audio(tf.constant(square), tf.constant(coefficient))).max() <= 1.0


def test_color_jitter_grades_every_image_alike_and_keeps_grey_grey():
    rng = np.random.default_rng(5)
    image = rng.uniform(-0.8, 0.8, (1, 128, 96, 3)).astype(np.float32)
    grey = np.repeat(rng.uniform(-0.8, 0.8, (1, 128, 96, 1)), 3, axis=-1).astype(np.float32)
    images = tf.constant(np.concatenate([image, grey, image]))
    for seed in range(5):
        out = reader.color_jitter_frames(images, 0.3, tf.constant([seed, 1])).numpy()
        np.testing.assert_array_equal(out[0], out[2])  # the same change on every image
        np.testing.assert_allclose(out[1, ..., 0], out[1, ..., 2], atol=1e-6)  # grey stays grey
        assert out.min() >= -1.0 and out.max() <= 1.0
        # Brightness, contrast and saturation within their bounds move a pixel by at most
        # about (0.3 + 0.3 + 0.3) of the range here.
        assert np.abs(out - images.numpy()).max() < 1.2
        assert np.abs(out - images.numpy()).mean() > 1e-3


def test_speaker_balance_evens_out_speakers_with_many_clips(tmp_path):
    rng = np.random.default_rng(3)
    clips = [make_clip(f"m{i}", "many", 10, rng, clip_code=1) for i in range(16)]
    clips.append(make_clip("one", "single", 10, rng, clip_code=2))
    write_shards(tmp_path, clips, num_shards=2)

    def share_of_single(balance):
        config = _config(tmp_path, batch_size=8, speaker_balance=balance, deterministic=False)
        codes = np.concatenate(
            [_to_uint8(batch["frames"])[:, 0, 0, 0, 1]
             for batch in reader.training_dataset(config, AUDIO).take(25)]
        )  # fmt: skip
        return float(np.mean(codes == 2))

    # Alone: 1 clip in 17. Fully balanced: half the examples. sqrt: 1 / (1 + 4).
    assert share_of_single(0.0) < 0.12
    assert 0.35 < share_of_single(1.0) < 0.65
    assert 0.12 < share_of_single(0.5) < 0.3


def test_several_data_directories_are_read_together(tmp_path):
    rng = np.random.default_rng(4)
    write_shards(tmp_path / "one", [make_clip("x", "sx", 10, rng, clip_code=1)], num_shards=1)
    write_shards(tmp_path / "two", [make_clip("y", "sy", 10, rng, clip_code=2)], num_shards=1)
    config = _config(f"{tmp_path / 'one'},{tmp_path / 'two'}", deterministic=False)
    codes = set()
    for batch in reader.training_dataset(config, AUDIO).take(6):
        codes |= set(_to_uint8(batch["frames"])[:, 0, 0, 0, 1].tolist())
    assert codes == {1, 2}
    assert reader.list_speakers(config.data_dir) == ["sx", "sy"]
    with pytest.raises(InputError, match="missing"):
        reader.shard_files(f"{tmp_path / 'one'},{tmp_path / 'missing'}")


def test_records_without_landmarks_ask_for_new_data(tmp_path):
    import tensorflow as tf

    from lipsync_tf.data import schema

    record = make_clip("old", "s", 10, np.random.default_rng(5))
    example = tf.train.Example.FromString(schema.serialize(record))
    for key in ("lip_landmarks", "mouth_opening", "landmark_scores"):
        del example.features.feature[key]
    with pytest.raises(tf.errors.InvalidArgumentError, match="prepare_data --overwrite"):
        schema.parse(example.SerializeToString())


def test_recording_degradations_change_the_audio_and_draw_nothing_else(shards):
    directory, _ = shards
    settings = dict(audio_reverb=1.0, audio_noise=1.0, audio_band_limit=1.0, audio_codec=1.0)
    _assert_only_training_audio_changes(directory, **settings)
    with pytest.raises(ConfigError, match="audio_noise is a probability"):
        _config(directory, audio_noise=1.5)


def test_jitter_min_and_max_scale_frame_faces_tighter_and_looser():
    framings = np.stack(
        [reader.jitter_framing(0.1, tf.constant([seed, 0]), max_scale=1.5, min_scale=0.85).numpy()
         for seed in range(300)]
    )  # fmt: skip
    scales = 1.0 / framings[:, 0]
    assert scales.min() >= 0.85 - 1e-6 and scales.max() <= 1.5 + 1e-6
    assert scales.min() < 0.9 and scales.max() > 1.45
    assert np.abs(framings[:, 1:]).max() <= 0.1
