"""Successive halving at the median (Algorithm 1 of the paper)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stalwart.selection import Halving, Trial, get_criterion, make_strategy

from ._driver import drive
from ._setup import setup

MEAN = get_criterion("mean")


def ids(n: int) -> list[str]:
    return [f"c{i:05d}" for i in range(n)]


def table(n_configs: int, n_instances: int, seed: int = 0) -> np.ndarray:
    """Random losses; config 0 is the best by construction (far lower than the rest)."""
    values = np.random.default_rng(seed).normal(1.0, 0.1, size=(n_configs, n_instances))
    values[0] -= 10.0
    return values


def test_paper_cost_6912_configs() -> None:
    n, k, n_inst = 6912, 5, 50
    s = Halving(setup(ids(n), n_instances=n_inst, criterion=MEAN, direction="minimize"), warmup=k)
    batches = drive(s, table(n, n_inst), ids(n))
    sizes = [len(b) for b in batches]
    assert sizes == [n * k, 3456, 1728, 864, 432, 216, 108, 54, 27, 14, 7, 4, 2]
    assert s.n_asked == 41_472 < 6912 * 50 == 345_600
    assert s.done and s.selection == "c00000"
    assert s.survivors == ["c00000"]
    removed = [d for d in s.decisions if d.action == "removed"]
    assert len(removed) == n - 1 and len({d.config_id for d in removed}) == n - 1
    assert s.decisions[-1].action == "selected"
    assert s.decisions[-1].reason == "last survivor"


def test_median_rule_and_decision_records() -> None:
    # Means (minimize) 1, 2, 3, 4: median 2.5, so the two worst go.
    values = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0]])
    cfg = ["a", "b", "c", "d"]
    s = Halving(setup(cfg, n_instances=2, criterion="mean", direction="minimize"), warmup=1)
    drive(s, values, cfg)
    first = [d for d in s.decisions if d.step == 0]
    assert [(d.config_id, d.action) for d in first] == [("c", "removed"), ("d", "removed")]
    assert all(d.reason == "worse than median" and d.threshold == 2.5 for d in first)
    assert [d.value for d in first] == [3.0, 4.0] and first[0].n_instances == 1
    # Step 1: a (mean 1) and b (mean 2), median 1.5: b goes, a is the last survivor.
    assert [(d.step, d.config_id, d.action) for d in s.decisions[2:]] == [
        (1, "b", "removed"),
        (1, "a", "selected"),
    ]


def test_odd_count_and_ties_with_the_median_survive() -> None:
    # 5 configs, maximize accuracy: 0.9, 0.8, 0.8, 0.8, 0.7 -> median 0.8; only 0.7 goes.
    acc = np.array([[0.9], [0.8], [0.8], [0.8], [0.7]])
    cfg = list("abcde")
    s = Halving(setup(cfg, n_instances=3, criterion="mean", direction="maximize"), warmup=1)
    s.ask()
    for i, c in enumerate(cfg):
        s.tell(Trial(c, 0), acc[i, 0])
    assert s.survivors == ["a", "b", "c", "d"]
    (d,) = s.decisions
    assert (d.config_id, d.value, d.threshold) == ("e", 0.7, 0.8)


def test_all_tied_configs_all_survive_to_n_instances() -> None:
    cfg = list("abcd")
    s = Halving(setup(cfg, n_instances=4, criterion="mean", direction="minimize"), warmup=2)
    drive(s, np.ones((4, 4)), cfg)
    assert s.n_asked == 16 and s.survivors == cfg
    assert s.selection == "a"  # ties go to the earlier config
    assert s.decisions[-1].reason == "n_instances reached"


def test_failed_instances_count_as_worst() -> None:
    values = np.array([[0.1, np.nan], [0.5, 0.5], [0.6, 0.6], [0.7, 0.7]])
    cfg = list("abcd")
    s = Halving(setup(cfg, n_instances=2, criterion="mean", direction="minimize"), warmup=2)
    drive(s, values, cfg)
    assert "a" not in s.survivors and s.selection == "b"
    s = Halving(
        setup(cfg, n_instances=2, criterion="mean", direction="minimize", failures="ignore"),
        warmup=2,
    )
    drive(s, values, cfg)
    assert s.selection == "a"


def test_deterministic_and_tell_order_independent() -> None:
    n, n_inst = 200, 12
    values = table(n, n_inst, seed=3)
    values[0] += 10.0  # no planted winner: a close race where order could matter
    order = list(np.random.default_rng(1).permutation(n_inst))
    runs = []
    for seed in (None, 0, 1, 2):
        s = Halving(
            setup(
                ids(n),
                n_instances=n_inst,
                criterion="pd",
                direction="minimize",
                instance_order=order,
            ),
            warmup=3,
        )
        rng = None if seed is None else np.random.default_rng(seed)
        drive(s, values, ids(n), rng=rng)
        runs.append(([d.to_dict() for d in s.decisions], s.selection, s.n_asked))
    assert all(r == runs[0] for r in runs)


def test_instances_follow_instance_order() -> None:
    cfg = ["a", "b"]
    s = Halving(
        setup(
            cfg,
            n_instances=4,
            criterion="mean",
            direction="minimize",
            instance_order=[7, 3, 5, 1],
        ),
        warmup=2,
    )
    assert sorted(s.ask()) == [Trial("a", 3), Trial("a", 7), Trial("b", 3), Trial("b", 7)]


def test_train_winner() -> None:
    values = table(8, 10)
    cfg = ids(8)
    s = Halving(
        setup(cfg, n_instances=10, criterion="mean", direction="minimize"),
        warmup=2,
        train_winner=True,
    )
    batches = drive(s, values, cfg)
    # 8 -> 4 -> 2 -> 1 with 2, 3, 4 instances; then the winner trains instances 5..10.
    assert [len(b) for b in batches] == [16, 4, 2, 6]
    assert s.selection == "c00000" and s.n_observed("c00000") == 10
    assert s.decisions[-1].reason == "last survivor, trained to n_instances"
    assert s.decisions[-1].n_instances == 10
    # A budget that runs out while the winner trains stops there.
    s = Halving(
        setup(cfg, n_instances=10, criterion="mean", direction="minimize", budget=25),
        warmup=2,
        train_winner=True,
    )
    drive(s, values, cfg)
    assert s.selection == "c00000" and s.n_observed("c00000") == 4 + 3  # 16 + 4 + 2 + 3 = 25
    assert s.decisions[-1].reason == "budget exhausted"


def test_budget_cuts_a_batch_and_selects_among_survivors() -> None:
    values = table(8, 10)
    cfg = ids(8)
    s = Halving(
        setup(cfg, n_instances=10, criterion="mean", direction="minimize", budget=18),
        warmup=2,
    )
    batches = drive(s, values, cfg)
    assert [len(b) for b in batches] == [16, 2]  # 4 survivors wanted 4 trials, got 2
    assert s.n_asked == 18 and s.selection == "c00000"
    assert s.decisions[-1].reason == "budget exhausted"
    # A budget that ends exactly at a step boundary stops there.
    s = Halving(
        setup(cfg, n_instances=10, criterion="mean", direction="minimize", budget=16),
        warmup=2,
    )
    drive(s, values, cfg)
    assert s.n_asked == 16 and s.done and len(s.survivors) == 4


def test_finish_selects_among_survivors_with_values() -> None:
    cfg = ["a", "b", "c"]
    s = Halving(setup(cfg, n_instances=5, criterion="mean", direction="maximize"), warmup=2)
    trials = s.ask()
    for t in trials[:3]:
        s.tell(t, {"a": 0.1, "b": 0.9, "c": 0.5}[t.config_id])
    s.finish()
    assert s.done and s.ask() == []
    assert s.decisions[-1].reason == "stopped early"
    told = {t.config_id for t in trials[:3]}
    expected = max(told, key=lambda c: {"a": 0.1, "b": 0.9, "c": 0.5}[c])
    assert s.selection == expected
    # Late results are still accepted, but decide nothing.
    for t in trials[3:]:
        s.tell(t, 0.0)
    assert sum(d.action == "selected" for d in s.decisions) == 1


def test_warmup_is_capped_and_validated() -> None:
    s = Halving(setup(["a", "b"], n_instances=3, criterion="mean", direction="minimize"))
    assert s.warmup == 3 and len(s.ask()) == 6
    with pytest.raises(ValueError, match="warmup"):
        Halving(setup(["a"], n_instances=3, criterion="mean", direction="minimize"), warmup=0)
    with pytest.raises(ValueError, match="train_winner"):
        make_strategy(
            "halving",
            setup(["a"], n_instances=3, criterion=MEAN, direction="minimize"),
            train_winner=1,
        )


def test_threshold_is_in_value_units_when_maximizing() -> None:
    acc = np.array([[0.9, 0.9], [0.8, 0.8], [0.7, 0.7], [0.6, 0.6]])
    cfg = list("abcd")
    s = Halving(setup(cfg, n_instances=2, criterion="q3", direction="maximize"), warmup=2)
    drive(s, acc, cfg)
    removed = [d for d in s.decisions if d.action == "removed"]
    assert [d.config_id for d in removed] == ["c", "d"]
    assert all(math.isclose(d.threshold, 0.75) for d in removed)


@settings(max_examples=80, deadline=None, database=None)
@given(
    values=st.lists(st.floats(-1e3, 1e3).map(lambda v: round(v, 1)), min_size=1, max_size=15),
    direction=st.sampled_from(["minimize", "maximize"]),
)
def test_median_rule_equals_value_above_median(values: list[float], direction: str) -> None:
    """Removing keys above the sorted element ceil(n/2)-1 == removing "worse than median"."""
    cfg = [f"c{i}" for i in range(len(values))]
    s = Halving(setup(cfg, n_instances=2, criterion="mean", direction=direction), warmup=1)
    s.ask()
    for c, v in zip(cfg, values, strict=True):
        s.tell(Trial(c, 0), v)
    oriented = np.array(values) * (1 if direction == "minimize" else -1)
    median = float(np.median(oriented))
    expected = {c for c, v in zip(cfg, oriented, strict=True) if v > median}
    removed = {d.config_id for d in s.decisions if d.action == "removed"}
    assert removed == expected
    best = cfg[int(np.argmin(oriented))]
    assert best in s.survivors
    assert all(
        d.threshold == pytest.approx(float(np.median(values)))
        for d in s.decisions
        if d.action == "removed"
    )


def test_final_survivors_race_on_every_instance():
    """With final_survivors=4, halving stops at <= 4 survivors and trains them to n."""
    import numpy as np

    from stalwart.selection import get_criterion, make_strategy

    rng = np.random.default_rng(0)
    n_configs, n = 16, 10
    table = rng.normal(0.0, 1.0, (n_configs, n)) + np.linspace(0, 0.5, n_configs)[:, None]
    ids = [f"c{i}" for i in range(n_configs)]
    s = make_strategy(
        "halving",
        setup(ids, n_instances=n, criterion=get_criterion("mean"), direction="minimize"),
        warmup=2,
        final_survivors=4,
    )
    asked = 0
    while not s.done:
        batch = s.ask()
        asked += len(batch)
        for t in batch:
            s.tell(t, float(table[ids.index(t.config_id), t.instance]))
    # 16*2, eliminate -> 8, +8, eliminate -> 4 <= 4: the final 4 get 10 - 3 = 7 more each
    assert asked == 16 * 2 + 8 + 4 * 7
    finalists = [c for c in ids if len(s.values[c]) == n]
    assert len(finalists) == 4 and s.selection in finalists
    means = {c: np.mean(table[ids.index(c)]) for c in finalists}
    assert s.selection == min(means, key=means.get)
    assert s.decisions[-1].reason == "best of the final survivors on n_instances"


def test_final_survivors_must_be_positive():
    import pytest

    from stalwart.selection import make_strategy

    with pytest.raises(ValueError, match="final_survivors"):
        make_strategy(
            "halving",
            setup(["a", "b"], n_instances=3, criterion="mean", direction="minimize"),
            final_survivors=0,
        )
