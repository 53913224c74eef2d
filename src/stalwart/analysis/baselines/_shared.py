"""What every baseline shares: the evaluator over a table, the search space, optuna.

Search space
------------
The hyperparameter columns that vary between rows make the space. Columns the other
columns determine (e.g. a ``source`` batch label) are dropped, most distinct values
first, as long as the rows stay distinct. If what is left is a full grid (every
combination of the columns' values is a row) TPE sees one categorical distribution per
column, with the values present in the table. Otherwise it sees a single categorical
``config_id`` over the rows: no structure to learn, so TPE is random search there
(:attr:`SearchSpace.warning` says so, and ``stalwart replay`` prints it).

The caller can name the hyperparameter columns (``columns``, ``stalwart replay
--param-columns``): those columns are the space as they are (nothing dropped). When
their rows are a full grid with one row per point, a suggestion is that row; otherwise a
suggestion (one categorical per column, the values in the table) maps to the *nearest*
row: the most columns equal, ties to the first row in table order that was not tried
yet. So TPE learns over the named columns on any table.

Budgets
-------
A baseline spends at most ``budget`` trainings and, with ``budget_seconds``, starts no
training once the table times of those it ran reach that many seconds (the last one
may overshoot, as a training in a live study would): :meth:`Evaluator.can_train`.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stalwart.analysis.outcome import ReplayOutcome
from stalwart.analysis.table import ResultTable
from stalwart.core import Decision, Direction
from stalwart.errors import UserError
from stalwart.selection.base import StrategySetup
from stalwart.selection.criteria import Criterion, Failures

__all__ = ["Evaluator", "SearchSpace", "evaluated", "import_optuna"]


def import_optuna() -> Any:
    """Import optuna lazily (an optional dependency) and silence its logging."""
    try:
        module = importlib.import_module("optuna")
    except ImportError:
        raise UserError(
            "the tpe baselines need optuna: pip install 'stalwart[optuna]'"
        ) from None
    module.logging.set_verbosity(module.logging.ERROR)
    return module


# ---- the evaluator -------------------------------------------------------------------


@dataclass
class Evaluator:
    """Looks instances up in the table, counts trainings and time, scores models.

    Parameters
    ----------
    table:
        every instance of every config.
    setup:
        the race a strategy would be given: scoring, instance order, instances per model
        and budget (no budget: enough for every config, ``n_configs * n_instances``).

    Attributes
    ----------
    criterion, direction, failures:
        how models are scored (the setup's).
    order:
        the instance order; a model's ``p``-th instance is column ``order[p]``.
    n:
        instances per model.
    budget:
        the most trainings the baseline may use.
    budget_seconds:
        the most training time (table seconds) the baseline may start trainings in;
        None: no limit.
    param_columns:
        the hyperparameter columns for :class:`SearchSpace` (None: detected).
    trainings, time:
        what it used so far.
    """

    table: ResultTable
    setup: StrategySetup
    budget_seconds: float | None = None
    param_columns: Sequence[str] | None = None
    trainings: int = 0
    time: float = 0.0
    criterion: Criterion = field(init=False)
    direction: Direction = field(init=False)
    failures: Failures = field(init=False)
    order: list[int] = field(init=False)
    n: int = field(init=False)
    budget: int = field(init=False)

    def __post_init__(self) -> None:
        s = self.setup
        self.criterion, self.direction, self.failures = s.criterion, s.direction, s.failures
        self.order = list(s.order if s.instance_order is None else s.instance_order)
        self.n = s.n_instances
        self.budget = self.table.n_configs * self.n if s.budget is None else int(s.budget)

    @property
    def left(self) -> int:
        return self.budget - self.trainings

    @property
    def time_spent(self) -> bool:
        """The training-time budget is used up (never, without one)."""
        return self.budget_seconds is not None and self.time >= self.budget_seconds

    def can_train(self, n: int = 1) -> bool:
        """Room for ``n`` more trainings and training time left to start one."""
        return self.left >= n and not self.time_spent

    def check_budget(self, name: str, least: int) -> None:
        """Refuse a budget below ``least``, the fewest trainings baseline ``name`` can use.

        Raises
        ------
        UserError
            naming the baseline, the budget and the model size.
        """
        if self.budget < least:
            raise UserError(
                f"{name}: budget {self.budget} is below one model ({self.n} instances)"
            )

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


def evaluated(ev: Evaluator, step: int, row: int, values: list[float], reason: str) -> Decision:
    """The trace entry of a model that was evaluated (on ``values``) and not picked."""
    return Decision(
        step=step,
        config_id=ev.table.config_ids[row],
        action="removed",
        reason=reason,
        value=ev.criterion.value(np.sort(np.asarray(values, float)), ev.direction, ev.failures),
        n_instances=len(values),
    )


# ---- the search space ----------------------------------------------------------------


class SearchSpace:
    """The table's hyperparameters as Optuna distributions (see the module docstring).

    Parameters
    ----------
    table:
        the rows to search.
    columns:
        the hyperparameter columns, as the caller names them; None: detected.

    Attributes
    ----------
    columns:
        the space's columns, or ``["config_id"]`` when the detected columns are not a
        full grid.
    grid:
        whether a point of the space is exactly one row.
    warning:
        why TPE over this space is random search (one categorical over the rows), or
        None.

    Raises
    ------
    UserError
        for a named column the table does not have.
    """

    def __init__(self, table: ResultTable, columns: Sequence[str] | None = None) -> None:
        self.table = table
        self.warning: str | None = None
        self.nearest = False
        if columns is not None:
            self._named(list(columns))
            return
        rows = [tuple(p.get(c) for c in self._varying()) for p in table.params]
        columns = self._varying()
        self.grid = False
        if len(set(rows)) == len(rows) and columns:
            columns = self._reduce(columns)
            combos = [tuple(p.get(c) for c in columns) for p in table.params]
            size = math.prod(len(set(col)) for col in zip(*combos, strict=True))
            self.grid = size == len(combos)
        if self.grid:
            self.columns = list(columns)
            self.choices = {
                c: list(dict.fromkeys(p.get(c) for p in table.params)) for c in columns
            }
            self._row = {
                tuple(p.get(c) for c in columns): i for i, p in enumerate(table.params)
            }
        else:
            varying = self._varying()
            if not varying:
                why = "the rows differ only by their id"
            elif len(set(rows)) < len(rows):
                why = "several rows have the same hyperparameters"
            else:
                why = f"the hyperparameter columns ({', '.join(varying)}) are not a full grid"
            self.warning = (
                f"{why}: TPE searches one categorical over the {table.n_configs} rows, "
                "which is random search; name the hyperparameter columns with "
                "--param-columns"
            )
            self.columns = ["config_id"]
            self.choices = {"config_id": list(table.config_ids)}
            self._row = {(cid,): i for i, cid in enumerate(table.config_ids)}

    def _named(self, columns: list[str]) -> None:
        """The caller's columns: a grid when it is one, else nearest-row suggestions."""
        keys = {k for p in self.table.params for k in p}
        missing = [c for c in columns if c not in keys]
        if missing or not columns:
            have = ", ".join(sorted(keys)) or "none"
            what = f"no column {missing[0]!r}" if missing else "no columns named"
            raise UserError(f"--param-columns: {what}; the table's columns: {have}")
        params = self.table.params
        self.columns = columns
        self.choices = {c: list(dict.fromkeys(p.get(c) for p in params)) for c in columns}
        self._points = [tuple(p.get(c) for c in columns) for p in params]
        size = math.prod(len(v) for v in self.choices.values())
        self.grid = len(set(self._points)) == len(self._points) == size
        self.nearest = not self.grid
        self._row = {}
        for i, key in enumerate(self._points):
            self._row.setdefault(key, i)
        if len(set(self._points)) == 1:
            self.warning = (
                f"every row has the same {', '.join(columns)}: TPE over them is random search"
            )

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
        if self.columns == ["config_id"]:
            return {"config_id": self.table.config_ids[row]}
        return {c: self.table.params[row].get(c) for c in self.columns}

    def suggest(self, trial: Any, tried: Container[int] = ()) -> int:
        """Ask ``trial`` for a point of the space; return its table row.

        With nearest-row suggestions, ``tried`` (rows evaluated already) steers ties to
        a row not tried yet.
        """
        key = tuple(trial.suggest_categorical(c, self.choices[c]) for c in self.columns)
        if not self.nearest:
            return self._row[key]
        best_score, best_row, fresh = -1, 0, False
        for i, point in enumerate(self._points):
            score = sum(a == b for a, b in zip(point, key, strict=True))
            new = i not in tried
            if score > best_score or (score == best_score and new and not fresh):
                best_score, best_row, fresh = score, i, new
        return best_row
