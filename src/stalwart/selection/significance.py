""""Is this model worse than the best?" tests for racing, one pair or many at once.

Location tests ask whether the model's values lie in the bad direction of the best's
(larger losses, smaller accuracies). One-sided (``sided="one"``, the default) they test
that direction only:

* ``welch``: Welch's t test (unequal variances), one-sided;
* ``mannwhitney``: the Mann-Whitney U test, one-sided;
* ``ks``: the two-sample Kolmogorov-Smirnov test, one-sided. scipy's ``alternative``
  for ``ks_2samp`` speaks of CDFs: ``"less"`` means the first sample's CDF lies *below*
  the second's somewhere, i.e. the first sample tends to be *larger*. So "the model's
  loss is larger" is ``alternative="less"`` and "the model's accuracy is smaller" is
  ``alternative="greater"`` (``ks_2samp([5, 6, 7, 8, 9], [1, 2, 3, 4, 5], "less")``
  gives p = 0.04, ``"greater"`` gives p = 1).

Two-sided (``sided="two"``, the robust-selection authors' racing) they test "the two
samples differ" (``alternative="two-sided"`` for all three) and the model counts as
worse when p < alpha *and* its mean is worse than the best's (larger when minimizing,
smaller when maximizing): a significant difference in the good direction is no reason
to drop a model. At the same alpha the two-sided Welch p-value is twice the one-sided
one whenever the model's mean is on the bad side, so ``sided="two"`` at ``alpha`` drops
exactly what ``sided="one"`` drops at ``alpha / 2``; for KS and Mann-Whitney on few
instances the two modes differ otherwise (discrete p-values).

Spread tests (``bartlett``, ``levene``, ``fligner``) are two-sided tests of equal
variances in either mode; the model counts as worse when p < alpha *and* its sample
variance exceeds the best's (a model steadier than the best is not worse).

:func:`compare` tests one model; :func:`compare_many` tests many models against the
same best with one scipy call per group of equally long samples (scipy's tests take
2-D arrays with ``axis``), with the same results as :func:`compare` on every pair (a
test checks this). Racing on a 604-model table spends its time here otherwise.

Degenerate samples never crash and never count as significant: fewer than two values
on either side, all values of both samples identical, or a NaN p-value from scipy
(e.g. Levene on two constant samples) give "not worse".
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stalwart.core import Direction

LOCATION_TESTS: tuple[str, ...] = ("welch", "ks", "mannwhitney")
SPREAD_TESTS: tuple[str, ...] = ("bartlett", "levene", "fligner")
TESTS: tuple[str, ...] = LOCATION_TESTS + SPREAD_TESTS
SIDES: tuple[str, ...] = ("one", "two")


@dataclass(frozen=True)
class Comparison:
    """The outcome of testing a model against the best."""

    statistic: float
    p_value: float
    worse: bool


def _not_worse() -> Comparison:
    return Comparison(statistic=math.nan, p_value=1.0, worse=False)


def _check(test: str, sided: str) -> None:
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; valid tests: {', '.join(TESTS)}")
    if sided not in SIDES:
        raise ValueError(f"unknown sided {sided!r}; valid: {', '.join(SIDES)}")


def _alternative(test: str, larger_is_worse: bool, sided: str) -> str:
    """scipy's ``alternative`` for a location test (CDF semantics for KS, see above)."""
    if sided == "two":
        return "two-sided"
    if test == "ks":
        return "less" if larger_is_worse else "greater"
    return "greater" if larger_is_worse else "less"


