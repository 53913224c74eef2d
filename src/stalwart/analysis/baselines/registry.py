"""The baselines by name, and :func:`run_baseline` to replay one on a table.

A baseline is a function ``(evaluator, *, seed, **params) -> ReplayOutcome``; its own
parameters are its keyword-only arguments other than ``seed``, so the signature is the
one place they are declared. A new baseline is its own module plus one line in
:data:`BASELINES`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from stalwart.analysis.baselines._shared import Evaluator
from stalwart.analysis.baselines.random_search import random_search
from stalwart.analysis.baselines.tpe import tpe_search
from stalwart.analysis.baselines.tpe_racing import tpe_racing_search
from stalwart.analysis.baselines.tpe_wilcoxon import tpe_wilcoxon_search
from stalwart.analysis.outcome import ReplayOutcome
from stalwart.analysis.table import ResultTable
from stalwart.errors import UserError
from stalwart.selection.base import StrategySetup

Baseline = Callable[..., ReplayOutcome]

BASELINES: dict[str, Baseline] = {
    "random": random_search,
    "tpe": tpe_search,
    "tpe_wilcoxon": tpe_wilcoxon_search,
    "tpe_racing": tpe_racing_search,
}
"""The baselines ``stalwart replay`` and :func:`~stalwart.analysis.replay.replay` know."""


def baseline_params(name: str) -> tuple[str, ...]:
    """The parameters baseline ``name`` accepts (``--param key=value``), in order."""
    signature = inspect.signature(BASELINES[name])
    return tuple(
        p.name
        for p in signature.parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "seed"
    )


def run_baseline(
    table: ResultTable,
    name: str,
    setup: StrategySetup,
    *,
    seed: int = 0,
    budget_seconds: float | None = None,
    param_columns: Sequence[str] | None = None,
    **params: Any,
) -> ReplayOutcome:
    """Replay the baseline ``name`` (a key of :data:`BASELINES`) and return its record.

    Parameters
    ----------
    table:
        every instance of every config.
    name:
        the baseline.
    setup:
        what a strategy would be given (see :class:`~stalwart.selection.base.StrategySetup`):
        every model is evaluated on the first ``n_instances`` positions of the instance
        order, scored by the criterion; no budget means enough for every config
        (``n_configs * n_instances``).
    seed:
        seeds the sampling (random search) or the TPE sampler.
    budget_seconds:
        no training starts once the table times of those run reach this many seconds.
    param_columns:
        the hyperparameter columns the TPE baselines search (None: detected, see
        :class:`~stalwart.analysis.baselines._shared.SearchSpace`).
    **params:
        see :func:`baseline_params`.

    Raises ``UserError`` for an unknown baseline or parameter, a budget below one model,
    or no optuna.
    """
    if name not in BASELINES:
        raise UserError(f"unknown baseline {name!r}; valid: {', '.join(BASELINES)}")
    accepted = baseline_params(name)
    # Not checks.unknown_keys: this message quotes the first unknown name, as before.
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        valid = ", ".join(accepted) or "none"
        raise UserError(f"{name}: unknown parameter {unknown[0]!r}; accepted: {valid}")
    evaluator = Evaluator(
        table, setup, budget_seconds=budget_seconds, param_columns=param_columns
    )
    return BASELINES[name](evaluator, seed=seed, **params)
