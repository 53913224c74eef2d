"""The cost preview: ``planned_trainings`` before a strategy runs."""

from __future__ import annotations

import numpy as np
import pytest

from stalwart.selection import Exhaustive, Halving, Racing

from ._driver import drive
from ._setup import setup


def ids(n: int) -> list[str]:
    return [f"c{i:05d}" for i in range(n)]


def test_paper_figure_6912_models_warmup_5() -> None:
    s = Halving(setup(ids(6912), n_instances=50, criterion="mean", direction="minimize"),
                warmup=5)
    assert s.planned_trainings() == 41_472
    assert s.n_asked == 0  # a preview: nothing handed out


def test_exhaustive_is_every_config_on_every_instance_capped_by_budget() -> None:
    assert Exhaustive(setup(ids(7), n_instances=4, criterion="mean",
                            direction="minimize")).planned_trainings() == 28
    assert Exhaustive(setup(ids(7), n_instances=4, criterion="mean", direction="minimize",
                            budget=10)).planned_trainings() == 10


def test_halving_counts_train_winner_and_final_survivors() -> None:
    base = {"n_instances": 10, "criterion": "mean", "direction": "minimize"}
    # 8 -> 4 -> 2 -> 1 with 2, 3, 4 instances: 16 + 4 + 2.
    assert Halving(setup(ids(8), **base), warmup=2).planned_trainings() == 22
    # ... then the winner trains from 4 to 10 instances.
    assert Halving(setup(ids(8), **base), warmup=2, train_winner=True).planned_trainings() == 28
    # 16 configs: 16*2, -> 8 at 3 instances, -> 4 <= 4 survivors train from 3 to 10.
    assert Halving(setup(ids(16), **base), warmup=2,
                   final_survivors=4).planned_trainings() == 16 * 2 + 8 + 4 * 7
    # A warmup above n_instances is capped; then nothing is left to train.
    assert Halving(setup(ids(3), n_instances=2, criterion="mean", direction="minimize"),
                   warmup=5, train_winner=True).planned_trainings() == 6
    assert Halving(setup(ids(8), **base, budget=20), warmup=2).planned_trainings() == 20


def test_racing_does_not_know_in_advance() -> None:
    s = Racing(setup(ids(5), n_instances=10, criterion="mean", direction="minimize"))
    assert s.planned_trainings() is None


@pytest.mark.parametrize("seed", range(40))
def test_halving_plan_is_what_a_tie_free_run_costs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_configs, n_instances = int(rng.integers(1, 60)), int(rng.integers(1, 12))
    budget = None if seed % 3 else int(rng.integers(1, n_configs * n_instances + 1))
    cfg = ids(n_configs)
    s = Halving(
        setup(cfg, n_instances=n_instances, criterion="mean", direction="minimize",
              budget=budget),
        warmup=int(rng.integers(1, 7)),
        train_winner=bool(seed % 2),
        final_survivors=int(rng.integers(1, 9)),
    )
    planned = s.planned_trainings()
    # Each config's values lie in its own interval, so means never tie with the median.
    levels = 10.0 * rng.permutation(n_configs)[:, None]
    drive(s, levels + rng.random((n_configs, n_instances)), cfg)
    assert planned == s.n_asked
