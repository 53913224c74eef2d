"""Fisher's exact test on matched wins: does level A of a factor beat level B?

``FACTOR:A>B`` compares the runs of level A with the runs of level B that share every
other factor value (the *matching* columns: by default the config, protocol and block
columns other than FACTOR; ``match`` overrides them, FACTOR itself always left out). The runs of each side of a matched
pair are averaged (replicates, or everything the matching columns leave free), and on
each metric the pair is a win of A, a win of B (better is higher, or lower for a
lower-is-better metric), or a tie (equal at 12 significant digits); ties are left out of
the test and counted.

The 2x2 table, per metric, with ``w_A`` and ``w_B`` the wins of A and of B::

              wins   losses
    A  [[     w_A,   w_B   ],
    B   [     w_B,   w_A   ]]

Row A is A's record over the matched pairs, row B is B's record over the same pairs (the
mirror image). Under the null hypothesis that a pair is won by either level with
probability 1/2, the two rows are alike; :func:`scipy.stats.fisher_exact` gives the odds
ratio ``(w_A / w_B)^2`` (A's odds of winning over B's) and the p-value, one-sided
(alternative ``greater``: A wins more) for ``A>B``, two-sided for ``A,B``. Each pair
appears in both rows, so this p-value is smaller than that of the exact test of the same
null on one sample: the sign test, :func:`scipy.stats.binomtest` of ``w_A`` successes in
``w_A + w_B`` at 1/2, reported beside it (``sign_test_p_value``). With no decided pair
(every pair tied) both are undefined (``None``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest, fisher_exact

from stalwart.analysis.benchmark.borda import comparable
from stalwart.analysis.benchmark.jsonsafe import finite, number
from stalwart.analysis.benchmark.roles import Roles, labels
from stalwart.errors import UserError

KEY, LEVEL = "_key", "_level"


@dataclass(frozen=True)
class FisherRequest:
    """One ``--fisher FACTOR:A>B`` (one-sided) or ``FACTOR:A,B`` (two-sided)."""

    factor: str
    a: str
    b: str
    alternative: str = "greater"  # or "two-sided"
    match: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, text: str, match: Sequence[str] | None = None) -> FisherRequest:
        factor, sep, rest = text.partition(":")
        for op, alternative in ((">", "greater"), (",", "two-sided")):
            a, found, b = rest.partition(op)
            if sep and found and factor.strip() and a.strip() and b.strip():
                return cls(factor.strip(), a.strip(), b.strip(), alternative,
                           None if match is None else tuple(match))
        raise UserError(
            f"--fisher {text!r}: expected FACTOR:A>B (one-sided: A wins more) or "
            f"FACTOR:A,B (two-sided)"
        )

    @property
    def text(self) -> str:
        return f"{self.factor}:{self.a}{'>' if self.alternative == 'greater' else ','}{self.b}"


@dataclass(frozen=True)
class FisherResult:
    factor: str
    a: str
    b: str
    alternative: str
    metric: str
    matched_on: list[str]
    n_pairs: int
    wins_a: int
    wins_b: int
    ties: int
    odds_ratio: float | None
    p_value: float | None
    sign_test_p_value: float | None

    @property
    def table(self) -> list[list[int]]:
        return [[self.wins_a, self.wins_b], [self.wins_b, self.wins_a]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "factor": self.factor,
            "a": self.a,
            "b": self.b,
            "alternative": self.alternative,
            "metric": self.metric,
            "matched_on": list(self.matched_on),
            "n_pairs": self.n_pairs,
            "wins_a": self.wins_a,
            "wins_b": self.wins_b,
            "ties": self.ties,
            "table": self.table,
            "odds_ratio": number(self.odds_ratio),
            "p_value": finite(self.p_value),
            "sign_test_p_value": finite(self.sign_test_p_value),
        }


def count_wins(a: np.ndarray, b: np.ndarray, higher_is_better: bool) -> tuple[int, int, int]:
    """(wins of A, wins of B, ties) over matched values."""
    diff = comparable(a) - comparable(b)
    if not higher_is_better:
        diff = -diff
    return int(np.sum(diff > 0)), int(np.sum(diff < 0)), int(np.sum(diff == 0))


def exact_tests(wins_a: int, wins_b: int, alternative: str) -> tuple[float | None, ...]:
    """(odds ratio, Fisher p-value, sign-test p-value) of the mirrored table."""
    if wins_a + wins_b == 0:
        return None, None, None
    res = fisher_exact([[wins_a, wins_b], [wins_b, wins_a]], alternative=alternative)
    sign = binomtest(wins_a, wins_a + wins_b, 0.5, alternative=alternative)
    return float(res.statistic), float(res.pvalue), float(sign.pvalue)


def _matching(table: pd.DataFrame, roles: Roles, req: FisherRequest) -> list[str]:
    if req.match is None:
        return [c for c in roles.factors if c != req.factor]
    for name in req.match:
        if name not in table.columns:
            raise UserError(f"--match: no column {name!r} in the table")
        if name in roles.metrics:
            raise UserError(f"--match {name}: is a metric")
    # One --match serves every --fisher: a test's own factor is what it compares.
    return [name for name in req.match if name != req.factor]


def _levels(table: pd.DataFrame, req: FisherRequest, roles: Roles) -> pd.Series:
    if req.factor not in table.columns:
        raise UserError(f"--fisher {req.text}: no column {req.factor!r} in the table")
    if req.factor in roles.metrics:
        raise UserError(f"--fisher {req.text}: {req.factor!r} is a metric, not a factor")
    if req.a == req.b:
        raise UserError(f"--fisher {req.text}: the two levels are the same")
    levels = labels(table, (req.factor,))
    known = list(dict.fromkeys(levels))
    for level in (req.a, req.b):
        if level not in known:
            raise UserError(
                f"--fisher {req.text}: column {req.factor!r} has no level {level!r} "
                f"(levels: {', '.join(known[:20])})"
            )
    return levels


def _no_pairs(table: pd.DataFrame, req: FisherRequest, keys: list[str]) -> UserError:
    """The refusal when no run of A shares its matching values with a run of B."""
    sub = table[labels(table, (req.factor,)).isin([req.a, req.b])]
    fixed = [k for k in keys if sub.groupby(k)[req.factor].nunique().max() == 1]
    hint = ""
    if fixed and len(fixed) < len(keys):
        rest = [k for k in keys if k not in fixed]
        hint = (f"; each value of {', '.join(fixed)} has one {req.factor}: pair on the "
                f"others, e.g. --match {','.join(rest)}")
    return UserError(
        f"--fisher {req.text}: no run of {req.a} shares its {', '.join(keys) or 'values'} "
        f"with a run of {req.b}{hint or '; pass --match with the columns to pair on'}"
    )


def fisher(
    table: pd.DataFrame, roles: Roles, request: FisherRequest,
    metrics: Sequence[str] | None = None,
) -> list[FisherResult]:
    """Fisher's exact test of ``request`` on each metric (module docstring)."""
    metrics = list(roles.metrics if metrics is None else metrics)
    levels = _levels(table, request, roles)
    keys = _matching(table, roles, request)
    sub = table[levels.isin([request.a, request.b])].assign(
        **{KEY: labels(table, keys, default=""), LEVEL: levels}
    )
    means = sub.groupby([KEY, LEVEL], sort=False)[metrics].mean().unstack(LEVEL)
    results = []
    for metric in metrics:
        if (metric, request.a) not in means or (metric, request.b) not in means:
            raise _no_pairs(table, request, keys)
        pairs = means[[(metric, request.a), (metric, request.b)]].dropna()
        a, b = pairs.iloc[:, 0].to_numpy(), pairs.iloc[:, 1].to_numpy()
        if len(pairs) == 0:
            raise _no_pairs(table, request, keys)
        wins_a, wins_b, ties = count_wins(a, b, roles.higher_is_better(metric))
        odds, p, sign_p = exact_tests(wins_a, wins_b, request.alternative)
        results.append(FisherResult(
            factor=request.factor, a=request.a, b=request.b,
            alternative=request.alternative, metric=metric, matched_on=keys,
            n_pairs=len(pairs), wins_a=wins_a, wins_b=wins_b, ties=ties,
            odds_ratio=odds, p_value=p, sign_test_p_value=sign_p,
        ))
    return results
