"""Stalwart's racing test as an Optuna pruner: robust selection without leaving Optuna.

In an ordinary Optuna study, a trial is one config and each *step* is one instance of it:
the objective trains instance ``i`` and calls ``trial.report(value, step=i)`` then
``trial.should_prune()``. :class:`RacingPruner` compares the trial's instances so far with
those of the best finished trial (by the mean of its reported instances) using the same
one-sided tests as the ``racing`` strategy (:mod:`stalwart.selection.significance`), and
prunes the trial once it is significantly worse ``patience`` times in a row. The objective
returns the trial's criterion over all its instances (their mean, say), so the study's best
trial is the robust pick.

Example::

    import optuna
    from stalwart.integrations.optuna import RacingPruner

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        values = []
        for i in range(10):
            values.append(train_once(lr, seed=i))
            trial.report(values[-1], step=i)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return sum(values) / len(values)

    study = optuna.create_study(direction="maximize", pruner=RacingPruner(test="welch"))
    study.optimize(objective, n_trials=50)

Needs the ``optuna`` extra (``pip install 'stalwart[optuna]'``).
"""

from __future__ import annotations

import math

import numpy as np
import optuna
from optuna.pruners import BasePruner
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from stalwart.checks import choice, first, integer, number
from stalwart.selection.significance import TESTS, compare

__all__ = ["RacingPruner"]


class RacingPruner(BasePruner):
    """Prune a trial whose instances are significantly worse than the best trial's.

    Parameters
    ----------
    test:
        ``welch``, ``ks``, ``mannwhitney`` (location, one-sided) or ``bartlett``,
        ``levene``, ``fligner`` (spread: worse when significantly more variable), as in the
        ``racing`` strategy.
    alpha:
        the significance level of each test, in (0, 1). The test runs at every step of
        every trial without correction for multiplicity, as the racing strategy does: a
        smaller alpha (or ``patience`` > 1) makes early false prunes of a good trial rarer.
    start:
        instances a trial must have reported before it can be pruned; at least 2.
    patience:
        consecutive significant tests before a prune; at least 1.
    failures:
        ``worst`` (a trial that reports a NaN or infinite instance is pruned at once, as
        the racing strategy removes a config with a failed instance) or ``ignore`` (such
        values are left out of the test).
    """

    def __init__(self, test: str = "welch", alpha: float = 0.05, start: int = 3,
                 patience: int = 1, failures: str = "worst") -> None:
        first(choice("test", test, TESTS, what="test")
              + number("alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True)
              + integer("start", start, low=2) + integer("patience", patience, low=1)
              + choice("failures", failures, ("worst", "ignore"), what="policy"))
        self.test = test
        self.alpha = float(alpha)
        self.start = start
        self.patience = patience
        self.failures = failures
        self._streak: dict[tuple[int, int], int] = {}

    def prune(self, study: optuna.study.Study, trial: FrozenTrial) -> bool:
        raw = np.array([v for _, v in sorted(trial.intermediate_values.items())], dtype=float)
        if self.failures == "worst" and raw.size and not np.all(np.isfinite(raw)):
            return True
        values = raw[np.isfinite(raw)]
        if values.size < self.start:
            return False
        direction = "maximize" if study.direction == StudyDirection.MAXIMIZE else "minimize"
        best = self._best_values(study, trial, direction)
        if best is None:
            return False
        key = (study._study_id, trial.number)
        worse = compare(self.test, values, best, direction, self.alpha).worse
        self._streak[key] = self._streak.get(key, 0) + 1 if worse else 0
        return self._streak[key] >= self.patience

    def _best_values(self, study: optuna.study.Study, trial: FrozenTrial,
                     direction: str) -> np.ndarray | None:
        """The finite instances of the finished trial with the best mean instance."""
        sign = -1.0 if direction == "maximize" else 1.0
        best, best_key = None, math.inf
        for other in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if other.number == trial.number:
                continue
            v = np.array(list(other.intermediate_values.values()), dtype=float)
            v = v[np.isfinite(v)]
            if v.size < 2:
                continue
            k = sign * float(v.mean())
            if k < best_key:
                best, best_key = v, k
        return best
