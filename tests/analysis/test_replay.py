"""Replaying strategies on a table: costs, picks and the reference metrics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from stalwart.analysis.outcome import Reference, standard_error
from stalwart.analysis.replay import random_orders, replay, replay_many
from stalwart.analysis.table import ResultTable, read_table
from stalwart.errors import UserError
from stalwart.selection import get_criterion, ranking

CCT = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "cct_cifar10_instances.csv"
MEAN = get_criterion("mean")


def toy_table(n_configs: int = 8, n_instances: int = 6, seed: int = 1) -> ResultTable:
    """Config c has mean 0.5 + 0.01 c and noise 0.004: the last config is the best."""
    rng = np.random.default_rng(seed)
    means = 0.5 + 0.01 * np.arange(n_configs)
    values = means[:, None] + 0.004 * rng.standard_normal((n_configs, n_instances))
    times = np.full((n_configs, n_instances), 10.0)
    return ResultTable(
        config_ids=[f"c{i}" for i in range(n_configs)],
        params=[{"a": i % 2, "b": i // 2} for i in range(n_configs)],
        values=values,
        times=times,
        metric="acc",
    )


@pytest.mark.parametrize("criterion", ["mean", "std", "pd", "worst", "median"])
@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_exhaustive_reproduces_the_tables_ranking(criterion: str, direction: str) -> None:
    table = toy_table()
    crit = get_criterion(criterion)
    expected = ranking(table.values_by_id(), crit, direction)[0]
    for order in random_orders(table.n_instances, 3, seed=5):
        out = replay(table, "exhaustive", criterion=crit, direction=direction, order=order)
        assert out.selection == expected
        assert out.trainings == table.n_configs * table.n_instances
        assert out.time == pytest.approx(10.0 * out.trainings)


def test_exhaustive_on_the_authors_table() -> None:
    table = read_table(CCT, filter={"dt_len": "20000"})
    summary = replay_many(
        table, "exhaustive", criterion=MEAN, direction="maximize", repeats=2, seed=0
    )
    assert summary.best == ranking(table.values_by_id(), MEAN, "maximize")[0]
    assert summary.p_best == summary.p_near_best == summary.p_top_k == 1.0
    assert summary.trainings_fraction == 1.0
    assert summary.time_fraction == pytest.approx(1.0)
    assert summary.regret_median == summary.regret_p90 == 0.0


def test_halving_costs_and_trace() -> None:
    table = toy_table(n_configs=8, n_instances=6)
    out = replay(table, "halving", criterion=MEAN, direction="maximize", warmup=2)
    # 8*2 warm-up, then 4 survivors + 2 + 1 ... each one more instance
    removed = [d for d in out.decisions if d.action == "removed"]
    assert out.trainings < table.n_configs * table.n_instances
    assert len(removed) == table.n_configs - 1
    assert out.decisions[-1].action == "selected" and out.decisions[-1].config_id == out.selection
    assert out.time == pytest.approx(10.0 * out.trainings)


def test_budget_is_respected() -> None:
    table = toy_table()
    out = replay(table, "exhaustive", criterion=MEAN, direction="maximize", budget=20)
    assert out.trainings == 20 and out.selection is not None


def test_replay_many_is_deterministic_and_paired() -> None:
    table = toy_table()
    kw = dict(criterion=MEAN, direction="maximize", repeats=6, seed=3, warmup=2)
    a = replay_many(table, "halving", **kw)
    b = replay_many(table, "halving", **kw)
    assert a.to_dict() == b.to_dict()
    assert [o.order for o in a.outcomes] == random_orders(table.n_instances, 6, 3)
    assert 0 < a.trainings_fraction < 1 and a.time_fraction == pytest.approx(a.trainings_fraction)
    assert sum(a.picks.values()) == 6
    assert a.regret_median >= 0 and a.regret_p90 >= a.regret_median


def test_reference_regret_near_best_and_top_k() -> None:
    table = toy_table()
    ref = Reference.from_table(table, criterion=MEAN, direction="maximize", top_k=2)
    assert ref.best == "c7" and ref.ranking[:2] == ["c7", "c6"]
    best_row = table.row("c7")
    assert ref.best_se == pytest.approx(np.std(best_row, ddof=1) / math.sqrt(6))
    v = ref.judge("c6")
    assert not v.is_best and v.in_top_k
    assert v.regret == pytest.approx(best_row.mean() - table.row("c6").mean())
    assert v.near_best == (v.regret <= ref.best_se)
    assert ref.judge("c7").regret == 0 and ref.judge("c7").near_best
    assert not ref.judge("c0").in_top_k and not ref.judge("c0").near_best
    # minimizing flips the orientation: regret stays >= 0
    ref_min = Reference.from_table(table, criterion=MEAN, direction="minimize")
    assert ref_min.best == "c0" and ref_min.judge("c1").regret > 0


def test_failed_pick_has_infinite_regret() -> None:
    table = toy_table()
    table.values[3, 2] = math.nan
    ref = Reference.from_table(table, criterion=MEAN, direction="maximize")
    assert ref.judge("c3").regret == math.inf and not ref.judge("c3").near_best


def test_bootstrap_standard_error_is_seeded() -> None:
    x = np.array([0.1, 0.4, 0.2, 0.8, 0.5, 0.3])
    std = get_criterion("std")
    se = standard_error(x, std, "minimize")
    assert se > 0 and se == standard_error(x, std, "minimize")
    assert standard_error(x[:1], std, "minimize") == 0.0


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"order": [0, 1, 2]}, "order has 3 values"),
        ({"order": [0, 1, 2, 3, 4, 4]}, "not a permutation"),
        ({"n_instances": 9}, "n_instances must be in 1..6"),
        ({"warmup": 0}, "warmup"),
        ({"colour": "red"}, "unknown parameter"),
    ],
)
def test_bad_input_is_a_user_error(kwargs: dict, needle: str) -> None:
    with pytest.raises(UserError, match=needle):
        replay(toy_table(), "halving", criterion=MEAN, direction="maximize", **kwargs)


def test_unknown_strategy() -> None:
    with pytest.raises(UserError, match="unknown strategy 'hyperband'"):
        replay(toy_table(), "hyperband", criterion=MEAN, direction="maximize")
