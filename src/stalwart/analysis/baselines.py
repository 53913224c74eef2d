"""Model-selection baselines replayed on a result table, at a given trainings budget.

Each baseline treats one *model* (config) evaluated on ``n`` instances as the unit of a
hyperparameter search, spends at most ``budget`` trainings (instances) and returns the
same :class:`~stalwart.analysis.replay.ReplayOutcome` as a strategy replay, so the
summaries are shared.

* ``random``: configs sampled uniformly without replacement, each evaluated on its first
  ``n`` instances of the instance order, while a whole model still fits in the budget
  (``budget // n`` models); the pick is the best by criterion.
* ``tpe``: Optuna's TPE sampler (``optuna.samplers.TPESampler(seed=...)``) over the
  table's hyperparameter space, one trial = one model on ``n`` instances; the pick is
  the best fully evaluated model by criterion.
* ``tpe_wilcoxon``: the same, with ``optuna.pruners.WilcoxonPruner``: each instance is a
  step (``trial.report(value, step=instance_position)``, ``trial.should_prune()`` after
  each), so bad models stop early; only the instances actually evaluated count. A model
  the budget cuts short is not selectable. The pick is the best *fully evaluated* model.

Search space
------------
The hyperparameter columns that vary between rows make the space. Columns the other
columns determine (e.g. a ``source`` batch label) are dropped, most distinct values
first, as long as the rows stay distinct. If what is left is a full grid (every
combination of the columns' values is a row) TPE sees one categorical distribution per
column, with the values present in the table. Otherwise it sees a single categorical
``config_id`` over the rows (no structure to learn, but every suggestion is a real row).
A suggestion of an already evaluated model costs nothing: the sampler is told the known
value again. TPE repeats itself on small grids, so after ``max_repeats`` (default 3)
repeated suggestions in a row the next trial is an unseen model drawn uniformly at random
(``study.enqueue_trial``); at most ``max_trials`` (default ``10 * n_configs``) trials run.

Objective orientation
---------------------
Studies *minimize* the criterion's primary key before rounding (``sign * value``, see
:mod:`stalwart.selection.criteria`), so spread criteria are minimized whatever the
metric's direction. For the Wilcoxon pruner the per-instance values are reported with
the level orientation (``-value`` when maximizing), so that the pruner's paired test
and the study agree on what "better" is. A pruned trial is told the criterion of its
partial sample (the workaround Optuna's documentation recommends, so TPE learns from
pruned models); a model with a failed instance under ``failures="worst"`` is told FAIL
and stops at once (it can no longer win).
"""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stalwart.analysis.replay import ReplayOutcome
from stalwart.analysis.table import ResultTable
from stalwart.core import Decision, Direction
from stalwart.errors import UserError
from stalwart.selection.criteria import Criterion, get_criterion, orientation

__all__ = ["BASELINE_PARAMS", "run_baseline", "random_search", "tpe_search", "SearchSpace"]

BASELINE_PARAMS: dict[str, tuple[str, ...]] = {
    "random": (),
    "tpe": ("n_startup_trials", "max_trials", "max_repeats"),
    "tpe_wilcoxon": (
        "n_startup_trials",
        "max_trials",
        "max_repeats",
        "p_threshold",
        "n_startup_steps",
    ),
}
"""Parameters each baseline accepts (``--param key=value``)."""


def _optuna() -> Any:
    """Import optuna lazily (an optional dependency) and silence its logging."""
    try:
        optuna = importlib.import_module("optuna")
    except ImportError:
        raise UserError(
            "the tpe baselines need optuna: pip install 'stalwart[optuna]'"
        ) from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna


# ---- shared bookkeeping --------------------------------------------------------------


