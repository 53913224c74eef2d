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
warmup of 5 cost ``6912*5 + 3456 + 1728 + ... + 4 + 2 = 41,472`` trainings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from stalwart.core import Decision, Direction, Trial
from stalwart.selection.criteria import Criterion, Failures
from stalwart.selection.scored import ScoredStrategy


class Halving(ScoredStrategy):
    """Successive halving at the median (see the module docstring).

    Parameters
    ----------
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
        config_ids: Sequence[str],
        *,
        n_instances: int,
        criterion: Criterion | str,
        direction: Direction,
        instance_order: Sequence[int] | None = None,
        budget: int | None = None,
        failures: Failures = "worst",
        warmup: int = 5,
        train_winner: bool = False,
        final_survivors: int = 1,
    ) -> None:
        super().__init__(
            config_ids,
            n_instances=n_instances,
            criterion=criterion,
            direction=direction,
            instance_order=instance_order,
            budget=budget,
            failures=failures,
        )
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 1:
            raise ValueError(f"halving: warmup must be an integer >= 1, got {warmup!r}")
        if not isinstance(train_winner, bool):
            raise ValueError(f"halving: train_winner must be a bool, got {train_winner!r}")
        if isinstance(final_survivors, bool) or not isinstance(final_survivors, int) \
                or final_survivors < 1:
            raise ValueError(
                f"halving: final_survivors must be an integer >= 1, got {final_survivors!r}")
        self.final_survivors = final_survivors
        self.warmup = min(warmup, n_instances)
        self.train_winner = train_winner
        # Instances every survivor should have once the current batch is told.
        self._target = self.warmup
        self._batch_open = False
        self._batch_short = False  # the budget cut the current batch
        self._final_round = False  # the last batch trains the survivors to n_instances

    def ask(self) -> list[Trial]:
        if self._done or self._batch_open:
            return []
        # No batch is in flight, so every survivor's told values are all it was given.
        wanted = [
            Trial(cid, self.instance_at(pos))
            for cid in self._alive
            for pos in range(self.n_observed(cid), self._target)
        ]
        out = self._hand_out(wanted)
        if not out:
            # Only an exhausted budget leaves a step with nothing to hand out.
            self._select("budget exhausted")
            return []
        self._batch_open = True
        self._batch_short = len(out) < len(wanted)
        return out

    def tell(self, trial: Trial, value: float) -> None:
        self._record(trial, value)
        if self._done or self._pending:
            return
        self._batch_open = False
        self._end_step()

    def _end_step(self) -> None:
        """The batch is complete: eliminate, then stop or open the next step."""
        if self._batch_short:
            self._select("budget exhausted")
            return
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
        elif self.budget_left <= 0:
            self._select("budget exhausted")
        else:
            self.step += 1
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
