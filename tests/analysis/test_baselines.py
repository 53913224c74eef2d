"""Random search, TPE, TPE + WilcoxonPruner and TPE + RacingPruner replayed on a table."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from stalwart.analysis.baselines import SearchSpace
from stalwart.analysis.baselines._shared import Evaluator
from stalwart.analysis.outcome import ReplayOutcome
from stalwart.analysis.replay import replay, replay_many
from stalwart.analysis.table import ResultTable
from stalwart.errors import UserError
from stalwart.selection import get_criterion

MEAN = get_criterion("mean")


def grid_table(n_instances: int = 5, seed: int = 2) -> ResultTable:
    """A 2 x 2 x 4 grid plus a `source` column the others determine; (1, 1, 3) is best."""
    rng = np.random.default_rng(seed)
    params, means = [], []
    for a in (0, 1):
        for b in (0, 1):
            for c in range(4):
                params.append({"a": a, "b": b, "c": c, "source": f"s{a}{b}{c}", "const": 1})
                means.append(0.5 + 0.05 * a + 0.03 * b + 0.01 * c)
    values = np.array(means)[:, None] + 0.002 * rng.standard_normal((16, n_instances))
    return ResultTable(
        config_ids=[f"m{i}" for i in range(16)],
        params=params,
        values=values,
        times=np.ones((16, n_instances)),
        metric="acc",
    )


def test_search_space_finds_the_grid() -> None:
    space = SearchSpace(grid_table())
    assert space.grid and space.columns == ["a", "b", "c"]
    assert space.choices["c"] == [0, 1, 2, 3]
    assert space.params_of(5) == {"a": 0, "b": 1, "c": 1}


def test_search_space_falls_back_to_row_ids() -> None:
    table = grid_table()
    keep = [0, 1, 2, 5, 9]  # not a full grid
    sub = ResultTable(
        config_ids=[table.config_ids[i] for i in keep],
        params=[table.params[i] for i in keep],
        values=table.values[keep],
        times=None,
        metric="acc",
    )
    space = SearchSpace(sub)
    assert not space.grid and space.columns == ["config_id"]


def test_random_search_spends_whole_models_within_budget() -> None:
    table = grid_table()
    out = replay(table, "random", criterion=MEAN, direction="maximize", budget=23, seed=4)
    assert out.trainings == 20  # 4 whole models of 5 instances
    evaluated = {d.config_id for d in out.decisions}
    assert len(evaluated) == 4 and out.selection in evaluated
    best = max(evaluated, key=lambda c: table.row(c).mean())
    assert out.selection == best


def test_random_search_with_the_full_budget_is_exhaustive() -> None:
    table = grid_table()
    out = replay(table, "random", criterion=MEAN, direction="maximize", seed=0)
    assert out.selection == "m15" and out.trainings == 80


def test_tpe_is_seeded_and_within_budget() -> None:
    table = grid_table()
    kw = dict(criterion=MEAN, direction="maximize", budget=40, seed=7)
    a = replay(table, "tpe", **kw)
    b = replay(table, "tpe", **kw)
    assert a.selection == b.selection and a.trainings == b.trainings == 40


def test_tpe_evaluates_every_model_when_the_budget_allows() -> None:
    # TPE repeats itself on a small grid: the enqueued unseen models still cover it all
    out = replay(grid_table(), "tpe", criterion=MEAN, direction="maximize", seed=1)
    assert out.trainings == 80 and out.selection == "m15"


def test_tpe_wilcoxon_prunes_and_counts_only_used_trainings() -> None:
    table = grid_table(n_instances=8)
    out = replay(
        table, "tpe_wilcoxon", criterion=MEAN, direction="maximize", seed=3,
        n_startup_trials=4,
    )
    pruned = [d for d in out.decisions if d.reason == "pruned by Wilcoxon test"]
    assert pruned and all(d.n_instances < 8 for d in pruned)
    assert out.trainings == 8 * 16 - sum(8 - d.n_instances for d in pruned)
    assert out.selection is not None


def test_tpe_racing_prunes_with_stalwarts_test_and_finds_the_best() -> None:
    table = grid_table(n_instances=8)
    out = replay(table, "tpe_racing", criterion=MEAN, direction="maximize", seed=3,
                 n_startup_trials=4)
    pruned = [d for d in out.decisions if d.reason.startswith("pruned by racing test (welch")]
    # the grid's means are 5-40 noise widths apart: most models lose at their first test
    assert len(pruned) >= 8 and all(d.n_instances == 3 for d in pruned)
    assert out.trainings == 8 * 16 - sum(8 - d.n_instances for d in pruned)
    assert out.selection == "m15"


def test_baselines_share_the_summary() -> None:
    summary = replay_many(
        grid_table(), "random", criterion=MEAN, direction="maximize", repeats=5, seed=0,
        budget=40,
    )
    assert summary.trainings_fraction == 0.5 and summary.best == "m15"
    assert 0 <= summary.p_best <= summary.p_top_k <= 1


def test_bad_parameters_and_budget() -> None:
    with pytest.raises(UserError, match="unknown parameter 'warmup'"):
        replay(grid_table(), "tpe", criterion=MEAN, direction="maximize", warmup=3)
    with pytest.raises(UserError, match="budget 3 is below one model"):
        replay(grid_table(), "random", criterion=MEAN, direction="maximize", budget=3)


def test_missing_optuna_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def fake(name: str, *args: object) -> object:
        if name == "optuna":
            raise ImportError("no optuna")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(UserError, match="need optuna"):
        replay(grid_table(), "tpe", criterion=MEAN, direction="maximize")


def test_a_registered_baseline_is_replayable(monkeypatch: pytest.MonkeyPatch) -> None:
    # A new baseline is a function plus one registry line: replay, its parameter check
    # and the CLI's list of names all read the registry.
    from stalwart.analysis.baselines import BASELINES, baseline_params
    from stalwart.analysis.replay import strategy_names

    def first_row(ev: Evaluator, *, seed: int, pick: int = 0) -> ReplayOutcome:
        for position in range(ev.n):
            ev.instance(pick, position)
        return ev.outcome("first_row", pick, [], 1)

    monkeypatch.setitem(BASELINES, "first_row", first_row)
    assert baseline_params("first_row") == ("pick",)
    assert strategy_names()[-1] == "first_row"
    out = replay(grid_table(), "first_row", criterion=MEAN, direction="maximize", pick=2)
    assert out.selection == "m2" and out.trainings == 5
    with pytest.raises(UserError, match="unknown parameter 'warmup'; accepted: pick"):
        replay(grid_table(), "first_row", criterion=MEAN, direction="maximize", warmup=1)
