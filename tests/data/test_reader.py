"""The tf.data reader on real TFRecord shards written through the schema writer."""

import dataclasses

import numpy as np
import pytest

from lipsync_tf.audio.mfcc import MfccWindows
from lipsync_tf.config import AudioFeatureConfig, DataConfig
from lipsync_tf.data import reader
from lipsync_tf.errors import InputError
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
            assert not np.allclose(batch["offsync_audio"][example], batch["audio"][example])


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


def test_flip_mirrors_still_and_frames_together(shards):
    directory, _ = shards
    plain = _config(directory, still="first")
    flipped = _config(directory, still="first", flip=True)
    mirrored = 0
    for a, b in zip(
        reader.training_dataset(plain, AUDIO).take(6),
        reader.training_dataset(flipped, AUDIO).take(6),
        strict=True,
    ):
        np.testing.assert_array_equal(a["audio"], b["audio"])
        for example in range(2):
            same = np.array_equal(a["frames"][example], b["frames"][example])
            mirror = np.array_equal(a["frames"][example][:, :, ::-1], b["frames"][example])
            still_mirror = np.array_equal(a["still"][example][:, ::-1], b["still"][example])
            assert same or (mirror and still_mirror)
            mirrored += int(mirror)
    assert 2 <= mirrored <= 10
