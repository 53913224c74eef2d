"""The strategy registry, exhaustive search and the full-table ranking."""

from __future__ import annotations

import numpy as np
import pytest

import stalwart.selection as sel
from stalwart.selection import (
    STRATEGIES,
    Exhaustive,
    Trial,
    get_criterion,
    make_strategy,
    ranking,
)

from ._driver import drive
from ._setup import setup


def test_public_api() -> None:
    for name in (
        "Strategy",
        "Trial",
        "Decision",
        "get_criterion",
        "CRITERIA",
        "make_strategy",
        "STRATEGIES",
        "ranking",
    ):
        assert hasattr(sel, name)
    assert set(STRATEGIES) == {"adaptive", "exhaustive", "halving", "racing"}


def test_make_strategy_errors_name_the_culprit() -> None:
    kw = {"n_instances": 3, "criterion": get_criterion("mean"), "direction": "minimize"}
    with pytest.raises(ValueError, match="'bandit'.*valid strategies: adaptive, exhaustive, halving, racing"):
        make_strategy("bandit", setup(["a"], **kw))
    with pytest.raises(ValueError, match="'halving'.*unknown parameter.*alpha.*warmup"):
        make_strategy("halving", setup(["a"], **kw), alpha=0.1)
    with pytest.raises(ValueError, match="'exhaustive'.*accepted: none"):
        make_strategy("exhaustive", setup(["a"], **kw), warmup=2)
    with pytest.raises(ValueError, match="direction"):
        make_strategy("exhaustive", setup(["a"], **{**kw, "direction": "down"}))
    with pytest.raises(ValueError, match="failures"):
        make_strategy("exhaustive", setup(["a"], **kw, failures="skip"))
    s = make_strategy("halving", setup(["a", "b"], **kw), warmup=2, train_winner=True)
    assert isinstance(s, STRATEGIES["halving"]) and s.warmup == 2


def test_exhaustive_asks_everything_once_and_selects_the_best() -> None:
    values = np.array([[0.5, 0.7], [0.3, 0.9], [0.2, 0.2]])
    cfg = ["a", "b", "c"]
    s = Exhaustive(setup(cfg, n_instances=2, criterion="worst", direction="minimize"))
    batches = drive(s, values, cfg, rng=np.random.default_rng(0))
    assert len(batches) == 1 and len(batches[0]) == 6
    assert batches[0][:3] == [Trial("a", 0), Trial("b", 0), Trial("c", 0)]
    assert s.selection == "c" and s.survivors == cfg
    (d,) = s.decisions
    assert (d.action, d.config_id, d.value, d.n_instances) == ("selected", "c", 0.2, 2)
    assert d.reason == "best by criterion"


def test_exhaustive_ties_go_to_the_earlier_config_and_budget_cuts() -> None:
    cfg = ["x", "y", "z"]
    s = Exhaustive(setup(cfg, n_instances=2, criterion="mean", direction="maximize"))
    drive(s, np.ones((3, 2)), cfg)
    assert s.selection == "x"
    s = Exhaustive(setup(cfg, n_instances=2, criterion="mean", direction="maximize", budget=4))
    drive(s, np.array([[0.1, 0.9], [0.2, 0.2], [0.3, 0.3]]), cfg)
    # Instance 0 of every config, then instance 1 of x only: x's mean 0.5 beats z's 0.3.
    assert s.n_asked == 4 and [s.n_observed(c) for c in cfg] == [2, 1, 1]
    assert s.selection == "x"
    assert s.decisions[-1].reason == "budget exhausted"


def test_ranking() -> None:
    table = {"a": [0.3, 0.3], "b": [0.1, 0.5], "c": [0.2, float("nan")], "d": [0.3, 0.3]}
    assert ranking(table, "mean", "minimize") == ["a", "b", "d", "c"]
    assert ranking(table, get_criterion("std"), "minimize") == ["a", "d", "b", "c"]
    assert ranking(table, "mean", "minimize", failures="ignore") == ["c", "a", "b", "d"]
    assert ranking(table, "max", "maximize") == ["b", "a", "d", "c"]


def test_ranking_agrees_with_exhaustive() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(size=(30, 8))
    cfg = [f"m{i}" for i in range(30)]
    for name in ("mean", "pd", "fence", "cvar"):
        s = Exhaustive(setup(cfg, n_instances=8, criterion=name, direction="maximize"))
        drive(s, values, cfg)
        full = ranking(dict(zip(cfg, values, strict=True)), name, "maximize")
        assert s.selection == full[0]
