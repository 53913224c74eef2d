"""Ranking configs by a criterion: the part every concrete strategy shares.

:class:`ScoredStrategy` adds to :class:`~stalwart.selection.base.Strategy` scoring by the
setup's criterion, direction and failure policy, the set of survivors, removal and
selection with their :class:`~stalwart.core.Decision` records. :func:`ranking` ranks a
full table.

With a criterion's ``near_optimal`` option, :meth:`ScoredStrategy.sample` is a config's
near-optimal sample (:func:`~stalwart.selection.criteria.near_optimal_mask` over its told
instances and the training losses heard through ``observe_train_loss``), so every
scored strategy ranks, eliminates and selects on it; :func:`ranking` applies the same
rule to a full table's training losses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

import numpy as np

from stalwart.core import Decision, Direction
from stalwart.selection.base import Strategy, StrategySetup
from stalwart.selection.criteria import (
    Criterion,
    Failures,
    as_criterion,
    check_direction,
    check_failures,
)


def ranking(
    values: Mapping[str, Sequence[float]],
    criterion: Criterion | str,
    direction: Direction,
    failures: Failures = "worst",
    train_losses: Mapping[str, Sequence[float]] | None = None,
) -> list[str]:
    """Config ids best first by ``criterion``; ties keep the order of ``values``.

    ``values`` maps each config id to its instance values (NaN for failed instances).
    This is the exhaustive ranking of a full table. ``train_losses`` maps each config id
    to its instances' training losses, aligned with ``values`` (NaN: unknown); it is
    needed, and only used, when the criterion has ``near_optimal``.

    Raises
    ------
    ValueError
        a ``near_optimal`` criterion without ``train_losses`` (or without a config's).
    """
    crit = as_criterion(criterion)
    check_direction(direction)
    check_failures(failures)
    if crit.near_optimal is not None and train_losses is None:
        raise ValueError(f"ranking by {crit.label} needs the instances' training losses")

    def scored(cid: str, v: Sequence[float]) -> np.ndarray:
        if crit.near_optimal is None:
            return np.asarray(v, dtype=float)
        assert train_losses is not None
        if cid not in train_losses:
            raise ValueError(f"ranking by {crit.label}: no training losses for {cid!r}")
        return crit.sample(v, train_losses[cid])

    keys = {
        cid: crit.key(np.sort(scored(cid, v)), direction, failures)
        for cid, v in values.items()
    }
    # sorted() is stable, so equal keys keep the given order.
    return sorted(keys, key=keys.__getitem__)


class ScoredStrategy(Strategy):
    """A strategy that scores configs by a criterion and keeps a set of survivors.

    Parameters
    ----------
    setup:
        see :class:`~stalwart.selection.base.StrategySetup`; its criterion scores configs
        (lower key is better) in its direction, under its failure policy.
    """

    #: the extra keyword parameters a subclass accepts (checked by ``make_strategy``).
    params: ClassVar[tuple[str, ...]] = ()

    def __init__(self, setup: StrategySetup) -> None:
        super().__init__(setup)
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
        never depend on the order in which results were told.

        With a ``near_optimal`` criterion, only the near-optimal ones among them (see
        :meth:`kept`).
        """
        told = self.values[config_id]
        if self.criterion.near_optimal is None:
            return np.sort(np.fromiter(told.values(), dtype=float))
        keep = self.kept(config_id)
        return np.sort(np.array([v for i, v in told.items() if keep[i]], dtype=float))

    def kept(self, config_id: str) -> dict[int, bool]:
        """Which told instances of the config its criterion scores, by instance index.

        All of them without ``near_optimal``; else the mask of
        :func:`~stalwart.selection.criteria.near_optimal_mask` over the told instances
        (an instance whose training loss was not heard counts as unknown, so kept). A
        function of the told values and their training losses only, whatever the order
        in which they were told.
        """
        told = self.values[config_id]
        near = self.criterion.near_optimal
        if near is None:
            return dict.fromkeys(told, True)
        index = sorted(told)
        heard = self.train_losses[config_id]
        losses = [heard.get(i, np.nan) for i in index]
        mask = near.mask(losses, [told[i] for i in index])
        return {i: bool(k) for i, k in zip(index, mask, strict=True)}

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
