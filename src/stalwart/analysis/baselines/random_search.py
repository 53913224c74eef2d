"""The ``random`` baseline: random search over whole models.

Configs are sampled uniformly without replacement, each evaluated on its first ``n``
instances of the instance order, while a whole model still fits in the budget
(``budget // n`` models); the pick is the best by criterion.
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
    for row in rng.permutation(ev.table.n_configs)[:n_models]:
        full[int(row)] = [ev.instance(int(row), p) for p in range(ev.n)]
    pick = ev.best(full)
    decisions = [
        evaluated(ev, i, r, v, "evaluated, not the best")
        for i, (r, v) in enumerate(full.items())
        if r != pick
    ]
    return ev.outcome("random", pick, decisions, len(full))
