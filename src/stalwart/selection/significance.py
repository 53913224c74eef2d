"""One-sided "is this model worse than the best?" tests for racing.

Location tests ask whether the model's values lie in the bad direction of the best's
(larger losses, smaller accuracies):

* ``welch``: Welch's t test (unequal variances), one-sided;
* ``mannwhitney``: the Mann-Whitney U test, one-sided;
* ``ks``: the two-sample Kolmogorov-Smirnov test, one-sided. scipy's ``alternative``
  for ``ks_2samp`` speaks of CDFs: ``"less"`` means the first sample's CDF lies *below*
  the second's somewhere, i.e. the first sample tends to be *larger*. So "the model's
  loss is larger" is ``alternative="less"`` and "the model's accuracy is smaller" is
  ``alternative="greater"`` (``ks_2samp([5, 6, 7, 8, 9], [1, 2, 3, 4, 5], "less")``
  gives p = 0.04, ``"greater"`` gives p = 1).

Spread tests (``bartlett``, ``levene``, ``fligner``) are two-sided tests of equal
variances; the model counts as worse when p < alpha *and* its sample variance exceeds
the best's (a model steadier than the best is not worse).

Degenerate samples never crash and never count as significant: fewer than two values
on either side, all values of both samples identical, or a NaN p-value from scipy
(e.g. Levene on two constant samples) give "not worse".
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from stalwart.core import Direction

LOCATION_TESTS: tuple[str, ...] = ("welch", "ks", "mannwhitney")
SPREAD_TESTS: tuple[str, ...] = ("bartlett", "levene", "fligner")
TESTS: tuple[str, ...] = LOCATION_TESTS + SPREAD_TESTS


@dataclass(frozen=True)
class Comparison:
    """The outcome of testing a model against the best."""

    statistic: float
    p_value: float
    worse: bool


def _not_worse() -> Comparison:
    return Comparison(statistic=math.nan, p_value=1.0, worse=False)


def compare(
    test: str, x: np.ndarray, best: np.ndarray, direction: Direction, alpha: float
) -> Comparison:
    """Test whether sample ``x`` is significantly worse than sample ``best``.

    Parameters
    ----------
    test:
        one of :data:`TESTS`.
    x, best:
        finite instance values of the model and of the current best.
    direction:
        ``minimize`` (worse = larger) or ``maximize`` (worse = smaller).
    alpha:
        the significance level.
    """
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; valid tests: {', '.join(TESTS)}")
    x = np.asarray(x, dtype=float)
    best = np.asarray(best, dtype=float)
    if x.size < 2 or best.size < 2:
        return _not_worse()
    both = np.concatenate([x, best])
    if np.all(both == both[0]):
        return Comparison(statistic=0.0, p_value=1.0, worse=False)
    # scipy.stats takes a second or more to import; only racing needs it, so import it
    # here rather than with stalwart.selection.
    from scipy import stats

    larger_is_worse = direction == "minimize"
    # scipy warns on degenerate inputs (zero variance, precision loss); the NaN p-values
    # those produce are handled below, so the warnings are noise here.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        if test == "welch":
            alt = "greater" if larger_is_worse else "less"
            res = stats.ttest_ind(x, best, equal_var=False, alternative=alt)
        elif test == "mannwhitney":
            alt = "greater" if larger_is_worse else "less"
            res = stats.mannwhitneyu(x, best, alternative=alt)
        elif test == "ks":
            # CDF semantics: see the module docstring.
            alt = "less" if larger_is_worse else "greater"
            res = stats.ks_2samp(x, best, alternative=alt)
        elif test == "bartlett":
            res = stats.bartlett(x, best)
        elif test == "levene":
            res = stats.levene(x, best)
        else:
            res = stats.fligner(x, best)
    statistic, p = float(res.statistic), float(res.pvalue)
    if math.isnan(p):
        return Comparison(statistic=statistic, p_value=1.0, worse=False)
    worse = p < alpha
    if test in SPREAD_TESTS:
        worse = worse and float(np.var(x, ddof=1)) > float(np.var(best, ddof=1))
    return Comparison(statistic=statistic, p_value=p, worse=worse)