@dataclass
class _Evaluator:
    """Looks instances up in the table, counts trainings and time, scores models."""

    table: ResultTable
    criterion: Criterion
    direction: Direction
    failures: str
    order: list[int]
    n: int
    budget: int
    trainings: int = 0
    time: float = 0.0

    @property
    def left(self) -> int:
        return self.budget - self.trainings

    def instance(self, row: int, position: int) -> float:
        """Train (look up) the config's ``position``-th instance of the order."""
        col = self.order[position]
        self.trainings += 1
        if self.table.times is not None and not math.isnan(self.table.times[row, col]):
            self.time += float(self.table.times[row, col])
        return float(self.table.values[row, col])

    def objective(self, values: Sequence[float]) -> float:
        """The criterion as a number to minimize (NaN when it is undefined)."""
        v = self.criterion.value(np.sort(np.asarray(values, float)), self.direction, self.failures)
        return self.criterion.sign(self.direction) * v

    def best(self, full: dict[int, list[float]]) -> int | None:
        """Best fully evaluated row by criterion key; ties go to the earlier table row."""
        if not full:
            return None
        return min(
            full,
            key=lambda r: (
                self.criterion.key(np.sort(np.asarray(full[r], float)), self.direction, self.failures),
                r,
            ),
        )

    def outcome(
        self, name: str, pick: int | None, decisions: list[Decision], n_models: int
    ) -> ReplayOutcome:
        """The replay record; the selection is traced as the step after the last model."""
        ids = self.table.config_ids
        trace = sorted(decisions, key=lambda d: d.step)
        if pick is not None:
            full = [self.table.values[pick, self.order[p]] for p in range(self.n)]
            trace.append(
                Decision(
                    step=n_models,
                    config_id=ids[pick],
                    action="selected",
                    reason="best evaluated model by criterion",
                    value=self.criterion.value(np.sort(np.array(full)), self.direction, self.failures),
                    n_instances=self.n,
                )
            )
        return ReplayOutcome(
            strategy=name,
            selection=None if pick is None else ids[pick],
            trainings=self.trainings,
            time=self.time if self.table.times is not None else None,
            order=list(self.order),
            decisions=trace,
            # The trace's "survivors" are the models evaluated, not the untouched rows.
            n_configs=n_models,
        )


def _evaluated(ev: _Evaluator, step: int, row: int, values: list[float], reason: str) -> Decision:
    return Decision(
        step=step,
        config_id=ev.table.config_ids[row],
        action="removed",
        reason=reason,
        value=ev.criterion.value(np.sort(np.asarray(values, float)), ev.direction, ev.failures),
        n_instances=len(values),
    )


# ---- random search -------------------------------------------------------------------


