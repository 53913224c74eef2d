"""The ask/tell contract every selection strategy follows, and the setup it is given.

A strategy is pure: it sees instance values, proposes instances, eliminates configs and
names the selection. It does no I/O and starts no processes, so the very same object runs
in a live study, on a Ray cluster, and on a replay table.

Protocol
--------
``ask()`` returns the trials (config id, instance index) to run now, each handed out once;
an empty list means "wait for the results in flight" (or, when ``done``, nothing left).
``tell(trial, value)`` reports one finished trial's metric value; NaN marks a failed or
diverged instance. Decisions (eliminations, selection) are taken inside ``tell`` once a
step's results are complete, so the order of ``tell`` calls within a step never changes
the outcome: a study resumed from its store replays its stored results and arrives at
the same state as an uninterrupted run.

Two hooks let a caller say more about a finished trial, each called once, right before
its ``tell``: ``observe_cost(trial, seconds)`` (its training time) and
``observe_train_loss(trial, loss)`` (the training loss of its kept weights, which a
criterion with ``near_optimal`` needs). The study loop calls both for live and resumed
results, the replay harness for every trial it tells.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stalwart.core import Decision, Direction, Trial
from stalwart.selection.criteria import (
    Criterion,
    Failures,
    as_criterion,
    check_direction,
    check_failures,
)

__all__ = ["Decision", "Direction", "Strategy", "StrategySetup", "Trial"]


@dataclass(frozen=True)
class StrategySetup:
    """What every strategy is given: the race, how configs are scored, and the budget.

    Built once by the caller (a study, a replay, a test) and handed to any strategy, so
    the parameter pack is spelled out in one place. Sequences are stored as tuples and a
    criterion name becomes a :class:`Criterion`; invalid values raise ``ValueError``.

    Parameters
    ----------
    config_ids:
        the configs in the race, in a fixed order (ties are broken by this order).
    n_instances:
        the most instances any config may get.
    criterion:
        scores configs (a :class:`Criterion` or its name); lower key is better.
    direction:
        ``minimize`` (a loss) or ``maximize`` (an accuracy).
    instance_order:
        the order in which instance indices are used: the j-th instance a config gets is
        ``instance_order[j]``. Defaults to ``0, 1, ..., n_instances - 1``. Replays pass a
        random permutation of a table's instance columns.
    budget:
        the most trials a strategy hands out; when reached it selects among the survivors
        with what it has.
    failures:
        ``worst`` (a NaN instance makes the config the worst) or ``ignore`` (drop NaNs).
    params:
        the hyperparameters of each config, in ``config_ids`` order (a study's configs,
        a table's parameter columns), for strategies that model them (adaptive's
        surrogate); ``None`` when unknown.
    """

    config_ids: tuple[str, ...]
    n_instances: int
    criterion: Criterion
    direction: Direction
    instance_order: tuple[int, ...] | None = None
    budget: int | None = None
    failures: Failures = "worst"
    params: tuple[Mapping[str, Any], ...] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # Frozen: normalise through object.__setattr__, once, before anyone reads a field.
        ids = tuple(self.config_ids)
        if not ids:
            raise ValueError("a strategy needs at least one config")
        if len(set(ids)) != len(ids):
            raise ValueError("config ids must be unique")
        if self.n_instances < 1:
            raise ValueError("n_instances must be >= 1")
        order = None if self.instance_order is None else tuple(self.instance_order)
        if order is not None and (len(order) < self.n_instances or len(set(order)) != len(order)):
            raise ValueError("instance_order must list at least n_instances distinct indices")
        if self.budget is not None and self.budget < 1:
            raise ValueError("budget must be >= 1")
        params = None if self.params is None else tuple(dict(p) for p in self.params)
        if params is not None and len(params) != len(ids):
            raise ValueError("params must have one mapping per config")
        object.__setattr__(self, "config_ids", ids)
        object.__setattr__(self, "instance_order", order)
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "criterion", as_criterion(self.criterion))
        check_direction(self.direction)
        check_failures(self.failures)

    @property
    def order(self) -> tuple[int, ...]:
        """The instance indices in use, in order: the first ``n_instances`` of the order."""
        if self.instance_order is None:
            return tuple(range(self.n_instances))
        return self.instance_order[: self.n_instances]


class Strategy(ABC):
    """Base class: bookkeeping of trials, values, budget and decisions.

    The setup's fields are mirrored as attributes (``config_ids`` and ``instance_order``
    as lists, the latter resolved to the ``n_instances`` indices in use) for the code that
    reads them off a strategy.

    Parameters
    ----------
    setup:
        the configs, instances, criterion, direction, budget and failure policy.
    """

    name: str = "strategy"

    def __init__(self, setup: StrategySetup) -> None:
        self.setup = setup
        self.config_ids: list[str] = list(setup.config_ids)
        self.n_instances = setup.n_instances
        self.instance_order: list[int] = list(setup.order)
        self.budget = setup.budget
        self.criterion: Criterion = setup.criterion
        self.direction: Direction = setup.direction
        self.failures: Failures = setup.failures
        self.values: dict[str, dict[int, float]] = {c: {} for c in self.config_ids}
        #: the training loss of each instance heard (NaN: unknown), by config and index.
        self.train_losses: dict[str, dict[int, float]] = {c: {} for c in self.config_ids}
        self.decisions: list[Decision] = []
        self.n_asked = 0
        self._pending: set[Trial] = set()
        self._selection: str | None = None
        self._done = False

    # ---- the contract -------------------------------------------------------------
    @abstractmethod
    def ask(self) -> list[Trial]:
        """Trials to run now (never handed out twice); empty when waiting or done."""

    @abstractmethod
    def tell(self, trial: Trial, value: float) -> None:
        """Record one finished trial; NaN means the instance failed or diverged."""

    def observe_cost(self, trial: Trial, seconds: float) -> None:
        """Hear the training time of ``trial`` (wall seconds), right before its ``tell``.

        Callers (the study loop, the replay harness) call this once per finished trial,
        immediately before :meth:`tell`, with the instance's recorded training time, so
        that a cost-aware strategy can prefer cheap information. A strategy must use the
        time only from its ``tell`` on (not when it is heard), so that its decisions stay
        independent of the order of calls. A cost-aware strategy's plans depend on these
        times, so a resumed study must call it for every stored result it replays too,
        with the stored time, to reach the same state. The default ignores it.
        """
        return None

    def observe_train_loss(self, trial: Trial, loss: float | None) -> None:
        """Hear the training loss of ``trial``'s kept weights, right before its ``tell``.

        Callers (the study loop, the replay harness) call this exactly as
        :meth:`observe_cost`: once per finished trial, immediately before :meth:`tell`,
        for live results and for every stored result a resumed study replays. ``None``
        (the trainer reports none) and non-finite losses are recorded as unknown (NaN).
        The loss is stored in :attr:`train_losses`; a criterion with ``near_optimal``
        uses it only once the trial is told (the near-optimal sample is taken over told
        instances), so decisions stay independent of the order of calls.
        """
        if trial.config_id not in self.train_losses:
            raise KeyError(f"unknown config {trial.config_id!r}")
        value = math.nan if loss is None else float(loss)
        self.train_losses[trial.config_id][trial.instance] = (
            value if math.isfinite(value) else math.nan
        )

    def planned_trainings(self) -> int | None:
        """The trainings this strategy will hand out, when known before it runs.

        A preview of the cost (a progress bar's total, an estimate before launching a
        study), capped by the budget. ``None`` means the count depends on the results.
        """
        return None

    def finish(self) -> None:
        """Stop now (an outside budget ran out): select among the survivors."""
        if not self._done:
            self._select(reason="stopped early")

    @property
    def done(self) -> bool:
        return self._done

    @property
    def selection(self) -> str | None:
        """The id of the selected config, once ``done``."""
        return self._selection

    @property
    @abstractmethod
    def survivors(self) -> list[str]:
        """Configs still in the race, in ``config_ids`` order."""

    @abstractmethod
    def _select(self, reason: str) -> None:
        """Name the selection among the survivors and mark the strategy done."""

    # ---- helpers for subclasses ------------------------------------------------------
    @property
    def pending(self) -> frozenset[Trial]:
        return frozenset(self._pending)

    @property
    def budget_left(self) -> float:
        return math.inf if self.budget is None else self.budget - self.n_asked

    def instance_at(self, position: int) -> int:
        """The instance index a config gets as its ``position``-th instance."""
        return self.instance_order[position]

    def n_observed(self, config_id: str) -> int:
        return len(self.values[config_id])

    def _hand_out(self, trials: Sequence[Trial]) -> list[Trial]:
        """Register trials as pending, cut to the budget left."""
        room = self.budget_left
        out: list[Trial] = []
        for t in trials:
            if len(out) >= room:
                break
            if t in self._pending or t.instance in self.values[t.config_id]:
                continue
            out.append(t)
        self._pending.update(out)
        self.n_asked += len(out)
        return out

    def _record(self, trial: Trial, value: float) -> None:
        if trial.config_id not in self.values:
            raise KeyError(f"unknown config {trial.config_id!r}")
        if trial not in self._pending:
            raise ValueError(f"{trial} was not asked for or was already told")
        self._pending.discard(trial)
        self.values[trial.config_id][trial.instance] = float(value)