def compare(
    test: str,
    x: np.ndarray,
    best: np.ndarray,
    direction: Direction,
    alpha: float,
    sided: str = "one",
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
    sided:
        ``one`` (test the bad direction only) or ``two`` (two-sided test, and the
        model's mean must be worse than the best's); location tests only, see the
        module docstring.

    Returns
    -------
    Comparison

    Raises
    ------
    ValueError
        for an unknown ``test`` or ``sided``.
    """
    _check(test, sided)
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
    alt = _alternative(test, larger_is_worse, sided)
    # scipy warns on degenerate inputs (zero variance, precision loss); the NaN p-values
    # those produce are handled below, so the warnings are noise here.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        if test == "welch":
            res = stats.ttest_ind(x, best, equal_var=False, alternative=alt)
        elif test == "mannwhitney":
            res = stats.mannwhitneyu(x, best, alternative=alt)
        elif test == "ks":
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
    elif sided == "two":
        mx, mb = float(np.mean(x)), float(np.mean(best))
        worse = worse and (mx > mb if larger_is_worse else mx < mb)
    return Comparison(statistic=statistic, p_value=p, worse=worse)


@dataclass(frozen=True)
class Comparisons:
    """The outcomes of testing many models against one best, as arrays (one per model)."""

    statistic: np.ndarray
    p_value: np.ndarray
    worse: np.ndarray

    def __len__(self) -> int:
        return int(self.worse.size)

    def __getitem__(self, i: int) -> Comparison:
        return Comparison(
            statistic=float(self.statistic[i]),
            p_value=float(self.p_value[i]),
            worse=bool(self.worse[i]),
        )


def compare_many(
    test: str,
    samples: np.ndarray | Sequence[np.ndarray],
    best: np.ndarray,
    direction: Direction,
    alpha: float,
    sided: str = "one",
) -> Comparisons:
    """:func:`compare` for many models against the same ``best``, vectorised.

    Samples of equal length are stacked and tested in one scipy call (``axis=1``);
    degenerate rows (fewer than two values, all values of the row and the best equal) and
    NaN p-values give "not worse" exactly as in :func:`compare`. Mann-Whitney's
    ``method="auto"`` chooses the exact or the asymptotic p-value from the ties of the
    *whole* array, so rows with and without ties are tested apart, as :func:`compare`
    tests them.

    Parameters
    ----------
    test, best, direction, alpha, sided:
        as in :func:`compare`.
    samples:
        a 2-D array (one model per row) or a sequence of 1-D arrays of finite values.

    Returns
    -------
    Comparisons
        ``statistic``, ``p_value`` and ``worse`` per model, in the order given.
    """
    _check(test, sided)
    best = np.asarray(best, dtype=float)
    if isinstance(samples, np.ndarray) and samples.ndim == 2:
        m, width = samples.shape
        arrays: list[np.ndarray] = []
        groups: dict[int, np.ndarray] = {width: np.arange(m)}
    else:
        arrays = [np.asarray(r, dtype=float) for r in samples]
        m = len(arrays)
        by_length: dict[int, list[int]] = {}
        for i, row in enumerate(arrays):
            by_length.setdefault(row.size, []).append(i)
        groups = {n: np.asarray(idx) for n, idx in by_length.items()}
    statistic = np.full(m, math.nan)
    p_value = np.ones(m)
    worse = np.zeros(m, dtype=bool)
    if m == 0 or best.size < 2:
        return Comparisons(statistic, p_value, worse)
    larger_is_worse = direction == "minimize"
    for n, idx in groups.items():
        if n < 2:
            continue
        if arrays:
            x = np.stack([arrays[i] for i in idx]) if idx.size else np.empty((0, n))
        else:
            x = np.asarray(samples, dtype=float)
        both = np.concatenate([x, np.broadcast_to(best, (idx.size, best.size))], axis=1)
        constant = np.all(both == both[:, :1], axis=1)
        statistic[idx[constant]] = 0.0
        live = ~constant
        if not live.any():
            continue
        target = idx[live]
        s, p = _many(test, x[live], best, larger_is_worse, sided, both[live])
        nan = np.isnan(p)
        statistic[target] = s
        p_value[target] = np.where(nan, 1.0, p)
        w = ~nan & (p < alpha)
        xs = x[live]
        if test in SPREAD_TESTS:
            w &= np.var(xs, ddof=1, axis=1) > float(np.var(best, ddof=1))
        elif sided == "two":
            mx, mb = np.mean(xs, axis=1), float(np.mean(best))
            w &= mx > mb if larger_is_worse else mx < mb
        worse[target] = w
    return Comparisons(statistic, p_value, worse)


def _many(
    test: str,
    x: np.ndarray,
    best: np.ndarray,
    larger_is_worse: bool,
    sided: str,
    both: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One scipy call over the rows of ``x`` against ``best``: (statistics, p-values)."""
    from scipy import stats

    b = np.broadcast_to(best, (x.shape[0], best.size))
    alt = _alternative(test, larger_is_worse, sided)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        if test == "welch":
            res = stats.ttest_ind(x, b, equal_var=False, alternative=alt, axis=1)
        elif test == "mannwhitney":
            stat = np.empty(x.shape[0])
            p = np.empty(x.shape[0])
            ordered = np.sort(both, axis=1)
            ties = np.any(ordered[:, 1:] == ordered[:, :-1], axis=1)
            for has_ties in (False, True):
                rows = ties == has_ties
                if rows.any():
                    r = stats.mannwhitneyu(x[rows], b[rows], alternative=alt, axis=1)
                    stat[rows], p[rows] = r.statistic, r.pvalue
            return stat, p
        elif test == "ks":
            return _ks_many(x, best, alt)
        elif test == "bartlett":
            res = stats.bartlett(x, b, axis=1)
        elif test == "levene":
            res = stats.levene(x, b, axis=1)
        else:
            res = stats.fligner(x, b, axis=1)
    return np.asarray(res.statistic, dtype=float), np.asarray(res.pvalue, dtype=float)


# scipy's ks_2samp loops over the rows of a 2-D input in Python. Its statistic is computed
# here for all rows at once, exactly as scipy computes it (CDF counts at every data
# point, divided by the sample sizes); its p-value is a function of the sample sizes,
# the alternative and the statistic only, so scipy is asked once per distinct
# statistic (a handful per sample size) and the answer reused.
_KS_CACHE: dict[tuple[int, int, str, float], tuple[float, float]] = {}


def _ks_many(x: np.ndarray, best: np.ndarray, alt: str) -> tuple[np.ndarray, np.ndarray]:
    """Two-sample KS of every row of ``x`` against ``best``, as ``stats.ks_2samp``."""
    from scipy import stats

    n1, n2 = x.shape[1], best.size
    xs, bs = np.sort(x, axis=1), np.sort(best)
    points = np.concatenate([xs, np.broadcast_to(bs, (x.shape[0], n2))], axis=1)
    cdf1 = (xs[:, None, :] <= points[:, :, None]).sum(axis=2) / n1
    cdf2 = np.searchsorted(bs, points, side="right") / n2
    diffs = cdf1 - cdf2
    low = np.clip(-diffs.min(axis=1), 0, 1)
    high = diffs.max(axis=1)
    d = low if alt == "less" else high if alt == "greater" else np.maximum(low, high)
    stat = np.empty(x.shape[0])
    p = np.empty(x.shape[0])
    for i, value in enumerate(d):
        key = (n1, n2, alt, float(value))
        if key not in _KS_CACHE:
            res = stats.ks_2samp(x[i], best, alternative=alt)
            _KS_CACHE[key] = (float(res.statistic), float(res.pvalue))
        stat[i], p[i] = _KS_CACHE[key]
    return stat, p
