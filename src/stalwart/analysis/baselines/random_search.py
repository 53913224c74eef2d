"""The ``random`` baseline: random search over whole models.

Configs are sampled uniformly without replacement, each evaluated on its first ``n``
instances of the instance order, while a whole model still fits in the budget
(``budget // n`` models) and, with a training-time budget, while that is not spent (a
model it cuts short is not selectable); the pick is the best by criterion.
"""

from __future__ import annotations

import numpy as np

from stalwart.analysis.baselines._shared import Evaluator, evaluated
from stalwart.analysis.outcome import ReplayOutcome


def random_search(ev: Evaluator, *, seed: int) -> ReplayOutcome:
    """Uniform sampling without replacement, ``budget // n`` whole models.

    Parameters
    ----------
    ev:
        the table, scoring and budget.
    seed:
        seeds ``numpy.random.default_rng``, which draws the models.

    Raises ``UserError`` for a budget below one model.
    """
    ev.check_budget("random", ev.n)
    rng = np.random.default_rng(seed)
    n_models = min(ev.table.n_configs, ev.budget // ev.n)
    full: dict[int, list[float]] = {}
    cut: tuple[int, list[float]] | None = None
    for row in rng.permutation(ev.table.n_configs)[:n_models]:
        if ev.time_spent:
            break
        values: list[float] = []
        for p in range(ev.n):
            if ev.time_spent:
                break
            values.append(ev.instance(int(row), p))
        if len(values) < ev.n:
            cut = (int(row), values)
            break
        full[int(row)] = values
    pick = ev.best(full)
    decisions = [
        evaluated(ev, i, r, v, "evaluated, not the best")
        for i, (r, v) in enumerate(full.items())
        if r != pick
    ]
    if cut is not None:
        decisions.append(
            evaluated(ev, len(full), cut[0], cut[1], "training-time budget spent mid-model")
        )
    return ev.outcome("random", pick, decisions, len(full) + (cut is not None))
