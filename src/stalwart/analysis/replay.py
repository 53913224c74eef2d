"""Replay a selection strategy on a table of finished instances.

Training is expensive, so strategies are compared offline: a table holds every instance
of every config (:class:`~stalwart.analysis.table.ResultTable`); a replay runs a strategy's
ask/tell loop and looks each asked instance up in the table instead of training it. The
trainings a replay *uses* are the instances it was told; its training time is the sum of
those instances' recorded times.

The instance order matters (a strategy sees its first instances first), so
:func:`replay_many` replays many random instance orders and reports how often the
strategy finds the model an exhaustive search over the *whole* table would pick.

How a pick is judged (the exhaustive reference, ``P(best)``, ``P(near-best)``, regret) is
defined in :mod:`~stalwart.analysis.outcome`; the baselines (random search, TPE) are
replayed through :mod:`~stalwart.analysis.baselines` and share its records.

Budgets and costs
-----------------
``budget`` caps the trainings (the strategy's own budget). ``budget_seconds`` caps the
training *time*, from the table's time columns, for every strategy and baseline alike:
the harness hands out trainings in the order the strategy asked for them and starts none
once the times of those it ran reach the budget (the last one may overshoot, as a
training in a live study would); it then calls the strategy's ``finish()``, which selects
among the survivors with what they have. Before each ``tell`` the harness calls the
strategy's ``observe_cost(trial, seconds)`` with the instance's table time, when the
table has times and the strategy has that hook, so that a cost-aware strategy learns
what its trainings cost as a live study would.

Near-optimal criteria
---------------------
A criterion with ``near_optimal`` / ``near_optimal_relative`` scores each config on its
near-optimal instances, chosen by their training losses: the table must have them
(``train_loss_{i}`` columns, which ``stalwart results`` writes; ``--train-loss-pattern``
names others), else the replay is refused (:func:`check_train_losses`). Before each
``tell`` the harness calls ``observe_train_loss(trial, loss)`` with the table's training
loss, as the study loop does, and the reference (:func:`reference_for`) ranks the full table
on the same near-optimal samples. The baselines score rows without training losses, so
they refuse such a criterion.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from stalwart.analysis.baselines import BASELINES, run_baseline
from stalwart.analysis.outcome import Reference, ReplayOutcome, ReplaySummary
from stalwart.analysis.table import TRAIN_LOSS_PREFIX, ResultTable
from stalwart.core import Direction, Trial, derive_seed
from stalwart.errors import UserError
from stalwart.selection import STRATEGIES, Criterion, StrategySetup, make_strategy
from stalwart.selection.criteria import as_criterion


def strategy_names() -> list[str]:
    """Every name :func:`replay` accepts: the strategies, then the baselines.

    Read from the two registries (:data:`stalwart.selection.STRATEGIES` and
    :data:`stalwart.analysis.baselines.BASELINES`), so a new strategy or baseline is
    replayable, and listed by ``stalwart replay``, without touching this module.
    """
    return [*STRATEGIES, *BASELINES]


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


def _check_budget_seconds(table: ResultTable, budget_seconds: float | None) -> None:
    if budget_seconds is None:
        return
    if not (isinstance(budget_seconds, int | float) and budget_seconds > 0
            and math.isfinite(budget_seconds)):
        raise UserError(f"budget_seconds must be a number > 0, got {budget_seconds!r}")
    if table.times is None:
        raise UserError(
            "a budget in training seconds needs the table's time columns (none found; "
            "pass --time-pattern)"
        )


def check_train_losses(table: ResultTable, criterion: Criterion) -> None:
    """Refuse a ``near_optimal`` criterion on a table without training losses.

    Raises
    ------
    UserError
        one line naming the columns and the flag that reads them.
    """
    if criterion.near_optimal is None or table.train_losses is not None:
        return
    raise UserError(
        f"criterion {criterion.label} needs each instance's training loss: the table has "
        f"no {TRAIN_LOSS_PREFIX}_{{i}} columns (pass --train-loss-pattern to name them)"
    )


def reference_for(
    table: ResultTable,
    *,
    criterion: Any,
    direction: Direction,
    failures: str = "worst",
    top_k: int = 3,
) -> Reference:
    """The exhaustive reference of :meth:`Reference.from_table`, after the check that a
    ``near_optimal`` criterion has the table's training losses to judge by.

    Raises
    ------
    UserError
        a ``near_optimal`` criterion on a table without training losses
        (:func:`check_train_losses`); :class:`~stalwart.errors.TableError` as
        :meth:`Reference.from_table`.
    """
    crit = as_criterion(criterion)
    check_train_losses(table, crit)
    return Reference.from_table(table, criterion=crit, direction=direction,
                                failures=failures, top_k=top_k)


def _check_n_instances(table: ResultTable, n_instances: int | None) -> int:
    n = table.n_instances if n_instances is None else int(n_instances)
    if not 1 <= n <= table.n_instances:
        raise UserError(f"n_instances must be in 1..{table.n_instances}, got {n}")
    return n


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
    budget_seconds: float | None = None,
    param_columns: Sequence[str] | None = None,
    **strategy_params: Any,
) -> ReplayOutcome:
    """Run one strategy (or baseline) on ``table`` with one instance order.

    Parameters
    ----------
    table:
        every instance of every config.
    strategy_name:
        a name from :func:`strategy_names`: a strategy of
        :data:`stalwart.selection.STRATEGIES` or a baseline of
        :data:`stalwart.analysis.baselines.BASELINES`.
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
    budget_seconds:
        the most training time, in the table's seconds (see the module docstring);
        needs a table with times.
    param_columns:
        the hyperparameter columns for the TPE baselines (ignored by strategies).
    **strategy_params:
        the strategy's own parameters (``warmup``, ``test``, ``alpha``, ...).

    Returns
    -------
    ReplayOutcome

    Raises
    ------
    UserError
        unknown strategy, bad order or parameter; a table with never-trained cells
        (:class:`~stalwart.errors.TableError`; see :meth:`ResultTable.complete`); a
        ``budget_seconds`` that is not > 0 or a table without times for it; a
        ``near_optimal`` criterion on a table without training losses, or with a
        baseline.
    """
    table.require_complete()
    _check_budget_seconds(table, budget_seconds)
    order_list = check_order(
        range(table.n_instances) if order is None else order, table.n_instances
    )
    n = _check_n_instances(table, n_instances)
    if strategy_name not in STRATEGIES and strategy_name not in BASELINES:
        valid = ", ".join(strategy_names())
        raise UserError(f"unknown strategy {strategy_name!r}; valid: {valid}")
    try:
        crit = as_criterion(criterion)
    except (TypeError, ValueError) as exc:
        raise UserError(f"strategy {strategy_name}: {exc}") from None
    check_train_losses(table, crit)
    if crit.near_optimal is not None and strategy_name in BASELINES:
        raise UserError(
            f"baseline {strategy_name} scores rows without their training losses: it does "
            f"not take criterion option {crit.near_optimal.key} (replay a strategy: "
            f"{', '.join(STRATEGIES)})"
        )
    # One setup for either kind: a strategy is built from it, a baseline evaluates by it.
    try:
        setup = StrategySetup(
            tuple(table.config_ids),
            n_instances=n,
            criterion=criterion,
            direction=direction,
            instance_order=tuple(order_list),
            budget=budget,
            failures=failures,
            params=[{k: p.get(k) for k in param_columns} if param_columns else p
                    for p in table.params],
        )
        strategy = (
            None
            if strategy_name in BASELINES
            else make_strategy(strategy_name, setup, **strategy_params)
        )
    except (TypeError, ValueError) as exc:
        raise UserError(f"strategy {strategy_name}: {exc}") from None
    if strategy is None:
        return run_baseline(
            table, strategy_name, setup, seed=seed, budget_seconds=budget_seconds,
            param_columns=param_columns, **strategy_params,
        )
    rows = {cid: i for i, cid in enumerate(table.config_ids)}
    times = table.times
    observe = getattr(strategy, "observe_cost", None) if times is not None else None
    losses = table.train_losses
    observe_loss = (getattr(strategy, "observe_train_loss", None)
                    if losses is not None else None)
    limit = math.inf if budget_seconds is None else float(budget_seconds)
    trainings = 0
    spent = 0.0
    while not strategy.done:
        trials: list[Trial] = strategy.ask()
        if not trials or spent >= limit:
            # Everything asked is told at once, so nothing is in flight: a strategy that
            # asks for nothing and is not done would wait forever. Make it decide.
            strategy.finish()
            break
        for trial in trials:
            if spent >= limit:
                break  # the time budget is spent: the rest of the batch never starts
            r = rows[trial.config_id]
            seconds = math.nan if times is None else float(times[r, trial.instance])
            if observe is not None and not math.isnan(seconds):
                observe(trial, seconds)
            if observe_loss is not None and losses is not None:
                observe_loss(trial, float(losses[r, trial.instance]))
            strategy.tell(trial, float(table.values[r, trial.instance]))
            trainings += 1
            if not math.isnan(seconds):
                spent += seconds
    return ReplayOutcome(
        strategy=strategy_name,
        selection=strategy.selection,
        trainings=trainings,
        time=spent if times is not None else None,
        order=order_list,
        decisions=list(strategy.decisions),
        n_configs=table.n_configs,
    )


# ---- many replays --------------------------------------------------------------------


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
    report_tolerance: float | None = None,
    budget_seconds: float | None = None,
    param_columns: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
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
    report_tolerance:
        for ``P(regret <= report_tolerance)``, in the metric's units (None: not computed);
        named apart from a strategy's own ``tolerance`` (adaptive's indifference zone),
        which goes in ``strategy_params``.
    budget_seconds, param_columns:
        as in :func:`replay`.
    progress:
        called as ``progress(done, repeats)`` after every replay (e.g. a progress line).

    Returns
    -------
    ReplaySummary
    """
    if repeats < 1:
        raise UserError(f"repeats must be >= 1, got {repeats}")
    if top_k < 1:
        raise UserError(f"top_k must be >= 1, got {top_k}")
    tolerance = report_tolerance
    if tolerance is not None and not (
        isinstance(tolerance, int | float) and math.isfinite(tolerance) and tolerance >= 0
    ):
        raise UserError(f"tolerance must be a number >= 0, got {tolerance!r}")
    _check_budget_seconds(table, budget_seconds)
    crit = as_criterion(criterion)
    ref = reference or reference_for(
        table, criterion=crit, direction=direction, failures=failures, top_k=top_k
    )
    outcomes: list[ReplayOutcome] = []
    for r, order in enumerate(random_orders(table.n_instances, repeats, seed)):
        outcomes.append(
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
                budget_seconds=budget_seconds,
                param_columns=param_columns,
                **strategy_params,
            )
        )
        if progress is not None:
            progress(r + 1, repeats)
    verdicts = [ref.judge(o.selection, tolerance) for o in outcomes]
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
        tolerance=None if tolerance is None else float(tolerance),
        p_within_tolerance=(
            None if tolerance is None
            else float(np.mean([bool(v.within_tolerance) for v in verdicts]))
        ),
        budget_seconds=None if budget_seconds is None else float(budget_seconds),
        time_max=None if times is None else float(times.max()),
        outcomes=outcomes,
        verdicts=verdicts,
    )
