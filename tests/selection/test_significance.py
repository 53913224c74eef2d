"""The one-sided "worse than the best" tests racing uses."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from stalwart.selection.significance import LOCATION_TESTS, SPREAD_TESTS, compare, compare_many

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


@pytest.mark.parametrize("test", LOCATION_TESTS)
def test_two_sided_needs_a_worse_mean(test: str) -> None:
    """Two-sided: a significant difference drops a model only when its mean is worse."""
    low, high = LOW, HIGH + 5.0  # disjoint: even two-sided KS on 5 + 5 values rejects
    for direction, worse, better in (("minimize", high, low), ("maximize", low, high)):
        res = compare(test, worse, better, direction, 0.05, sided="two")
        assert res.worse and res.p_value < 0.05
        res = compare(test, better, worse, direction, 0.05, sided="two")
        assert res.p_value < 0.05 and not res.worse  # differs, but in the good direction


def test_two_sided_welch_doubles_the_one_sided_p() -> None:
    one = compare("welch", LOW + 2.5, LOW, "minimize", 0.05)
    two = compare("welch", LOW + 2.5, LOW, "minimize", 0.05, sided="two")
    assert two.p_value == pytest.approx(2 * one.p_value)
    assert two.p_value == pytest.approx(stats.ttest_ind(LOW + 2.5, LOW, equal_var=False).pvalue)


def test_unknown_sided() -> None:
    with pytest.raises(ValueError, match="'three'.*one, two"):
        compare("welch", HIGH, LOW, "minimize", 0.05, sided="three")


@pytest.mark.parametrize("test", LOCATION_TESTS + SPREAD_TESTS)
@pytest.mark.parametrize("sided", ["one", "two"])
def test_compare_many_equals_compare(test: str, sided: str) -> None:
    """One vectorised call gives what one call per pair gives, degenerate rows included."""
    rng = np.random.default_rng(3)
    best = np.round(0.9 + 0.01 * rng.standard_normal(6), 2)
    samples = [np.round(0.88 + 0.02 * rng.standard_normal(n), 2) for n in [6] * 30 + [4] * 5]
    samples += [np.array([0.5]), best.copy(), np.full(6, best[0])]
    for direction in ("minimize", "maximize"):
        many = compare_many(test, samples, best, direction, 0.05, sided)
        assert len(many) == len(samples)
        for i, x in enumerate(samples):
            one = compare(test, x, best, direction, 0.05, sided)
            assert many[i].worse == one.worse
            assert many[i].p_value == pytest.approx(one.p_value, rel=1e-9, abs=1e-15)
        # A 2-D array is one group.
        block = compare_many(test, np.stack(samples[:30]), best, direction, 0.05, sided)
        assert np.array_equal(block.worse, many.worse[:30])
