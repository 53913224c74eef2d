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
from stalwart.analysis.baselines.tpe_wilcoxon import tpe_wilcoxon_search
from stalwart.analysis.outcome import ReplayOutcome
from stalwart.analysis.table import ResultTable
from stalwart.core import Direction
from stalwart.errors import UserError
from stalwart.selection.criteria import Criterion, get_criterion

Baseline = Callable[..., ReplayOutcome]

BASELINES: dict[str, Baseline] = {
    "random": random_search,
    "tpe": tpe_search,
    "tpe_wilcoxon": tpe_wilcoxon_search,
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
    *,
    criterion: Criterion | str,
    direction: Direction,
    order: Sequence[int],
    budget: int | None,
    n_instances: int,
    failures: str = "worst",
    seed: int = 0,
    **params: Any,
) -> ReplayOutcome:
    """Replay the baseline ``name`` (a key of :data:`BASELINES`).

    Parameters
    ----------
    table:
        every instance of every config.
    name:
        the baseline.
    criterion, direction, failures:
        how models are scored (see :mod:`stalwart.selection.criteria`).
    order:
        the instance order (a permutation of the table's instance positions); every
        model is evaluated on its first ``n_instances`` positions.
    budget:
        the most trainings (instances); None: enough for every config
        (``n_configs * n_instances``).
    n_instances:
        instances per model.
    seed:
        seeds the sampling (random search) or the TPE sampler.
    **params:
        see :func:`baseline_params`.

    Returns
    -------
    ReplayOutcome

    Raises
    ------
    UserError
        an unknown baseline or parameter, a budget below one model, or no optuna.
    """
    if name not in BASELINES:
        raise UserError(f"unknown baseline {name!r}; valid: {', '.join(BASELINES)}")
    accepted = baseline_params(name)
    # Not checks.unknown_keys: this message quotes the first unknown name, as before.
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        valid = ", ".join(accepted) or "none"
        raise UserError(f"{name}: unknown parameter {unknown[0]!r}; accepted: {valid}")
    crit = get_criterion(criterion) if isinstance(criterion, str) else criterion
    total = table.n_configs * n_instances
    ev = Evaluator(
        table=table,
        criterion=crit,
        direction=direction,
        failures=failures,
        order=list(order),
        n=n_instances,
        budget=total if budget is None else int(budget),
    )
    return BASELINES[name](ev, seed=seed, **params)
