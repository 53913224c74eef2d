"""Racing: drop a config as soon as a statistical test says it is worse than the best.

The authors' later variant of successive halving. Step ``s`` (0-based) gives every
survivor its ``s``-th instance, ``instance_order[s]`` (the caller passes a random
permutation, so that no instance index is privileged). Once the survivors have
``start`` instances, after every step:

1. the current best is the survivor with the best mean (the ``mean`` criterion's key:
   lowest mean when minimizing, highest when maximizing; ties by ``config_ids`` order);
2. every other survivor is tested against it (see :mod:`~stalwart.selection.significance`);
3. a survivor found significantly worse in ``patience`` consecutive tests is removed,
   with the test statistic and p-value on its decision (its ``value`` is its criterion
   value, its ``threshold`` the best's criterion value); a survivor not found worse
   starts its count again.

Under ``failures="worst"`` a survivor with a failed (non-finite) instance is removed at
the next test step without a test, unless the best has failed too (then every survivor
has, and the tests run on the finite values). Under ``failures="ignore"`` the tests see
only the finite values.

The race stops at one survivor, when the survivors have ``n_instances`` instances (then
the best survivor by the strategy's criterion is selected, which need not be the best
by mean), or when the budget is spent (the best survivor with a value is selected).
"""

from __future__ import annotations

import numpy as np

from stalwart.checks import choice, first, integer, number
from stalwart.core import Decision, Trial
from stalwart.selection.base import StrategySetup
from stalwart.selection.criteria import get_criterion
from stalwart.selection.significance import TESTS, compare
from stalwart.selection.step import StepStrategy

_MEAN = get_criterion("mean")


class Racing(StepStrategy):
    """Racing with a statistical test against the current best (see module docstring).

    Parameters
    ----------
    setup:
        see :class:`~stalwart.selection.base.StrategySetup`.
    test:
        ``welch``, ``ks``, ``mannwhitney`` (location, one-sided) or ``bartlett``,
        ``levene``, ``fligner`` (spread, two-sided plus "variance exceeds the best's").
    alpha:
        significance level, in (0, 1).
    start:
        instances per survivor before the first test; at least 2.
    patience:
        consecutive significant tests before a removal; at least 1.
    """

    name = "racing"
    params = ("test", "alpha", "start", "patience")

    def __init__(
        self,
        setup: StrategySetup,
        *,
        test: str = "welch",
        alpha: float = 0.05,
        start: int = 3,
        patience: int = 1,
    ) -> None:
        super().__init__(setup)
        first([
            *choice("racing.test", test, TESTS, what="test"),
            *number("racing.alpha", alpha, low=0, high=1, low_open=True, high_open=True),
            *integer("racing.start", start, low=2),
            *integer("racing.patience", patience, low=1),
        ])
        self.test = test
        self.alpha = float(alpha)
        self.start = start
        self.patience = patience
        self._streak = dict.fromkeys(self.config_ids, 0)

    def planned_trainings(self) -> None:
        """Unknown: ``None``.

        Racing's cost depends on when the tests find configs worse, which only the
        results tell. The only bound known in advance is the exhaustive cost
        (``n_configs * n_instances``, capped by the budget), which callers already have;
        returning it here would read as a forecast.
        """
        return None

    def _step_trials(self) -> list[Trial]:
        position = self.step  # every survivor has exactly `step` values between steps
        return [Trial(cid, self.instance_at(position)) for cid in self._alive]

    def _end_step(self) -> None:
        """Test once the survivors have ``start`` instances, then stop or go on."""
        n = self.step + 1
        if n >= self.start:
            self._race()
        if len(self._alive) == 1:
            self._select("last survivor")
        elif n >= self.n_instances:
            self._select("n_instances reached")
        else:
            self._next_step()

    def _finite(self, cid: str) -> np.ndarray:
        x = self.sample(cid)
        return x[np.isfinite(x)]

    def _failed(self, cid: str) -> bool:
        return self.failures == "worst" and len(self._finite(cid)) < self.n_observed(cid)

    def _race(self) -> None:
        """Test every survivor against the best by mean; remove the persistent losers."""
        best = min(
            self._alive,
            key=lambda c: (
                _MEAN.key(self.sample(c), self.direction, self.failures),
                self._index[c],
            ),
        )
        best_x = self._finite(best)
        best_failed = self._failed(best)
        best_value = self.value_of(best)
        self._streak[best] = 0
        removals: list[Decision] = []
        for cid in self._alive:
            if cid == best:
                continue
            if not best_failed and self._failed(cid):
                removals.append(self._removal(cid, "failed instance", best_value))
                continue
            result = compare(self.test, self._finite(cid), best_x, self.direction, self.alpha)
            self._streak[cid] = self._streak[cid] + 1 if result.worse else 0
            if self._streak[cid] >= self.patience:
                reason = f"worse than {best} ({self.test}, p < {self.alpha:g})"
                removals.append(
                    self._removal(cid, reason, best_value, result.statistic, result.p_value)
                )
        self._remove(removals)

    def _removal(
        self,
        cid: str,
        reason: str,
        best_value: float,
        statistic: float | None = None,
        p_value: float | None = None,
    ) -> Decision:
        return Decision(
            step=self.step,
            config_id=cid,
            action="removed",
            reason=reason,
            value=self.value_of(cid),
            threshold=best_value,
            statistic=statistic,
            p_value=p_value,
            n_instances=self.n_observed(cid),
        )
