"""Racing: drop a config as soon as a statistical test says it is worse than the best.

The authors' later variant of successive halving. Step ``s`` (0-based) gives every
survivor its ``s``-th instance, ``instance_order[s]`` (the caller passes a random
permutation, so that no instance index is privileged). Once the survivors have
``start`` instances, after every step:

1. the current best is the survivor with the best mean (the ``mean`` criterion's key:
   lowest mean when minimizing, highest when maximizing; ties by ``config_ids`` order);
2. every other survivor is tested against it (see :mod:`~stalwart.selection.significance`):
   one-sided by default (``sided="one"``: "is it worse?"), or two-sided as the
   robust-selection authors' racing (``sided="two"``: "does it differ?", and the survivor
   counts as worse when the two-sided test rejects at ``alpha`` *and* its mean is worse
   than the best's);
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

The authors' racing exactly: ``test`` welch, ks or mannwhitney, ``sided="two"``, their
``alpha`` and ``start``, ``patience=1``. The two modes differ: two-sided Welch at
``alpha`` drops what one-sided Welch drops at ``alpha / 2``; for KS and Mann-Whitney on
few instances the discrete p-values make the difference larger. The selection benchmark
(``benchmarks/selection.py``) runs the one-sided default and a two-sided Welch row.

All survivors are tested against the best in one vectorised call per step
(:func:`~stalwart.selection.significance.compare_many`), with the same decisions as one
test per pair; the step's values are kept in an array as they are told.
"""

from __future__ import annotations

import numpy as np

from stalwart.checks import choice, first, integer, number
from stalwart.core import Decision, Trial
from stalwart.selection.base import StrategySetup
from stalwart.selection.criteria import get_criterion, round_significant
from stalwart.selection.significance import SIDES, TESTS, compare_many
from stalwart.selection.step import StepStrategy

_MEAN = get_criterion("mean")


