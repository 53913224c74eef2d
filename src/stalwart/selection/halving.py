"""Successive halving at the median: Algorithm 1 of Boldyrev, Shevelev & Ratnikov (2025).

Every config first gets ``warmup`` instances. Then, step by step, the configs whose
criterion is worse than the survivors' median are removed and every survivor gets one
more instance, until one config is left, the survivors have ``n_instances`` instances,
or the budget is spent.

The median rule
---------------
Survivors are sorted by criterion key (lower is better; ties by position in
``config_ids``). With ``n`` survivors, every config whose key is *strictly greater* than
the key at sorted index ``ceil(n/2) - 1`` (the lower median) is removed; the others stay.
For scalar keys this is exactly "remove when value > median(values)", with the usual
average of the two middle values for even ``n``: anything strictly above the lower
median is also above the average of the two middle values when those differ, and when
they are equal the two medians coincide. Ties with the median survive, and the best
config always survives. Each removal records as its threshold the median of the
survivors' criterion values (``numpy.median`` of the primary keys, mapped back to the
units of ``Decision.value``: for a level criterion that is maximized the primary key is
the negated value).

With distinct keys the survivors go from ``n`` to ``ceil(n/2)``: 6,912 configs with a
warmup of 5 cost ``6912*5 + 3456 + 1728 + ... + 4 + 2 = 41,472`` trainings
(:meth:`Halving.planned_trainings` computes this count).
"""

from __future__ import annotations

import math

import numpy as np

from stalwart.checks import boolean, first, integer
from stalwart.core import Decision, Trial
from stalwart.selection.base import StrategySetup
from stalwart.selection.step import StepStrategy


class Halving(StepStrategy):
    """Successive halving at the median (see the module docstring).

    Parameters
    ----------
    setup:
        see :class:`~stalwart.selection.base.StrategySetup`.
    warmup:
        instances every config gets before the first elimination (capped at
        ``n_instances``); at least 1.
    train_winner:
        when a single config is left before it has ``n_instances`` instances, train it up
        to ``n_instances`` (one more batch) before selecting it, so its reported
        statistics rest on the full sample.
    final_survivors:
        stop halving once at most this many configs survive and train them all up to
        ``n_instances``; the best of them on the full sample wins. The default 1 is the
        paper's Algorithm 1. Halving decides its last steps between near-equal configs on
        a handful of instances; a final round of ``m`` survivors with ``k`` instances costs
        ``m * (n_instances - k)`` more trainings and makes the pick much steadier (8 is a
        good value: see ``benchmarks/README.md``).
    """

    name = "halving"
    params = ("warmup", "train_winner", "final_survivors")

    def __init__(
        self,
        setup: StrategySetup,
        *,
        warmup: int = 5,
        train_winner: bool = False,
        final_survivors: int = 1,
    ) -> None:
        super().__init__(setup)
        first([
            *integer("halving.warmup", warmup, low=1),
            *boolean("halving.train_winner", train_winner),
            *integer("halving.final_survivors", final_survivors, low=1),
        ])
        self.final_survivors = final_survivors
        self.warmup = min(warmup, self.n_instances)
        self.train_winner = train_winner
        # Instances every survivor should have once the current step is told.
        self._target = self.warmup
        self._final_round = False  # the last step trains the survivors to n_instances

    def planned_trainings(self) -> int:
        """The trainings halving hands out when no ties occur, capped by the budget.

        Without ties every elimination keeps exactly ``ceil(n/2)`` of ``n`` survivors, so
        the run is known in advance: this replays :meth:`_end_step` on survivor counts.
        Ties with the median keep more configs, so a real run may cost more (never more
        than the budget, nor ``n_configs * n_instances``).
        """
        n = self.n_instances
        survivors, target = len(self.config_ids), self.warmup
        total = survivors * target
        while True:
            survivors = math.ceil(survivors / 2)
            if survivors == 1:
                if self.train_winner:
                    total += n - target
                break
            if survivors <= self.final_survivors and target < n:
                total += survivors * (n - target)
                break
            if target >= n:
                break
            target += 1
            total += survivors
        return total if self.budget is None else min(total, self.budget)

    def _step_trials(self) -> list[Trial]:
        # No step is in flight, so every survivor's told values are all it was given.
        return [
            Trial(cid, self.instance_at(pos))
            for cid in self._alive
            for pos in range(self.n_observed(cid), self._target)
        ]

    def _end_step(self) -> None:
        """The step is complete: eliminate, then stop or open the next step."""
        if self._final_round:
            self._select("last survivor, trained to n_instances" if len(self._alive) == 1
                         else "best of the final survivors on n_instances")
            return
        self._eliminate()
        if len(self._alive) == 1:
            winner = self._alive[0]
            if self.train_winner and self.n_observed(winner) < self.n_instances:
                self._start_final_round()
                return
            self._select("last survivor")
        elif len(self._alive) <= self.final_survivors and self._target < self.n_instances:
            self._start_final_round()
        elif self._target >= self.n_instances:
            self._select("n_instances reached")
        elif self._next_step():
            self._target += 1

    def _start_final_round(self) -> None:
        self._final_round = True
        self._target = self.n_instances
        self.step += 1

    def _eliminate(self) -> None:
        keys = {cid: self.key_of(cid) for cid in self._alive}
        ranked = sorted(self._alive, key=lambda c: (keys[c], self._index[c]))
        cut = keys[ranked[math.ceil(len(ranked) / 2) - 1]]
        median = self.criterion.sign(self.direction) * float(
            np.median([k[0] for k in keys.values()])
        )
        self._remove(
            Decision(
                step=self.step,
                config_id=cid,
                action="removed",
                reason="worse than median",
                value=self.value_of(cid),
                threshold=median,
                n_instances=self.n_observed(cid),
            )
            for cid in self._alive
            if keys[cid] > cut
        )
