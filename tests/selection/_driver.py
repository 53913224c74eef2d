"""A fake trainer: drives a strategy over a table of per-instance values."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stalwart.selection import Strategy, Trial


def drive(
    strategy: Strategy,
    table: np.ndarray,
    config_ids: Sequence[str],
    rng: np.random.Generator | None = None,
) -> list[list[Trial]]:
    """Run ``strategy`` to the end; ``table[i, j]`` is config i's value on instance j.

    Each batch is told in the order asked, or shuffled with ``rng``. Between tells,
    ``ask`` must return nothing (the batch is still in flight). Returns the batches.
    """
    row = {cid: i for i, cid in enumerate(config_ids)}
    batches: list[list[Trial]] = []
    while True:
        batch = strategy.ask()
        if not batch:
            assert strategy.done, "strategy asked for nothing while nothing is in flight"
            return batches
        batches.append(batch)
        order = list(batch)
        if rng is not None:
            rng.shuffle(order)
        for trial in order:
            assert not strategy.ask(), "a second batch was asked while one is in flight"
            strategy.tell(trial, float(table[row[trial.config_id], trial.instance]))