def random_search(ev: _Evaluator, *, seed: int) -> ReplayOutcome:
    """Uniform sampling without replacement, ``budget // n`` whole models."""
    rng = np.random.default_rng(seed)
    n_models = min(ev.table.n_configs, ev.budget // ev.n)
    full: dict[int, list[float]] = {}
    for row in rng.permutation(ev.table.n_configs)[:n_models]:
        full[int(row)] = [ev.instance(int(row), p) for p in range(ev.n)]
    pick = ev.best(full)
    decisions = [
        _evaluated(ev, i, r, v, "evaluated, not the best")
        for i, (r, v) in enumerate(full.items())
        if r != pick
    ]
    return ev.outcome("random", pick, decisions, len(full))


# ---- the search space ----------------------------------------------------------------


class SearchSpace:
    """The table's hyperparameters as Optuna distributions (see the module docstring).

    Parameters
    ----------
    table:
        the rows to search.

    Attributes
    ----------
    columns:
        the grid's columns, or ``["config_id"]`` when the rows are not a full grid.
    grid:
        whether TPE searches per-column categoricals (True) or one over the rows.
    """

    def __init__(self, table: ResultTable) -> None:
        self.table = table
        rows = [tuple(p.get(c) for c in self._varying()) for p in table.params]
        columns = self._varying()
        self.grid = False
        if len(set(rows)) == len(rows) and columns:
            columns = self._reduce(columns)
            combos = [tuple(p.get(c) for c in columns) for p in table.params]
            size = math.prod(len(set(col)) for col in zip(*combos, strict=True))
            self.grid = size == len(combos)
        if self.grid:
            self.columns = columns
            self.choices = {
                c: list(dict.fromkeys(p.get(c) for p in table.params)) for c in columns
            }
            self._row = {
                tuple(p.get(c) for c in columns): i for i, p in enumerate(table.params)
            }
        else:
            self.columns = ["config_id"]
            self.choices = {"config_id": list(table.config_ids)}
            self._row = {(cid,): i for i, cid in enumerate(table.config_ids)}

    def _varying(self) -> list[str]:
        keys: list[str] = []
        for p in self.table.params:
            keys.extend(k for k in p if k not in keys)
        return [k for k in keys if len({repr(p.get(k)) for p in self.table.params}) > 1]

    def _reduce(self, columns: list[str]) -> list[str]:
        """Drop columns the others determine, most distinct values first."""
        params = self.table.params
        by_size = sorted(columns, key=lambda c: -len({repr(p.get(c)) for p in params}))
        keep = list(columns)
        for col in by_size:
            rest = [c for c in keep if c != col]
            if rest and len({tuple(p.get(c) for c in rest) for p in params}) == len(params):
                keep = rest
        return keep

    def params_of(self, row: int) -> dict[str, Any]:
        """The Optuna parameters that :meth:`suggest` maps to ``row``."""
        if not self.grid:
            return {"config_id": self.table.config_ids[row]}
        return {c: self.table.params[row].get(c) for c in self.columns}

    def suggest(self, trial: Any) -> int:
        """Ask ``trial`` for a point of the space; return its table row."""
        key = tuple(trial.suggest_categorical(c, self.choices[c]) for c in self.columns)
        return self._row[key]


# ---- TPE, with or without the Wilcoxon pruner ----------------------------------------


def tpe_search(
    ev: _Evaluator,
    *,
    seed: int,
    wilcoxon: bool = False,
    n_startup_trials: int = 10,
    max_trials: int | None = None,
    max_repeats: int = 3,
    p_threshold: float = 0.1,
    n_startup_steps: int = 2,
) -> ReplayOutcome:
    """TPE over the table's space; with ``wilcoxon`` the instances are pruner steps."""
    optuna = _optuna()
    state = optuna.trial.TrialState
    space = SearchSpace(ev.table)
    name = "tpe_wilcoxon" if wilcoxon else "tpe"
    with warnings.catch_warnings():
        # WilcoxonPruner is marked experimental; its warning would go to every replay.
        warnings.simplefilter("ignore")
        pruner = (
            optuna.pruners.WilcoxonPruner(p_threshold=p_threshold, n_startup_steps=n_startup_steps)
            if wilcoxon
            else optuna.pruners.NopPruner()
        )
        study = optuna.create_study(
            direction="minimize",
            sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials),
            pruner=pruner,
        )
        level = orientation(ev.direction)
        full: dict[int, list[float]] = {}
        # For repeated suggestions: what the sampler was told about each row.
        told: dict[int, tuple[Any, float | None, list[tuple[int, float]]]] = {}
        index: dict[int, int] = {}  # row -> position in the sequence of models tried
        decisions: list[Decision] = []
        cap = max_trials if max_trials is not None else 10 * ev.table.n_configs
        rng = np.random.default_rng(seed)
        repeats = 0
        for _ in range(cap):
            if len(told) == ev.table.n_configs:
                break
            if ev.left < (1 if wilcoxon else ev.n):
                break
            trial = study.ask()
            row = space.suggest(trial)
            if row in told:
                repeats += 1
                if repeats >= max_repeats:
                    repeats = 0
                    unseen = [r for r in range(ev.table.n_configs) if r not in told]
                    study.enqueue_trial(space.params_of(int(rng.choice(unseen))))
                st, value, reported = told[row]
                # Re-report the steps so that a repeat that becomes the best trial still
                # has the intermediate values the pruner pairs against.
                for step, v in reported:
                    trial.report(v, step)
                if st == state.COMPLETE:
                    study.tell(trial, value)
                else:
                    study.tell(trial, state=st)
                continue
            repeats = 0
            index[row] = len(index)
            values: list[float] = []
            reported: list[tuple[int, float]] = []
            outcome = state.COMPLETE
            reason = ""
            for p in range(ev.n):
                if ev.left <= 0:
                    outcome, reason = state.PRUNED, "budget exhausted mid-model"
                    break
                v = ev.instance(row, p)
                values.append(v)
                if not math.isfinite(v):
                    if ev.failures == "worst" and wilcoxon:
                        outcome, reason = state.FAIL, "failed instance"
                        break
                    continue  # the pruner cannot pair NaN: skip its report
                if wilcoxon:
                    # step = the instance's column, so the pruner pairs the same instance
                    # of two models (every model of one replay shares the order anyway).
                    reported.append((ev.order[p], level * v))
                    trial.report(level * v, ev.order[p])
                    if trial.should_prune():
                        outcome, reason = state.PRUNED, "pruned by Wilcoxon test"
                        break
            value = ev.objective(values)
            if outcome == state.COMPLETE and len(values) == ev.n:
                full[row] = values
            if reason:
                decisions.append(_evaluated(ev, index[row], row, values, reason))
            if outcome == state.FAIL or (outcome == state.COMPLETE and math.isnan(value)):
                told[row] = (state.FAIL, None, reported)
                study.tell(trial, state=state.FAIL)
            elif outcome == state.PRUNED and reason.startswith("budget"):
                told[row] = (state.PRUNED, None, reported)
                study.tell(trial, state=state.PRUNED)
            else:
                # Pruned trials are told their partial criterion as a COMPLETE value, as
                # Optuna's WilcoxonPruner documentation recommends.
                told[row] = (state.COMPLETE, value, reported)
                study.tell(trial, value)
    pick = ev.best(full)
    decisions += [
        _evaluated(ev, index[r], r, v, "evaluated, not the best")
        for r, v in full.items()
        if r != pick
    ]
    return ev.outcome(name, pick, decisions, len(index))


