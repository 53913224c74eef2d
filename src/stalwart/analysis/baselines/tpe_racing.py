"""The ``tpe_racing`` baseline: TPE with stalwart's own racing test as an Optuna pruner.

The TPE loop of :mod:`~stalwart.analysis.baselines.tpe` with each instance as a pruner
step and :class:`stalwart.integrations.optuna.RacingPruner` deciding: a trial is pruned
once its instances are significantly worse (one-sided test at ``alpha``) than those of
the best finished trial. This is what an Optuna user gets from stalwart without leaving
Optuna, replayed beside Optuna's own ``WilcoxonPruner``.
"""

from __future__ import annotations

from stalwart.analysis.baselines._shared import Evaluator
from stalwart.analysis.baselines.tpe import Pruning, run_tpe
from stalwart.analysis.outcome import ReplayOutcome


def tpe_racing_search(
    ev: Evaluator,
    *,
    seed: int,
    n_startup_trials: int = 10,
    max_trials: int | None = None,
    max_repeats: int = 3,
    test: str = "welch",
    alpha: float = 0.05,
    start: int = 3,
    patience: int = 1,
) -> ReplayOutcome:
    """TPE whose trials stalwart's racing test prunes instance by instance.

    Parameters
    ----------
    ev, seed, n_startup_trials, max_trials, max_repeats:
        as in :func:`~stalwart.analysis.baselines.tpe.tpe_search`.
    test, alpha, start, patience:
        as in :class:`~stalwart.integrations.optuna.RacingPruner`.

    Raises ``UserError`` for a budget below one training, or without optuna.
    """
    ev.check_budget("tpe_racing", 1)

    def build(optuna):  # noqa: ANN001, ANN202 - the optuna module, imported lazily
        from stalwart.integrations.optuna import RacingPruner

        return RacingPruner(test=test, alpha=alpha, start=start, patience=patience)

    return run_tpe(
        ev,
        name="tpe_racing",
        seed=seed,
        n_startup_trials=n_startup_trials,
        max_trials=max_trials,
        max_repeats=max_repeats,
        pruning=Pruning(build=build, reason=f"pruned by racing test ({test}, p < {alpha:g})"),
    )
