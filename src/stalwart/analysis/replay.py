"""Replay a selection strategy on a table of finished instances.

Training is expensive, so strategies are compared offline: a table holds every instance
of every config (:class:`~stalwart.analysis.table.ResultTable`); a replay runs a strategy's
ask/tell loop and looks each asked instance up in the table instead of training it. The
trainings a replay *uses* are the instances it was told; its training time is the sum of
those instances' recorded times.

The instance order matters (a strategy sees its first instances first), so
:func:`replay_many` replays many random instance orders and reports how often the
strategy finds the model an exhaustive search over the *whole* table would pick.

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
  best with the instances it has.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from stalwart.analysis.table import ResultTable
from stalwart.core import Decision, Direction, Trial, derive_seed
from stalwart.errors import UserError

BASELINES: tuple[str, ...] = ("random", "tpe", "tpe_wilcoxon")
"""Baselines replayed through :mod:`stalwart.analysis.baselines` (not ask/tell)."""

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
        return out


# ---- one replay ----------------------------------------------------------------------


def check_order(order: Sequence[int], n_instances: int) -> list[int]:
    """``order`` as a list if it is a permutation of ``0..n_instances-1``.

    Raises
    ------
    UserError
        naming the problem (length, repeats, out-of-range values).
    """
    out = [int(i) for i in order]
    if len(out) != n_instances:
        raise UserError(
            f"order has {len(out)} values; the table has {n_instances} instances "
            f"(give a permutation of 0..{n_instances - 1})"
        )
    if sorted(out) != list(range(n_instances)):
        bad = sorted(set(range(n_instances)) - set(out))
        raise UserError(
            f"order is not a permutation of 0..{n_instances - 1} (missing {bad[0]})"
        )
    return out


def _check_n_instances(table: ResultTable, n_instances: int | None) -> int:
    n = table.n_instances if n_instances is None else int(n_instances)
    if not 1 <= n <= table.n_instances:
        raise UserError(f"n_instances must be in 1..{table.n_instances}, got {n}")
    return n


def _make(
    table: ResultTable,
    name: str,
    *,
    criterion: Any,
    direction: Direction,
    order: list[int],
    n_instances: int,
    budget: int | None,
    failures: str,
    params: Mapping[str, Any],
) -> Any:
    from stalwart.selection import STRATEGIES, make_strategy

    if name not in STRATEGIES:
        valid = ", ".join([*STRATEGIES, *BASELINES])
        raise UserError(f"unknown strategy {name!r}; valid: {valid}")
    try:
        return make_strategy(
            name,
            table.config_ids,
            n_instances=n_instances,
            criterion=criterion,
            direction=direction,
            instance_order=order,
            budget=budget,
            failures=failures,
            **params,
        )
    except (TypeError, ValueError) as exc:
        raise UserError(f"strategy {name}: {exc}") from None


def replay(
    table: ResultTable,
    strategy_name: str,
    *,
    criterion: Any,
    direction: Direction,
    order: Sequence[int] | None = None,
    budget: int | None = None,
    n_instances: int | None = None,
    failures: str = "worst",
    seed: int = 0,
    **strategy_params: Any,
) -> ReplayOutcome:
    """Run one strategy (or baseline) on ``table`` with one instance order.

    Parameters
    ----------
    table:
        every instance of every config.
    strategy_name:
        a name from :data:`stalwart.selection.STRATEGIES` or :data:`BASELINES`.
    criterion:
        a :class:`~stalwart.selection.criteria.Criterion` (or its name).
    direction:
        ``minimize`` or ``maximize``.
    order:
        the instance order, a permutation of ``0..table.n_instances-1``; default the
        table's column order.
    budget:
        the most trainings the strategy may use.
    n_instances:
        the most instances a config may get (default: all of the table's); the first
        ``n_instances`` of ``order`` are used.
    failures:
        ``worst`` or ``ignore`` (how NaN instances score).
    seed:
        randomness of the baselines (random search's sampling, TPE's sampler); the
        ask/tell strategies are deterministic.
    **strategy_params:
        the strategy's own parameters (``warmup``, ``test``, ``alpha``, ...).

    Returns
    -------
    ReplayOutcome

    Raises
    ------
    UserError
        unknown strategy, bad order or parameter.
    """
    order_list = check_order(
        range(table.n_instances) if order is None else order, table.n_instances
    )
    n = _check_n_instances(table, n_instances)
    if strategy_name in BASELINES:
        from stalwart.analysis.baselines import run_baseline

        return run_baseline(
            table,
            strategy_name,
            criterion=criterion,
            direction=direction,
            order=order_list,
            budget=budget,
            n_instances=n,
            failures=failures,
            seed=seed,
            **strategy_params,
        )
    strategy = _make(
        table,
        strategy_name,
        criterion=criterion,
        direction=direction,
        order=order_list,
        n_instances=n,
        budget=budget,
        failures=failures,
        params=strategy_params,
    )
    rows = {cid: i for i, cid in enumerate(table.config_ids)}
    times = table.times
    trainings = 0
    spent = 0.0
    while not strategy.done:
        trials: list[Trial] = strategy.ask()
        if not trials:
            # Everything asked is told at once, so nothing is in flight: a strategy that
            # asks for nothing and is not done would wait forever. Make it decide.
            strategy.finish()
            break
        for trial in trials:
            r = rows[trial.config_id]
            strategy.tell(trial, float(table.values[r, trial.instance]))
            trainings += 1
            if times is not None and not math.isnan(times[r, trial.instance]):
                spent += float(times[r, trial.instance])
    return ReplayOutcome(
        strategy=strategy_name,
        selection=strategy.selection,
        trainings=trainings,
        time=spent if times is not None else None,
        order=order_list,
        decisions=list(strategy.decisions),
        n_configs=table.n_configs,
    )


# ---- the reference -------------------------------------------------------------------


@dataclass
class Verdict:
    """How one pick compares with the exhaustive reference."""

    is_best: bool
    in_top_k: bool
    near_best: bool
    regret: float


@dataclass
class Reference:
    """The exhaustive search over the full table, and how to judge a pick against it.

    Build with :meth:`from_table`. See the module docstring for the definitions.
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
        rows = table.values_by_id()
        order = ranking(rows, crit, direction, failures)
        best = order[0]
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

    def judge(self, pick: str | None) -> Verdict:
        regret = self.regret(pick)
        return Verdict(
            is_best=pick == self.best,
            in_top_k=pick in self.ranking[: self.top_k],
            near_best=pick == self.best or regret <= self.best_se,
            regret=regret,
        )


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
    ids (most frequent first). ``outcomes`` holds every replay (left out of
    :meth:`to_dict`).
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
    outcomes: list[ReplayOutcome] = field(default_factory=list, repr=False)

    def to_dict(self, *, outcomes: bool = False) -> dict[str, Any]:
        out = asdict(self)
        out.pop("outcomes")
        if outcomes:
            out["outcomes"] = [o.to_dict() for o in self.outcomes]
        return out


def _percentile(x: np.ndarray, q: float) -> float:
    # Linear interpolation between two infinite regrets gives NaN (inf - inf); with
    # infinite regrets use the next order statistic instead.
    method = "higher" if np.isinf(x).any() else "linear"
    return float(np.percentile(x, q, method=method))


def random_orders(n_instances: int, repeats: int, seed: int) -> list[list[int]]:
    """The instance orders of :func:`replay_many`: ``default_rng(seed)`` permutations.

    The same seed gives every strategy the same orders, so comparisons are paired.
    """
    rng = np.random.default_rng(seed)
    return [[int(i) for i in rng.permutation(n_instances)] for _ in range(repeats)]


def replay_many(
    table: ResultTable,
    strategy_name: str,
    *,
    criterion: Any,
    direction: Direction,
    repeats: int,
    seed: int = 0,
    top_k: int = 3,
    budget: int | None = None,
    n_instances: int | None = None,
    failures: str = "worst",
    reference: Reference | None = None,
    **strategy_params: Any,
) -> ReplaySummary:
    """Replay ``strategy_name`` over ``repeats`` random instance orders and summarise.

    Parameters
    ----------
    table, strategy_name, criterion, direction, budget, n_instances, failures, **strategy_params:
        as in :func:`replay`.
    repeats:
        number of random instance orders (see :func:`random_orders`).
    seed:
        seeds the orders; baselines get a seed per repeat derived from it.
    top_k:
        size of the reference's top for ``P(top-k)``.
    reference:
        a precomputed :class:`Reference` (must match criterion/direction/failures);
        computed from the table when None.

    Returns
    -------
    ReplaySummary
    """
    if repeats < 1:
        raise UserError(f"repeats must be >= 1, got {repeats}")
    if top_k < 1:
        raise UserError(f"top_k must be >= 1, got {top_k}")
    from stalwart.selection import get_criterion

    crit = get_criterion(criterion) if isinstance(criterion, str) else criterion
    ref = reference or Reference.from_table(
        table, criterion=crit, direction=direction, failures=failures, top_k=top_k
    )
    outcomes = [
        replay(
            table,
            strategy_name,
            criterion=crit,
            direction=direction,
            order=order,
            budget=budget,
            n_instances=n_instances,
            failures=failures,
            # A 32-bit seed: optuna's samplers hand it to numpy's RandomState.
            seed=derive_seed("replay", seed, r) % 2**32,
            **strategy_params,
        )
        for r, order in enumerate(random_orders(table.n_instances, repeats, seed))
    ]
    verdicts = [ref.judge(o.selection) for o in outcomes]
    trainings = np.array([o.trainings for o in outcomes], dtype=float)
    regrets = np.array([v.regret for v in verdicts], dtype=float)
    times = None if table.times is None else np.array([o.time or 0.0 for o in outcomes])
    picks = Counter(o.selection for o in outcomes if o.selection is not None)
    return ReplaySummary(
        strategy=strategy_name,
        params=dict(strategy_params),
        criterion=crit.label,
        direction=direction,
        repeats=repeats,
        seed=seed,
        top_k=ref.top_k,
        budget=budget,
        n_configs=table.n_configs,
        n_instances=table.n_instances,
        best=ref.best,
        best_value=ref.best_value,
        best_se=ref.best_se,
        exhaustive_trainings=ref.trainings,
        exhaustive_time=ref.time,
        trainings_mean=float(trainings.mean()),
        trainings_max=int(trainings.max()),
        trainings_fraction=float(trainings.mean() / ref.trainings),
        time_mean=None if times is None else float(times.mean()),
        time_fraction=(
            None if times is None or not ref.time else float(times.mean() / ref.time)
        ),
        p_best=float(np.mean([v.is_best for v in verdicts])),
        p_near_best=float(np.mean([v.near_best for v in verdicts])),
        p_top_k=float(np.mean([v.in_top_k for v in verdicts])),
        regret_median=_percentile(regrets, 50),
        regret_p90=_percentile(regrets, 90),
        picks=dict(picks.most_common()),
        outcomes=outcomes,
    )