class Racing(StepStrategy):
    """Racing with a statistical test against the current best (see module docstring).

    Parameters
    ----------
    setup:
        see :class:`~stalwart.selection.base.StrategySetup`.
    test:
        ``welch``, ``ks``, ``mannwhitney`` (location) or ``bartlett``, ``levene``,
        ``fligner`` (spread, two-sided plus "variance exceeds the best's").
    alpha:
        significance level, in (0, 1).
    start:
        instances per survivor before the first test; at least 2.
    patience:
        consecutive significant tests before a removal; at least 1.
    sided:
        ``one`` (default): a location test of "worse than the best" only; ``two``: a
        two-sided location test, the model dropped when it rejects at ``alpha`` and the
        model's mean is worse than the best's (the authors' racing). No effect on the
        spread tests, which are two-sided in either mode.
    """

    name = "racing"
    params = ("test", "alpha", "start", "patience", "sided")

    def __init__(
        self,
        setup: StrategySetup,
        *,
        test: str = "welch",
        alpha: float = 0.05,
        start: int = 3,
        patience: int = 1,
        sided: str = "one",
    ) -> None:
        super().__init__(setup)
        first([
            *choice("racing.test", test, TESTS, what="test"),
            *number("racing.alpha", alpha, low=0, high=1, low_open=True, high_open=True),
            *integer("racing.start", start, low=2),
            *integer("racing.patience", patience, low=1),
            *choice("racing.sided", sided, SIDES, what="sided"),
        ])
        self.test = test
        self.alpha = float(alpha)
        self.start = start
        self.patience = patience
        self.sided = sided
        self._streak = dict.fromkeys(self.config_ids, 0)
        # Told values by (config row, position in the instance order): a step's test
        # reads one block of this array instead of one dict per survivor.
        self._matrix = np.full((len(self.config_ids), self.n_instances), np.nan)
        self._position = {inst: j for j, inst in enumerate(self.instance_order)}

    def planned_trainings(self) -> None:
        """Unknown: ``None``.

        Racing's cost depends on when the tests find configs worse, which only the
        results tell. The only bound known in advance is the exhaustive cost
        (``n_configs * n_instances``, capped by the budget), which callers already have;
        returning it here would read as a forecast.
        """
        return None

    def tell(self, trial: Trial, value: float) -> None:
        if trial in self._pending:  # only asked trials; the base class refuses the rest
            row = self._index[trial.config_id]
            self._matrix[row, self._position[trial.instance]] = float(value)
        super().tell(trial, value)

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

    def _block(self) -> tuple[np.ndarray, np.ndarray]:
        """The survivors' rows of the told values (every survivor has ``step + 1``),
        each sorted (the canonical order of :meth:`sample`), and their finite mask."""
        rows = np.fromiter((self._index[c] for c in self._alive), dtype=int)
        x = np.sort(self._matrix[rows, : self.step + 1], axis=1)
        return x, np.isfinite(x)

    def _near_optimal_block(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """With a ``near_optimal`` criterion: each survivor's near-optimal sample
        (:meth:`sample`, sorted; rows of different lengths) and its finite mask."""
        x = [self.sample(c) for c in self._alive]
        return x, [np.isfinite(r) for r in x]

    def _mean_keys(
        self, x: np.ndarray, finite: np.ndarray
    ) -> tuple[list[tuple[float, float]], np.ndarray]:
        """The ``mean`` criterion's key of every survivor (as ``_MEAN.key`` gives it), and
        the means of the rows without a failed instance (NaN for the others)."""
        sign = 1.0 if self.direction == "minimize" else -1.0
        clean = finite.all(axis=1)
        means = np.where(clean, np.mean(x, axis=1), np.nan)
        level = sign * means
        keys: list[tuple[float, float]] = []
        for i, ok in enumerate(clean):
            if ok:
                v = float(level[i])
                keys.append((round_significant(v), v))
            else:
                keys.append(_MEAN.key(x[i], self.direction, self.failures))
        return keys, means

    def _race(self) -> None:
        """Test every survivor against the best by mean; remove the persistent losers."""
        alive = self._alive
        near = self.criterion.near_optimal is not None
        if near:
            # The tests see what the criterion scores: the near-optimal samples.
            rows, masks = self._near_optimal_block()
            keys = [_MEAN.key(r, self.direction, self.failures) for r in rows]
            means = np.array([float(np.mean(r)) if m.all() else np.nan
                              for r, m in zip(rows, masks, strict=True)])
            complete = np.array([bool(m.all()) for m in masks])
        else:
            x, finite = self._block()
            keys, means = self._mean_keys(x, finite)
            rows = list(x)
            masks = list(finite)
            complete = finite.all(axis=1)
        mean_criterion = self.criterion.name == "mean" and not near

        def value(i: int) -> float:
            # The criterion value of survivor i: the row mean computed above when the
            # criterion is the mean and the row is complete (the same number), else
            # the criterion's own.
            if mean_criterion and not np.isnan(means[i]):
                return float(means[i])
            return self.value_of(alive[i])

        b = min(range(len(alive)), key=lambda i: (keys[i], self._index[alive[i]]))
        best = alive[b]
        failed = ~complete if self.failures == "worst" else np.zeros(len(alive), bool)
        best_x = rows[b][masks[b]]
        best_failed = bool(failed[b])
        best_value = value(b)
        self._streak[best] = 0
        removals: list[Decision] = []
        tested = [i for i in range(len(alive)) if i != b and (best_failed or not failed[i])]
        if not best_failed:
            for i in range(len(alive)):
                if i != b and failed[i]:
                    removals.append(
                        self._removal(alive[i], "failed instance", best_value, value(i))
                    )
        if not near and (bool(complete[tested].all()) if tested else True):
            samples: np.ndarray | list[np.ndarray] = x[tested]
        else:
            samples = [rows[i][masks[i]] for i in tested]
        result = compare_many(
            self.test, samples, best_x, self.direction, self.alpha, self.sided
        )
        sided = "" if self.sided == "one" else ", two-sided"
        for j, i in enumerate(tested):
            cid = alive[i]
            self._streak[cid] = self._streak[cid] + 1 if result.worse[j] else 0
            if self._streak[cid] >= self.patience:
                reason = f"worse than {best} ({self.test}{sided}, p < {self.alpha:g})"
                removals.append(
                    self._removal(
                        cid, reason, best_value, value(i),
                        float(result.statistic[j]), float(result.p_value[j]),
                    )
                )
        # Decisions in the survivors' order, as the per-pair loop recorded them.
        order = {c: k for k, c in enumerate(alive)}
        removals.sort(key=lambda d: order[d.config_id])
        self._remove(removals)

    def _removal(
        self,
        cid: str,
        reason: str,
        best_value: float,
        value: float,
        statistic: float | None = None,
        p_value: float | None = None,
    ) -> Decision:
        return Decision(
            step=self.step,
            config_id=cid,
            action="removed",
            reason=reason,
            value=value,
            threshold=best_value,
            statistic=statistic,
            p_value=p_value,
            n_instances=self.n_observed(cid),
        )
