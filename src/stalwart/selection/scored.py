"""Ranking configs by a criterion: the part every concrete strategy shares.

:class:`ScoredStrategy` adds to :class:`~stalwart.selection.base.Strategy` a criterion, a
direction and a failure policy, the set of survivors, removal and selection with their
:class:`~stalwart.selection.base.Decision` records. :func:`ranking` ranks a full table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

import numpy as np

from stalwart.core import Decision, Direction
from stalwart.selection.base import Strategy
from stalwart.selection.criteria import (
    Criterion,
    Failures,
    check_direction,
    check_failures,
    get_criterion,
)


def as_criterion(criterion: Criterion | str) -> Criterion:
    """A criterion object from itself or its name."""
    return get_criterion(criterion) if isinstance(criterion, str) else criterion


def ranking(
    values: Mapping[str, Sequence[float]],
    criterion: Criterion | str,
    direction: Direction,
    failures: Failures = "worst",
) -> list[str]:
    """Config ids best first by ``criterion``; ties keep the order of ``values``.

    ``values`` maps each config id to its instance values (NaN for failed instances).
    This is the exhaustive ranking of a full table.
    """
    crit = as_criterion(criterion)
    check_direction(direction)
    check_failures(failures)
    keys = {
        cid: crit.key(np.sort(np.asarray(v, dtype=float)), direction, failures)
        for cid, v in values.items()
    }
    # sorted() is stable, so equal keys keep the given order.
    return sorted(keys, key=keys.__getitem__)


class ScoredStrategy(Strategy):
    """A strategy that scores configs by a criterion and keeps a set of survivors.

    Parameters
    ----------
    config_ids, n_instances, instance_order, budget:
        see :class:`~stalwart.selection.base.Strategy`.
    criterion:
        scores configs (a :class:`Criterion` or its name); lower key is better.
    direction:
        ``minimize`` (a loss) or ``maximize`` (an accuracy).
    failures:
        ``worst`` (a NaN instance makes the config the worst) or ``ignore`` (drop NaNs).
    """

    #: the extra keyword parameters a subclass accepts (checked by ``make_strategy``).
    params: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        config_ids: Sequence[str],
        *,
        n_instances: int,
        criterion: Criterion | str,
        direction: Direction,
        instance_order: Sequence[int] | None = None,
        budget: int | None = None,
        failures: Failures = "worst",
    ) -> None:
        super().__init__(
            config_ids, n_instances=n_instances, instance_order=instance_order, budget=budget
        )
        self.criterion = as_criterion(criterion)
        self.direction: Direction = check_direction(direction)
        self.failures: Failures = check_failures(failures)
        self._index = {cid: i for i, cid in enumerate(self.config_ids)}
        self._alive: list[str] = list(self.config_ids)
        #: the current step (0-based), stamped on every decision.
        self.step = 0

    # ---- survivors ---------------------------------------------------------------------
    @property
    def survivors(self) -> list[str]:
        return list(self._alive)

    def _remove(self, decisions: Iterable[Decision]) -> None:
        """Record removals and drop those configs from the survivors (one O(n) pass)."""
        gone = set()
        for d in decisions:
            self.decisions.append(d)
            gone.add(d.config_id)
        if gone:
            self._alive = [c for c in self._alive if c not in gone]

    # ---- scoring -----------------------------------------------------------------------
    def sample(self, config_id: str) -> np.ndarray:
        """The config's told values, sorted: a canonical order, so sums (and thus ties)
        never depend on the order in which results were told."""
        return np.sort(np.fromiter(self.values[config_id].values(), dtype=float))

    def key_of(self, config_id: str) -> tuple[float, float]:
        return self.criterion.key(self.sample(config_id), self.direction, self.failures)

    def value_of(self, config_id: str) -> float:
        return self.criterion.value(self.sample(config_id), self.direction, self.failures)

    def order_key(self, config_id: str) -> tuple[tuple[float, float], int]:
        """Criterion key, then position in ``config_ids``: a total order on configs."""
        return (self.key_of(config_id), self._index[config_id])

    def best(self, candidates: Sequence[str]) -> str:
        """The best of ``candidates`` by criterion (ties: earlier in ``config_ids``)."""
        return min(candidates, key=self.order_key)

    # ---- selection ---------------------------------------------------------------------
    def _select(self, reason: str) -> None:
        """Select the best survivor that has at least one value (else the first one)."""
        if self._done:
            return
        scored = [c for c in self._alive if self.values[c]]
        chosen = self.best(scored) if scored else self._alive[0]
        self.decisions.append(
            Decision(
                step=self.step,
                config_id=chosen,
                action="selected",
                reason=reason,
                value=self.value_of(chosen) if scored else None,
                n_instances=self.n_observed(chosen),
            )
        )
        self._selection = chosen
        self._done = True