# ---- dispatch ------------------------------------------------------------------------

_RUNNERS: dict[str, Callable[..., ReplayOutcome]] = {
    "random": random_search,
    "tpe": tpe_search,
    "tpe_wilcoxon": lambda ev, **kw: tpe_search(ev, wilcoxon=True, **kw),
}


def run_baseline(
    table: ResultTable,
    name: str,
    *,
    criterion: Criterion | str,
    direction: Direction,
    order: Sequence[int],
    budget: int | None,
    n_instances: int,
    failures: str = "worst",
    seed: int = 0,
    **params: Any,
) -> ReplayOutcome:
    """Replay the baseline ``name`` (``random``, ``tpe``, ``tpe_wilcoxon``).

    Parameters
    ----------
    table:
        every instance of every config.
    name:
        the baseline.
    criterion, direction, failures:
        how models are scored (see :mod:`stalwart.selection.criteria`).
    order:
        the instance order (a permutation of the table's instance positions); every
        model is evaluated on its first ``n_instances`` positions.
    budget:
        the most trainings (instances); None: enough for every config
        (``n_configs * n_instances``).
    n_instances:
        instances per model.
    seed:
        seeds the sampling (random search) or the TPE sampler.
    **params:
        see :data:`BASELINE_PARAMS`.

    Returns
    -------
    ReplayOutcome

    Raises
    ------
    UserError
        an unknown baseline or parameter, a budget below one model, or no optuna.
    """
    if name not in _RUNNERS:
        raise UserError(f"unknown baseline {name!r}; valid: {', '.join(_RUNNERS)}")
    unknown = sorted(set(params) - set(BASELINE_PARAMS[name]))
    if unknown:
        accepted = ", ".join(BASELINE_PARAMS[name]) or "none"
        raise UserError(f"{name}: unknown parameter {unknown[0]!r}; accepted: {accepted}")
    crit = get_criterion(criterion) if isinstance(criterion, str) else criterion
    total = table.n_configs * n_instances
    budget = total if budget is None else int(budget)
    if budget < (1 if name == "tpe_wilcoxon" else n_instances):
        raise UserError(
            f"{name}: budget {budget} is below one model ({n_instances} instances)"
        )
    ev = _Evaluator(
        table=table,
        criterion=crit,
        direction=direction,
        failures=failures,
        order=list(order),
        n=n_instances,
        budget=budget,
    )
    return _RUNNERS[name](ev, seed=seed, **params)
