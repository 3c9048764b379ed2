"""The audio -> mouth probe: ridge features, the ridge on speech that drives a mouth, the head."""

import dataclasses

import numpy as np
import pytest

from lipsync_tf.config import AudioFeatureConfig, DataConfig, ModelConfig
from lipsync_tf.evaluation import audio_probe
from lipsync_tf.models import Generator
from tests.data.helpers import make_clip, write_shards


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    # The helpers' clips are loud where the mouth is open: loudness and opening both follow
    # (frame index mod 10), so the audio predicts the mouth for every speaker alike.
    rng = np.random.default_rng(11)
    directory = tmp_path_factory.mktemp("probe_shards")
    write_shards(directory, [make_clip(f"c{i}", f"s{i % 4}", 60, rng) for i in range(8)])
    return str(directory)


def test_ridge_features_stack_each_frames_own_hops_over_the_context():
    mfcc = np.arange(5 * 35 * 2, dtype=np.float64).reshape(5, 35, 2)
    features = audio_probe.ridge_features(mfcc, context=1)
    assert features.shape == (5, 3 * 4 * 2)
    own = mfcc[:, 15:19].reshape(5, -1)
    np.testing.assert_array_equal(features[2], np.concatenate([own[1], own[2], own[3]]))
    np.testing.assert_array_equal(features[0, :8], own[0])  # the edge repeats the first frame


def test_ridge_predicts_a_mouth_the_audio_drives_on_unseen_speakers(data_dir):
    data = DataConfig(data_dir=data_dir, validation_speakers=("s3",))
    result = audio_probe.probe(data, AudioFeatureConfig())
    assert result["validation_speakers"] == ["s3"] and len(result["clips"]) == 2
    assert result["ridge_mean_r"] > 0.8, result


def test_leave_one_speaker_out_covers_every_speaker(data_dir):
    clips = audio_probe.load_clips(data_dir, AudioFeatureConfig())
    result = audio_probe.leave_one_speaker_out(clips)
    assert result["speakers"] == 4 and result["mean_r"] > 0.8


def test_probe_scores_a_generators_mouth_head(data_dir):
    config = dataclasses.replace(ModelConfig.tiny(), mouth_head=True)
    generator = Generator.from_model_config(config)
    generator.build({"still": (None, 128, 96, 3), "audio": (None, None, 35, 13)})
    data = DataConfig(data_dir=data_dir, validation_speakers=("s3",))
    result = audio_probe.probe(data, config.audio, generator)
    assert -1.0 <= result["head_mean_r"] <= 1.0
    assert all("head" in row for row in result["clips"].values())


def test_a_mouth_that_never_moves_scores_zero():
    assert audio_probe.pearson(np.ones(10), np.arange(10.0)) == 0.0


def _evaluation(mouth_corr: dict[str, float]) -> dict:
    """The part of a `bin/evaluate --output` result the pairing reads."""
    return {
        "clips": [
            {"clip_id": clip_id, "systems": {"model": {"mouth_corr": value}}}
            for clip_id, value in mouth_corr.items()
        ]
    }


def test_paired_comparison_averages_seeds_and_keeps_only_clips_both_scored():
    ridge = {"a": 0.5, "b": 0.3, "c": 0.7}
    seeds = [_evaluation({"a": 0.6, "b": 0.2, "x": 0.9}), _evaluation({"a": 0.8, "b": 0.4})]
    paired = audio_probe.paired_with_ridge(ridge, seeds)
    assert list(paired["clips"]) == ["a", "b"]  # "c" unscored, "x" has no ridge
    assert paired["clips"]["a"] == pytest.approx((0.7, 0.5))
    assert paired["mean_difference"] == pytest.approx(((0.7 - 0.5) + (0.3 - 0.3)) / 2)
    # Differences 0.2 and 0.0: standard deviation 0.1414, error 0.1, t(0.975, 1) = 12.706.
    assert paired["standard_error"] == pytest.approx(0.1)
    low, high = paired["interval95"]
    assert low == pytest.approx(0.1 - 1.2706, abs=1e-3) and high == pytest.approx(
        0.1 + 1.2706, abs=1e-3
    )


def test_by_speaker_interval_averages_each_speakers_clips_first():
    ridge = {"a1": 0.1, "a2": 0.1, "a3": 0.1, "b1": 0.2, "c1": 0.0}
    model = {"a1": [0.2], "a2": [0.4], "a3": [0.3], "b1": [0.3], "c1": [0.3]}
    paired = audio_probe.paired_scores(ridge, model)
    speakers = audio_probe.by_speaker(
        paired, {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "c1": "C"}
    )
    # Speaker means: A 0.2 (three clips), B 0.1, C 0.3; not the clips' mean 0.2 with five.
    assert speakers["speakers"] == 3
    assert speakers["mean_difference"] == pytest.approx(0.2)
    # Standard deviation 0.1 over three speakers, error 0.0577, t(0.975, 2) = 4.303.
    assert speakers["standard_error"] == pytest.approx(0.1 / 3**0.5)
    low, high = speakers["interval95"]
    assert high - low == pytest.approx(2 * 4.3027 * 0.1 / 3**0.5, abs=1e-3)


def test_paired_comparison_needs_two_common_clips():
    with pytest.raises(ValueError, match="1 clip"):
        audio_probe.paired_with_ridge({"a": 0.5}, [_evaluation({"a": 0.6, "b": 0.1})])


def test_speakers_are_grouped_by_kind_and_averaged_per_group():
    from lipsync_tf.evaluation.audio_probe import group_means, speaker_group

    assert [speaker_group(s) for s in ("grid_spkD", "s1", "vox2_V02", "lrc_ar_13")] == [
        "GRID", "GRID", "VoxCeleb2-style", "anchors"
    ]  # fmt: skip
    assert speaker_group("videoretalking_face5") == speaker_group("sx") == "HDTF-style"
    rows = {
        "a": {"speaker": "grid_spkD", "ridge": 0.5},
        "b": {"speaker": "grid_spkH", "ridge": 0.3},
        "c": {"speaker": "lrc_ar_13", "ridge": 0.1},
        "d": {"speaker": "lrc_ar_15"},
    }
    assert group_means(rows, "ridge") == {"GRID": (0.4, 2), "anchors": (0.1, 1)}
