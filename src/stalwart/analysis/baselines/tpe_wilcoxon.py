"""The ``tpe_wilcoxon`` baseline: TPE with Optuna's ``WilcoxonPruner``.

The TPE loop of :mod:`~stalwart.analysis.baselines.tpe` with each instance as a pruner
step (``trial.report(value, step=instance_column)``, ``trial.should_prune()`` after each),
so bad models stop early; only the instances actually evaluated count. A model the
budget cuts short is not selectable. The pick is the best *fully evaluated* model.

The per-instance values are reported with the level orientation (``-value`` when
maximizing), so that the pruner's paired test and the study agree on what "better" is.
"""

from __future__ import annotations

from stalwart.analysis.baselines._shared import Evaluator
from stalwart.analysis.baselines.tpe import Pruning, run_tpe
from stalwart.analysis.outcome import ReplayOutcome


def tpe_wilcoxon_search(
    ev: Evaluator,
    *,
    seed: int,
    n_startup_trials: int = 10,
    max_trials: int | None = None,
    max_repeats: int = 3,
    p_threshold: float = 0.1,
    n_startup_steps: int = 2,
) -> ReplayOutcome:
    """TPE whose trials the Wilcoxon signed-rank test prunes instance by instance.

    Parameters
    ----------
    ev, seed, n_startup_trials, max_trials, max_repeats:
        as in :func:`~stalwart.analysis.baselines.tpe.tpe_search`.
    p_threshold:
        the pruner's p-value below which a trial is pruned.
    n_startup_steps:
        instances a trial gets before the pruner may stop it.

    Raises ``UserError`` for a budget below one training, or without optuna.
    """
    # A pruned model may stop after its first instance, so one training is enough.
    ev.check_budget("tpe_wilcoxon", 1)
    pruning = Pruning(
        build=lambda optuna: optuna.pruners.WilcoxonPruner(
            p_threshold=p_threshold, n_startup_steps=n_startup_steps
        ),
        reason="pruned by Wilcoxon test",
    )
    return run_tpe(
        ev,
        name="tpe_wilcoxon",
        seed=seed,
        n_startup_trials=n_startup_trials,
        max_trials=max_trials,
        max_repeats=max_repeats,
        pruning=pruning,
    )
