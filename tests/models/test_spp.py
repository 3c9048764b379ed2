"""TemporalPyramidPooling: fixed-size output for any length, correct bins."""

import numpy as np
import pytest

from lipsync_tf.models import TemporalPyramidPooling


@pytest.mark.parametrize("time", [1, 2, 3, 5, 8, 75, 301])
def test_spp_output_size_does_not_depend_on_length(rng, time):
    spp = TemporalPyramidPooling(levels=(1, 2, 4))
    pooled = spp(rng.normal(size=(2, time, 6)).astype(np.float32))
    assert tuple(pooled.shape) == (2, 7 * 6)


def test_spp_pools_each_bin_of_each_level():
    sequence = np.array([[[1.0], [5.0], [2.0], [0.0]]], np.float32)  # [1, time=4, 1]
    maximum = TemporalPyramidPooling(levels=(1, 2, 4))(sequence).numpy()[0]
    np.testing.assert_array_equal(maximum, [5, 5, 2, 1, 5, 2, 0])
    average = TemporalPyramidPooling(levels=(1, 2), pooling="average")(sequence).numpy()[0]
    np.testing.assert_allclose(average, [2.0, 3.0, 1.0])


def test_spp_bins_are_never_empty_for_short_sequences():
    sequence = np.array([[[3.0], [-1.0]]], np.float32)  # time=2 < 4 bins
    pooled = TemporalPyramidPooling(levels=(4,))(sequence).numpy()[0]
    np.testing.assert_array_equal(pooled, [3, 3, -1, -1])


def test_spp_rejects_bad_levels():
    with pytest.raises(ValueError, match="levels"):
        TemporalPyramidPooling(levels=(0, 2))
