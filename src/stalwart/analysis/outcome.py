"""What a replay picked, and how the pick is judged against the exhaustive search.

A replay (:mod:`~stalwart.analysis.replay`) or a baseline
(:mod:`~stalwart.analysis.baselines`) ends in a :class:`ReplayOutcome`; a
:class:`Reference` judges its pick (:class:`Verdict`); :class:`ReplaySummary` holds the
statistics of many replays. This module only records and judges: it runs nothing, so
both the replay harness and the baselines build on it without importing each other.

Reference and metrics
---------------------
The **reference** is the exhaustive ranking of the full table under the same criterion,
direction and failure policy (:func:`stalwart.selection.ranking` over every instance).
Over the repeats we report:

* trainings and training time used, absolute and as a fraction of the exhaustive search
  over the whole table (``n_configs * n_instances`` trainings, the sum of all times);
* ``P(best)``: the pick is the reference's best model;
* ``P(top-k)``: the pick is among the reference's ``k`` best;
* ``regret``: the criterion value of the pick minus the best's, both computed on their
  *full* table rows and oriented so that regret >= 0 (``inf`` for a pick whose row has
  a failed instance under ``failures="worst"``); median and 90th percentile;
* ``P(near-best)``: the pick is *within the table's noise* of the best, i.e. its regret
  is at most the standard error of the best model's criterion value. For ``mean`` the
  standard error is ``std(ddof=1) / sqrt(n)`` of the best model's instance values; for
  every other criterion it is the bootstrap standard error: the sample standard
  deviation of the criterion over 1000 resamples (with replacement) of the best model's
  instances, drawn with ``numpy.random.default_rng(0)``. The best model itself is
  always near-best. A near-best pick is one that the table cannot tell apart from the
  best with the instances it has;
* ``P(regret <= tolerance)``: when the caller names a ``tolerance`` in the metric's units
  (e.g. 0.005 for an accuracy: half a point), the pick's regret is at most that. Unlike
  near-best it does not depend on the table's noise, so it says what a user who is
  indifferent to differences below the tolerance gets.

Survivors
---------
:meth:`ReplayOutcome.survivors` counts the configs still in the race after each number
of instances per config, as the racing papers plot it: a config removed with ``m``
instances is counted up to ``m - 1`` and gone from ``m`` on. It is read off the removal
decisions, so it is the same for step-synchronous and asynchronous strategies.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from stalwart.analysis.table import ResultTable
from stalwart.core import Decision, Direction
from stalwart.errors import TableError

__all__ = ["ReplayOutcome", "Verdict", "Reference", "ReplaySummary", "standard_error"]

BOOTSTRAP_RESAMPLES = 1000


@dataclass
class ReplayOutcome:
    """One replay: what was picked and what it cost.

    Attributes
    ----------
    strategy:
        the strategy or baseline name.
    selection:
        the picked config id (None if nothing could be picked).
    trainings:
        instances used (told to the strategy, or evaluated by a baseline).
    time:
        sum of the table times of those instances (None when the table has no times).
    order:
        the instance order: positions ``0..n-1`` of the table's instance columns.
    decisions:
        the trace: removals (and, for baselines, evaluated models) and the selection.
    n_configs:
        configs in the race, for the trace's survivor counts.
    """

    strategy: str
    selection: str | None
    trainings: int
    time: float | None
    order: list[int]
    decisions: list[Decision] = field(default_factory=list)
    n_configs: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["decisions"] = [d.to_dict() for d in self.decisions]
        out["survivors"] = self.survivors()
        return out

    def survivors(self) -> list[list[int]]:
        """``[[k, configs left after k instances each], ...]`` for ``k = 1..`` the most
        instances a removed or selected config had (see the module docstring)."""
        gone: dict[int, int] = {}
        most = 1
        for d in self.decisions:
            m = d.n_instances or 0
            most = max(most, m)
            if d.action == "removed":
                gone[m] = gone.get(m, 0) + 1
        left = self.n_configs - gone.get(0, 0)
        out: list[list[int]] = []
        for k in range(1, most + 1):
            left -= gone.get(k, 0)
            out.append([k, left])
        return out

    def record(self, verdict: Verdict) -> dict[str, Any]:
        """The compact record of this replay for a JSON report: the pick, its verdict,
        the cost and the survivors per instance count (no decision list)."""
        return {
            "order": list(self.order),
            "selection": self.selection,
            "trainings": self.trainings,
            "time": self.time,
            **asdict(verdict),
            "survivors": self.survivors(),
        }


# ---- the reference -------------------------------------------------------------------


@dataclass
class Verdict:
    """How one pick compares with the exhaustive reference."""

    is_best: bool
    in_top_k: bool
    near_best: bool
    regret: float
    within_tolerance: bool | None = None


@dataclass
class Reference:
    """The exhaustive search over the full table, and how to judge a pick against it.

    Build with :meth:`from_table`. See the module docstring for the definitions.
    :meth:`from_table` raises :class:`~stalwart.errors.TableError` for a table with
    never-trained cells (restrict it with :meth:`ResultTable.complete` first) and for a
    table without a valid result (every config failed under the failure policy), where
    every pick would be "the best". A ``near_optimal`` criterion judges each config on the
    instances it keeps by the table's training losses (``ValueError`` from the criterion
    when the table has none: :func:`~stalwart.analysis.replay.reference_for` refuses that
    first, with the flag to name them).
    """

    ranking: list[str]
    best: str
    best_value: float
    best_se: float
    sign: float
    values: dict[str, float]
    top_k: int
    trainings: int
    time: float | None

    @classmethod
    def from_table(
        cls,
        table: ResultTable,
        *,
        criterion: Any,
        direction: Direction,
        failures: str = "worst",
        top_k: int = 3,
    ) -> Reference:
        from stalwart.selection import get_criterion, ranking

        crit = get_criterion(criterion) if isinstance(criterion, str) else criterion
        # A never-trained cell is no failure, and judging against a best picked from
        # guessed cells would be a wrong answer: the caller restricts the table first.
        table.require_complete()
        # A near-optimal criterion judges each config on the instances it keeps (by the
        # table's training losses). A config has a failed or a finite instance in that
        # sample exactly when it has one at all (failed instances are always kept, and so
        # is the finished one with the best training loss), so the check below holds.
        losses = table.train_losses_by_id() if crit.near_optimal is not None else None
        rows = {cid: crit.sample(v, None if losses is None else losses[cid])
                for cid, v in table.values_by_id().items()}
        crit = crit.without_near_optimal()
        order = ranking(rows, crit, direction, failures)
        best = order[0]
        if all(math.isinf(k) for k in crit.key(np.sort(rows[best]), direction, failures)):
            # The best key is the failed key: every config failed under this policy, so
            # the "best" is just the first row and P(best) would be a meaningless 100%.
            raise TableError(_no_valid_result(table, failures))
        values = {cid: crit.value(np.sort(v), direction, failures) for cid, v in rows.items()}
        return cls(
            ranking=order,
            best=best,
            best_value=values[best],
            best_se=standard_error(rows[best], crit, direction, failures),
            sign=crit.sign(direction),
            values=values,
            top_k=top_k,
            trainings=table.n_configs * table.n_instances,
            time=table.total_time(),
        )

    def regret(self, pick: str | None) -> float:
        """Criterion of ``pick`` minus the best's on full rows, oriented to be >= 0."""
        if pick is None:
            return math.inf
        if pick == self.best:
            return 0.0
        v, b = self.values[pick], self.best_value
        if math.isnan(v):
            return 0.0 if math.isnan(b) else math.inf
        if math.isnan(b):
            return 0.0
        # Ranking ties are broken on rounded keys and the mean, so a pick ranked below the
        # best can have a criterion a hair better: that is no regret.
        return max(0.0, self.sign * (v - b))

    def judge(self, pick: str | None, tolerance: float | None = None) -> Verdict:
        """The verdict on ``pick``; ``within_tolerance`` is None without a tolerance."""
        regret = self.regret(pick)
        return Verdict(
            is_best=pick == self.best,
            in_top_k=pick in self.ranking[: self.top_k],
            near_best=pick == self.best or regret <= self.best_se,
            regret=regret,
            within_tolerance=None if tolerance is None else bool(regret <= tolerance),
        )


