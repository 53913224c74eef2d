"""Tukey's HSD between the levels of one factor, on one metric, with letters.

statsmodels' ``pairwise_tukeyhsd`` compares every pair of levels over the runs (each run
an observation; runs with an empty metric cell left out) at family-wise error ``alpha``:
the mean difference (second level minus first), its adjusted p-value and simultaneous
confidence interval, and whether the pair differs. Each level's mean also gets
statsmodels' simultaneous interval (Hochberg and Tamhane, the intervals of
``plot_simultaneous``): two levels differ when their intervals do not overlap.

The compact letter display (:mod:`.letters`) summarises the pairs: levels that share a
letter do not differ significantly; ``a`` marks the best levels (highest mean, or
lowest for a lower-is-better metric).

Refused, naming the flag: a factor with one level, a constant metric, too few runs to
estimate the error variance, and runs that do not vary within any level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.stats.multicomp import pairwise_tukeyhsd

from stalwart.analysis.benchmark.jsonsafe import finite
from stalwart.analysis.benchmark.letters import compact_letters
from stalwart.analysis.benchmark.roles import check_varies, labels, numeric_column
from stalwart.errors import UserError


@dataclass(frozen=True)
class TukeyGroup:
    level: str
    n: int
    mean: float
    ci_low: float | None
    ci_high: float | None
    letters: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "n": self.n,
            "mean": finite(self.mean),
            "ci_low": finite(self.ci_low),
            "ci_high": finite(self.ci_high),
            "letters": self.letters,
        }


@dataclass(frozen=True)
class TukeyPair:
    group1: str
    group2: str
    meandiff: float
    p_adj: float
    lower: float
    upper: float
    reject: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "group1": self.group1,
            "group2": self.group2,
            "meandiff": finite(self.meandiff),
            "p_adj": finite(self.p_adj),
            "lower": finite(self.lower),
            "upper": finite(self.upper),
            "reject": self.reject,
        }


@dataclass(frozen=True)
class TukeyResult:
    factor: str
    metric: str
    alpha: float
    higher_is_better: bool
    groups: list[TukeyGroup]
    pairs: list[TukeyPair]
    dropped: int = 0  # runs with an empty metric cell, left out

    def to_dict(self) -> dict[str, Any]:
        return {
            "factor": self.factor,
            "metric": self.metric,
            "alpha": self.alpha,
            "higher_is_better": self.higher_is_better,
            "dropped": self.dropped,
            "groups": [g.to_dict() for g in self.groups],
            "pairs": [p.to_dict() for p in self.pairs],
        }


def _data(table: pd.DataFrame, factor: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
    if factor not in table.columns:
        raise UserError(f"--tukey: no column {factor!r} in the table")
    if metric not in table.columns:
        raise UserError(f"--test-metrics: no column {metric!r} in the table")
    if factor == metric:
        raise UserError(f"--tukey {factor}: is a metric, not a factor")
    if table[factor].isna().any():
        raise UserError(f"--tukey: column {factor!r} has empty cells")
    y = numeric_column(table, metric, "--test-metrics")
    keep = y.notna().to_numpy()
    values, groups = y.to_numpy()[keep], labels(table, (factor,)).to_numpy()[keep]
    check_varies(pd.Series(values), metric, "--test-metrics")
    levels = pd.unique(groups)
    if len(levels) < 2:
        raise UserError(
            f"--tukey: column {factor!r} has one level ({levels[0]!r}): nothing to compare"
        )
    if len(values) <= len(levels):
        raise UserError(
            f"--tukey {factor}: {len(values)} runs of {metric} for {len(levels)} levels: "
            f"no replicate runs to estimate the error variance"
        )
    return values, groups


def tukey(
    table: pd.DataFrame, factor: str, metric: str, *, alpha: float = 0.05,
    higher_is_better: bool = True,
) -> TukeyResult:
    """Tukey HSD between the levels of ``factor`` on ``metric`` (module docstring)."""
    if not 0 < alpha < 1:
        raise UserError(f"--alpha: must be in (0, 1), got {alpha}")
    values, groups = _data(table, factor, metric)
    res = pairwise_tukeyhsd(values, groups, alpha=alpha)
    if not float(np.max(res.variance)) > 0:
        raise UserError(
            f"--tukey {factor}: {metric} does not vary within any level: no error variance "
            f"to test against"
        )
    res._simultaneous_ci()  # statsmodels' own intervals of the means (plot_simultaneous)
    half = np.ravel(res.halfwidths)  # (k,), or (2, 1) for two levels
    stats = res._multicomp.groupstats
    levels = [str(g) for g in res.groupsunique]
    means = [float(m) for m in stats.groupmean]
    pairs = [
        TukeyPair(
            group1=str(g1), group2=str(g2), meandiff=float(d), p_adj=float(p),
            lower=float(ci[0]), upper=float(ci[1]), reject=bool(r),
        )
        for g1, g2, d, p, ci, r in zip(
            res.group_c, res.group_t, res.meandiffs, res.pvalues, res.confint, res.reject,
            strict=True,
        )
    ]
    sign = 1.0 if higher_is_better else -1.0
    letters = compact_letters(
        levels, [sign * m for m in means], [(p.group1, p.group2) for p in pairs if p.reject]
    )
    order = sorted(range(len(levels)), key=lambda k: -sign * means[k])
    groups_out = [
        TukeyGroup(
            level=levels[k],
            n=int(stats.groupnobs[k]),
            mean=means[k],
            ci_low=means[k] - float(half[k]),
            ci_high=means[k] + float(half[k]),
            letters=letters[levels[k]],
        )
        for k in order
    ]
    return TukeyResult(factor, metric, alpha, higher_is_better, groups_out, pairs,
                       dropped=len(table) - len(values))
