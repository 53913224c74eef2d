"""The one-sided "worse than the best" tests racing uses."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from stalwart.selection.significance import LOCATION_TESTS, SPREAD_TESTS, compare

HIGH = np.array([5.0, 6.0, 7.0, 8.0, 9.0])
LOW = np.array([1.0, 2.0, 3.0, 4.0, 5.0])


def test_ks_alternative_refers_to_cdfs() -> None:
    """scipy: alternative="less" means the first sample's CDF is below, i.e. it is larger."""
    assert stats.ks_2samp(HIGH, LOW, alternative="less").pvalue < 0.05
    assert stats.ks_2samp(HIGH, LOW, alternative="greater").pvalue == pytest.approx(1.0)


@pytest.mark.parametrize("test", LOCATION_TESTS)
def test_location_tests_are_one_sided_in_the_bad_direction(test: str) -> None:
    # Larger losses are worse; larger accuracies are not.
    assert compare(test, HIGH, LOW, "minimize", 0.05).worse
    assert not compare(test, LOW, HIGH, "minimize", 0.05).worse
    assert compare(test, LOW, HIGH, "maximize", 0.05).worse
    assert not compare(test, HIGH, LOW, "maximize", 0.05).worse


@pytest.mark.parametrize("test", SPREAD_TESTS)
def test_spread_tests_need_a_larger_variance(test: str) -> None:
    rng = np.random.default_rng(0)
    steady = 0.5 + 0.001 * rng.standard_normal(30)
    wobbly = 0.5 + 0.1 * rng.standard_normal(30)
    for d in ("minimize", "maximize"):
        result = compare(test, wobbly, steady, d, 0.05)
        assert result.worse and result.p_value < 0.05
        # Equally significant, but the model is steadier than the best: not worse.
        assert not compare(test, steady, wobbly, d, 0.05).worse


@pytest.mark.parametrize("test", LOCATION_TESTS + SPREAD_TESTS)
def test_degenerate_samples_are_not_significant(test: str) -> None:
    same = np.array([0.3, 0.3, 0.3])
    result = compare(test, same, same.copy(), "minimize", 0.05)
    assert (result.worse, result.p_value) == (False, 1.0)
    assert not compare(test, np.array([9.0]), same, "minimize", 0.05).worse
    # Two different constants: some tests are decisive, others give NaN; never a crash.
    result = compare(test, np.full(3, 0.1), np.full(3, 0.2), "maximize", 0.05)
    assert not np.isnan(result.p_value)


def test_unknown_test() -> None:
    with pytest.raises(ValueError, match="'ttest'.*welch"):
        compare("ttest", HIGH, LOW, "minimize", 0.05)
