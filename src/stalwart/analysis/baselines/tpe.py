"""The ``tpe`` baseline: Optuna's TPE sampler over the table's hyperparameter space.

One trial is one model evaluated on ``n`` instances; the sampler is
``optuna.samplers.TPESampler(seed=...)`` over the
:class:`~stalwart.analysis.baselines._shared.SearchSpace`, and the pick is the best fully
evaluated model by criterion.

A suggestion of an already evaluated model costs nothing: the sampler is told the known
value again. TPE repeats itself on small grids, so after ``max_repeats`` (default 3)
repeated suggestions in a row the next trial is an unseen model drawn uniformly at random
(``study.enqueue_trial``); at most ``max_trials`` (default ``10 * n_configs``) trials run,
and none starts once the trainings or the training-time budget is spent
(:meth:`~stalwart.analysis.baselines._shared.Evaluator.can_train`; a model the budget
cuts short is not selectable).

:func:`run_tpe` is the loop, also used with a pruner (instances as the pruner's steps) by
:mod:`~stalwart.analysis.baselines.tpe_wilcoxon`.

Objective orientation
---------------------
Studies *minimize* the criterion's primary key before rounding (``sign * value``, see
:mod:`stalwart.selection.criteria`), so spread criteria are minimized whatever the
metric's direction. With a pruner the per-instance values are reported with the level
orientation (``-value`` when maximizing), so that the pruner and the study agree on what
"better" is. A pruned trial is told the criterion of its partial sample (the workaround
Optuna's documentation recommends, so TPE learns from pruned models); a model with a
failed instance under ``failures="worst"`` is told FAIL and stops at once (it can no
longer win).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from stalwart.analysis.baselines._shared import Evaluator, SearchSpace, evaluated, import_optuna
from stalwart.analysis.outcome import ReplayOutcome
from stalwart.core import Decision
from stalwart.selection.criteria import orientation


@dataclass(frozen=True)
class Pruning:
    """Instances as the steps of an Optuna pruner.

    Attributes
    ----------
    build:
        makes the pruner from the optuna module (imported lazily, so it is passed in).
    reason:
        the trace's reason for a model the pruner stopped.
    """

    build: Callable[[Any], Any]
    reason: str


def tpe_search(
    ev: Evaluator,
    *,
    seed: int,
    n_startup_trials: int = 10,
    max_trials: int | None = None,
    max_repeats: int = 3,
) -> ReplayOutcome:
    """TPE over the table's space, one trial per whole model.

    Parameters
    ----------
    ev:
        the table, scoring and budget.
    seed:
        seeds the TPE sampler (and the draw of unseen models after repeats).
    n_startup_trials:
        the sampler's random trials before TPE proper.
    max_trials:
        the most trials (default ``10 * n_configs``).
    max_repeats:
        repeated suggestions in a row before an unseen model is enqueued.

    Raises ``UserError`` for a budget below one model, or without optuna.
    """
    ev.check_budget("tpe", ev.n)
    return run_tpe(
        ev,
        name="tpe",
        seed=seed,
        n_startup_trials=n_startup_trials,
        max_trials=max_trials,
        max_repeats=max_repeats,
    )


def run_tpe(
    ev: Evaluator,
    *,
    name: str,
    seed: int,
    n_startup_trials: int,
    max_trials: int | None,
    max_repeats: int,
    pruning: Pruning | None = None,
) -> ReplayOutcome:
    """The TPE loop; with ``pruning`` every instance is a step of its pruner.

    Parameters are those of :func:`tpe_search`; ``name`` is the baseline's name in the
    outcome. See the module docstring for the orientation and what each trial is told.
    """
    optuna = import_optuna()
    state = optuna.trial.TrialState
    space = SearchSpace(ev.table, ev.param_columns)
    stepwise = pruning is not None
    with warnings.catch_warnings():
        # Pruners such as WilcoxonPruner are marked experimental; their warning would go
        # to every replay.
        warnings.simplefilter("ignore")
        pruner = pruning.build(optuna) if pruning is not None else optuna.pruners.NopPruner()
        study = optuna.create_study(
            direction="minimize",
            sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials),
            pruner=pruner,
        )
        level = orientation(ev.direction)
        full: dict[int, list[float]] = {}
        # For repeated suggestions: what the sampler was told about each row.
        told: dict[int, tuple[Any, float | None, list[tuple[int, float]]]] = {}
        index: dict[int, int] = {}  # row -> position in the sequence of models tried
        decisions: list[Decision] = []
        cap = max_trials if max_trials is not None else 10 * ev.table.n_configs
        rng = np.random.default_rng(seed)
        repeats = 0
        for _ in range(cap):
            if len(told) == ev.table.n_configs:
                break
            # A pruned model may stop after one instance; a plain trial needs a whole one.
            if not ev.can_train(1 if stepwise else ev.n):
                break
            trial = study.ask()
            row = space.suggest(trial, told)
            if row in told:
                repeats += 1
                if repeats >= max_repeats:
                    repeats = 0
                    unseen = [r for r in range(ev.table.n_configs) if r not in told]
                    study.enqueue_trial(space.params_of(int(rng.choice(unseen))))
                st, value, reported = told[row]
                # Re-report the steps so that a repeat that becomes the best trial still
                # has the intermediate values the pruner pairs against.
                for step, v in reported:
                    trial.report(v, step)
                if st == state.COMPLETE:
                    study.tell(trial, value)
                else:
                    study.tell(trial, state=st)
                continue
            repeats = 0
            index[row] = len(index)
            values: list[float] = []
            reported: list[tuple[int, float]] = []
            outcome = state.COMPLETE
            reason = ""
            for p in range(ev.n):
                if not ev.can_train():
                    outcome, reason = state.PRUNED, "budget exhausted mid-model"
                    break
                v = ev.instance(row, p)
                values.append(v)
                if not math.isfinite(v):
                    if ev.failures == "worst" and stepwise:
                        outcome, reason = state.FAIL, "failed instance"
                        break
                    continue  # the pruner cannot pair NaN: skip its report
                if pruning is not None:
                    # step = the instance's column, so the pruner pairs the same instance
                    # of two models (every model of one replay shares the order anyway).
                    reported.append((ev.order[p], level * v))
                    trial.report(level * v, ev.order[p])
                    if trial.should_prune():
                        outcome, reason = state.PRUNED, pruning.reason
                        break
            value = ev.objective(values)
            if outcome == state.COMPLETE and len(values) == ev.n:
                full[row] = values
            if reason:
                decisions.append(evaluated(ev, index[row], row, values, reason))
            if outcome == state.FAIL or (outcome == state.COMPLETE and math.isnan(value)):
                told[row] = (state.FAIL, None, reported)
                study.tell(trial, state=state.FAIL)
            elif outcome == state.PRUNED and reason.startswith("budget"):
                told[row] = (state.PRUNED, None, reported)
                study.tell(trial, state=state.PRUNED)
            else:
                # Pruned trials are told their partial criterion as a COMPLETE value, as
                # Optuna's WilcoxonPruner documentation recommends.
                told[row] = (state.COMPLETE, value, reported)
                study.tell(trial, value)
    pick = ev.best(full)
    decisions += [
        evaluated(ev, index[r], r, v, "evaluated, not the best")
        for r, v in full.items()
        if r != pick
    ]
    return ev.outcome(name, pick, decisions, len(index))