def _no_valid_result(table: ResultTable, failures: str) -> str:
    if failures == "worst" and np.isfinite(table.values).any():
        return (
            "no valid result in the table: every config has a failed (nan) instance, and "
            "failures=worst counts such a config as failed (--failures ignore scores the "
            "instances that finished)"
        )
    return "no valid result in the table: every instance of every config failed (nan)"


def standard_error(
    values: np.ndarray, criterion: Any, direction: Direction, failures: str = "worst"
) -> float:
    """Standard error of ``criterion`` on one config's instances (the noise yardstick).

    ``mean``: ``std(ddof=1)/sqrt(n)``; others: bootstrap over instances (1000 resamples,
    ``default_rng(0)``). Failed (non-finite) instances are left out; fewer than two
    finite values give 0 (no noise estimate, so only the best itself is near-best).
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return 0.0
    if criterion.name == "mean":
        return float(np.std(x, ddof=1) / math.sqrt(x.size))
    rng = np.random.default_rng(0)
    idx = rng.integers(0, x.size, size=(BOOTSTRAP_RESAMPLES, x.size))
    stats = np.array([criterion.value(np.sort(x[i]), direction, failures) for i in idx])
    stats = stats[np.isfinite(stats)]
    return float(np.std(stats, ddof=1)) if stats.size > 1 else 0.0


# ---- many replays --------------------------------------------------------------------


@dataclass
class ReplaySummary:
    """Statistics of a strategy over many random instance orders.

    ``*_fraction`` fields are relative to the exhaustive search over the whole table;
    ``time_*`` fields are None when the table has no times. ``picks`` counts the selected
    ids (most frequent first). ``p_within_tolerance`` is P(regret <= ``tolerance``), None
    without a tolerance. ``budget_seconds`` is the training-time budget of every replay
    (None: none). ``outcomes`` holds every replay and ``verdicts`` their verdicts (left
    out of :meth:`to_dict` unless asked for).
    """

    strategy: str
    params: dict[str, Any]
    criterion: str
    direction: str
    repeats: int
    seed: int
    top_k: int
    budget: int | None
    n_configs: int
    n_instances: int
    best: str
    best_value: float
    best_se: float
    exhaustive_trainings: int
    exhaustive_time: float | None
    trainings_mean: float
    trainings_max: int
    trainings_fraction: float
    time_mean: float | None
    time_fraction: float | None
    p_best: float
    p_near_best: float
    p_top_k: float
    regret_median: float
    regret_p90: float
    picks: dict[str, int]
    tolerance: float | None = None
    p_within_tolerance: float | None = None
    budget_seconds: float | None = None
    time_max: float | None = None
    outcomes: list[ReplayOutcome] = field(default_factory=list, repr=False)
    verdicts: list[Verdict] = field(default_factory=list, repr=False)

    def to_dict(self, *, outcomes: bool = False, replays: bool = False) -> dict[str, Any]:
        """The summary as plain data.

        Parameters
        ----------
        outcomes:
            add every replay in full (``outcomes``: decisions included).
        replays:
            add every replay's compact record (``replays``: order, pick, verdict, cost
            and survivors per instance count; see :meth:`ReplayOutcome.record`).
        """
        # Not asdict(self): it would deep-copy every outcome's decisions first.
        out = {
            f.name: copy.deepcopy(getattr(self, f.name))
            for f in fields(self)
            if f.name not in ("outcomes", "verdicts")
        }
        if outcomes:
            out["outcomes"] = [o.to_dict() for o in self.outcomes]
        if replays:
            out["replays"] = [
                o.record(v) for o, v in zip(self.outcomes, self.verdicts, strict=True)
            ]
        return out
