"""Adaptive racing: pooled noise with own-variance floors, tolerance, cost, determinism."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from stalwart.selection import Adaptive, Strategy, Trial, make_strategy

from ._setup import setup


def run(
    strategy: Strategy,
    table: np.ndarray,
    config_ids: Sequence[str],
    rng: np.random.Generator | None = None,
    times: np.ndarray | None = None,
) -> list[Trial]:
    """Drive ``strategy`` asynchronously to the end; returns the trials it was told.

    Without ``rng`` every asked trial is told in order before the next ask (a replay).
    With ``rng`` the trials in flight are told in a random order, and ``ask`` is called
    after a random number of tells (a study whose workers finish out of order).
    """
    row = {cid: i for i, cid in enumerate(config_ids)}
    flight: list[Trial] = []
    told: list[Trial] = []
    while not strategy.done:
        flight.extend(strategy.ask())
        if not flight:
            strategy.finish()
            break
        k = len(flight) if rng is None else int(rng.integers(1, len(flight) + 1))
        if rng is not None:
            rng.shuffle(flight)
        for trial in flight[:k]:
            r = row[trial.config_id]
            if times is not None:
                strategy.observe_cost(trial, float(times[r, trial.instance]))
            strategy.tell(trial, float(table[r, trial.instance]))
            told.append(trial)
            if strategy.done:
                break
        flight = flight[k:]
    return told


def removed(strategy: Strategy) -> dict[str, int]:
    """Removed config -> the number of instances it had."""
    return {d.config_id: d.n_instances for d in strategy.decisions if d.action == "removed"}


# ---- a table where the true best is the noisiest config ------------------------------
# 20 steady configs (loss about 1.0, sd 0.05), 10 clearly bad ones (loss 3.0, 40 noise
# widths behind), and H, the best by mean (0.70) but with sd ~0.5: its instances in race
# order are 0.90, 1.60, 0.20, 0.50, ... After two instances H's mean is 1.25, about 5
# pooled noise widths behind the steady leader (~0.93): on the pooled figure alone
# (0.05) H would be out; its own sd (0.49) is the floor of its noise, so it stays.
N = 10
STEADY = [f"S{i:02d}" for i in range(20)]
BAD = [f"B{i}" for i in range(10)]
IDS = ["H", *STEADY, *BAD]
H_VALUES = [0.90, 1.60, 0.20, 0.50, 1.10, 0.30, 0.90, 0.60, 0.70, 0.20]


def noisy_best_table() -> np.ndarray:
    rng = np.random.default_rng(7)
    steady = 1.0 + 0.005 * np.arange(20)[:, None] + rng.normal(0, 0.05, (20, N))
    bad = 3.0 + rng.normal(0, 0.05, (10, N))
    return np.vstack([np.array(H_VALUES)[None, :], steady, bad])


def test_high_variance_best_is_not_dropped_on_the_pooled_figure() -> None:
    table = noisy_best_table()
    s = Adaptive(setup(IDS, n_instances=N, criterion="mean", direction="minimize"),
                 tolerance=0.0, parallel=1)
    run(s, table, IDS)
    assert "H" not in removed(s)
    assert s.selection == "H"
    # H's second instance made it look 5 pooled noise widths behind: the own floor kept it
    assert s.n_observed("H") > 2


def test_clearly_bad_configs_go_after_one_or_two_instances() -> None:
    table = noisy_best_table()
    s = Adaptive(setup(IDS, n_instances=N, criterion="mean", direction="minimize"),
                 parallel=1)
    run(s, table, IDS)
    gone = removed(s)
    assert set(BAD) <= set(gone)
    assert all(gone[b] <= 2 for b in BAD)
    assert max(gone[b] for b in BAD) >= 1
    # the removal records the pooled test
    d = next(d for d in s.decisions if d.config_id == "B0")
    assert "pooled t" in d.reason and d.p_value is not None and d.p_value < 0.05
    assert d.statistic is not None and d.statistic > 0
    assert d.value == pytest.approx(3.0, abs=0.2)


def test_a_failed_instance_is_the_pick_of_nobody() -> None:
    table = noisy_best_table()
    table[3, 0] = math.nan  # S02's first instance failed
    s = Adaptive(setup(IDS, n_instances=N, criterion="mean", direction="minimize"))
    run(s, table, IDS)
    d = next(d for d in s.decisions if d.config_id == "S02")
    assert d.reason == "failed instance" and d.n_instances == 1
    ignoring = Adaptive(setup(IDS, n_instances=N, criterion="mean", direction="minimize",
                              failures="ignore"))
    run(ignoring, table, IDS)
    assert all(d.reason != "failed instance" for d in ignoring.decisions)
    assert ignoring.selection == s.selection == "H"


# ---- tolerance ---------------------------------------------------------------------
def twins_table() -> tuple[list[str], np.ndarray]:
    """Two near-identical good configs (means 0.900 and 0.899, sd 0.01) and 8 worse."""
    rng = np.random.default_rng(3)
    means = np.array([0.900, 0.899, *np.linspace(0.85, 0.80, 8)])
    table = means[:, None] + rng.normal(0, 0.01, (10, 20))
    return [f"c{i}" for i in range(10)], table


def test_tolerance_stops_the_race_among_near_ties() -> None:
    ids, table = twins_table()
    loose = Adaptive(setup(ids, n_instances=20, criterion="mean", direction="maximize"),
                     tolerance=0.02, parallel=1)
    told_loose = run(loose, table, ids)
    strict = Adaptive(setup(ids, n_instances=20, criterion="mean", direction="maximize"),
                      tolerance=0.0, parallel=1)
    told_strict = run(strict, table, ids)
    assert loose.decisions[-1].reason == "within tolerance of every survivor"
    assert loose.selection in ("c0", "c1")
    assert len(told_loose) < len(told_strict) <= 200
    # without a tolerance the twins are raced to the last instance
    assert strict.decisions[-1].reason == "n_instances reached"
    assert strict.selection in ("c0", "c1")
    assert set(strict.survivors) == {"c0", "c1"}


# ---- determinism -------------------------------------------------------------------
@pytest.mark.parametrize("parallel", [1, 3, 8])
def test_same_results_same_decisions_whatever_the_order_of_tells(parallel: int) -> None:
    table = noisy_best_table()
    times = 1.0 + np.arange(len(IDS))[:, None] % 3 + np.zeros((1, N))

    def once(rng: np.random.Generator | None) -> Adaptive:
        s = Adaptive(setup(IDS, n_instances=N, criterion="mean", direction="minimize",
                           instance_order=(3, 1, 4, 0, 5, 9, 2, 6, 8, 7)),
                     parallel=parallel)
        run(s, table, IDS, rng=rng, times=times)
        return s

    reference = once(None)
    for seed in range(4):
        other = once(np.random.default_rng(seed))
        assert other.decisions == reference.decisions
        assert other.selection == reference.selection
        assert other.survivors == reference.survivors


def test_a_resumed_study_reaches_the_same_state() -> None:
    """Stored results told to a fresh strategy (as `run_study` resumes) agree."""
    table = noisy_best_table()
    first_run = Adaptive(setup(IDS, n_instances=N, criterion="mean", direction="minimize"))
    told = run(first_run, table, IDS)
    stored = {(t.config_id, t.instance) for t in told[: len(told) // 2]}
    resumed = Adaptive(setup(IDS, n_instances=N, criterion="mean", direction="minimize"))
    row = {cid: i for i, cid in enumerate(IDS)}
    while not resumed.done:
        trials = resumed.ask()
        assert trials
        for t in reversed(trials):  # the store answers in any order
            if (t.config_id, t.instance) not in stored:
                stored.add((t.config_id, t.instance))
            resumed.tell(t, float(table[row[t.config_id], t.instance]))
    assert resumed.decisions == first_run.decisions
    assert resumed.selection == first_run.selection


def test_at_most_parallel_trials_in_flight() -> None:
    s = Adaptive(setup(IDS, n_instances=N, criterion="mean", direction="minimize"),
                 parallel=3)
    first = s.ask()
    assert len(first) == 3 and s.ask() == []
    s.tell(first[1], 1.0)  # an out-of-order result waits for the earlier one
    assert s.ask() == []
    s.tell(first[0], 0.9)
    assert len(s.ask()) == 2


# ---- budget, cost ------------------------------------------------------------------
def test_budget_is_honoured() -> None:
    table = noisy_best_table()
    s = Adaptive(setup(IDS, n_instances=N, criterion="mean", direction="minimize",
                       budget=40), parallel=4)
    told = run(s, table, IDS)
    assert s.done and s.n_asked <= 40 and len(told) <= 40
    assert s.decisions[-1].reason == "budget exhausted"
    assert s.selection in s.survivors


# A leader, two equally uncertain challengers (one slow, one fast to train) and a loser.
COST_IDS = ["lead", "slow", "fast", "far"]
COST_TABLE = np.array([[0.90, 0.91, 0.90, 0.91] * 5,
                       [0.89, 0.90, 0.89, 0.90] * 5,
                       [0.89, 0.90, 0.89, 0.90] * 5,
                       [0.10, 0.11, 0.10, 0.11] * 5])


def test_cheap_information_first() -> None:
    """Two equally uncertain challengers: the cheaper one gets its instance first."""
    ids, table = COST_IDS, COST_TABLE
    times = np.array([[5.0] * 20, [10.0] * 20, [1.0] * 20, [1.0] * 20])
    s = Adaptive(setup(ids, n_instances=20, criterion="mean", direction="maximize"),
                 parallel=1, tolerance=0.0, cost_aware=True)
    told = run(s, table, ids, times=times)
    second = [t.config_id for t in told if t.instance == 1]
    assert second.index("fast") < second.index("slow")
    assert sum(t.config_id == "fast" for t in told) >= sum(t.config_id == "slow" for t in told)


def test_times_are_ignored_unless_cost_aware() -> None:
    """By default the plan does not depend on measured times (live studies reproduce)."""
    ids, table = COST_IDS, COST_TABLE
    plans = []
    for times in (np.array([[5.0] * 20, [10.0] * 20, [1.0] * 20, [1.0] * 20]),
                  np.array([[1.0] * 20, [1.0] * 20, [9.0] * 20, [3.0] * 20])):
        s = Adaptive(setup(ids, n_instances=20, criterion="mean", direction="maximize"),
                     parallel=1, tolerance=0.0)
        plans.append([(t.config_id, t.instance) for t in run(s, table, ids, times=times)])
    assert plans[0] == plans[1]


# ---- other criteria ----------------------------------------------------------------
def test_q3_criterion() -> None:
    # A has the best mean (0.675) but half its instances at 0.90 (q3 0.90); B is steady
    # at 0.70, the best by q3.
    ids = ["A", "B", "C", "D", "E", "F"]
    rng = np.random.default_rng(1)
    a = np.tile([0.45, 0.90, 0.45, 0.90], 5) + rng.normal(0, 0.01, 20)
    b = 0.70 + rng.normal(0, 0.01, 20)
    rest = 2.0 + rng.normal(0, 0.01, (4, 20))
    table = np.vstack([a, b, rest])
    s = Adaptive(setup(ids, n_instances=20, criterion="q3", direction="minimize"),
                 parallel=1, tolerance=0.0)
    run(s, table, ids)
    assert s.selection == "B"
    assert set(removed(s)) >= {"C", "D", "E", "F"}


def test_std_criterion() -> None:
    ids = ["steady", "wobbly", "wild"]
    rng = np.random.default_rng(2)
    table = np.vstack([0.9 + rng.normal(0, 0.001, 20), 0.9 + rng.normal(0, 0.05, 20),
                       0.9 + rng.normal(0, 0.2, 20)])
    s = Adaptive(setup(ids, n_instances=20, criterion="std", direction="maximize"),
                 parallel=1, tolerance=0.0)
    run(s, table, ids)
    assert s.selection == "steady"
    gone = [d for d in s.decisions if d.action == "removed"]
    assert {d.config_id for d in gone} == {"wobbly", "wild"}
    assert all("std lower bound" in d.reason for d in gone)
    assert all(d.n_instances < 20 for d in gone)


# ---- parameters --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"confidence": 1.0}, "adaptive.confidence: must be a number > 0 and < 1, got 1.0"),
        ({"confidence": "high"}, "adaptive.confidence: must be a number"),
        ({"tolerance": -0.1}, "adaptive.tolerance: must be null or a number >= 0, got -0.1"),
        ({"parallel": 0}, "adaptive.parallel: must be an integer >= 1, got 0"),
        ({"parallel": 2.5}, "adaptive.parallel: must be an integer >= 1, got 2.5"),
        ({"correction": "holm"},
         "adaptive.correction: unknown value 'holm' (choose from bonferroni, looks, none)"),
        ({"alpha": 0.1}, "unknown parameter(s) alpha; accepted: confidence, tolerance, parallel, "
                         "cost_aware, correction"),
    ],
)
def test_invalid_parameters(params: dict, message: str) -> None:
    with pytest.raises(ValueError) as err:
        make_strategy("adaptive", setup(["a", "b"], n_instances=3, criterion="mean",
                                        direction="minimize"), **params)
    assert message in str(err.value)


def test_criterion_without_a_bound_is_refused() -> None:
    with pytest.raises(ValueError, match=r"criterion 'max' has no confidence bound \(choose "
                                         r"from mean, median, q1, q3, std\)"):
        Adaptive(setup(["a", "b"], n_instances=3, criterion="max", direction="minimize"))


def test_tell_checks_what_was_asked() -> None:
    s = Adaptive(setup(["a", "b"], n_instances=3, criterion="mean", direction="minimize"))
    with pytest.raises(ValueError, match="was not asked for"):
        s.tell(Trial("a", 0), 1.0)
    with pytest.raises(KeyError):
        s.tell(Trial("zz", 0), 1.0)


def test_one_config_and_defaults_in_registry() -> None:
    s = make_strategy("adaptive", setup(["only"], n_instances=3, criterion="mean",
                                        direction="minimize"))
    assert isinstance(s, Adaptive) and s.planned_trainings() is None
    run(s, np.array([[1.0, 2.0, 3.0]]), ["only"])
    assert s.selection == "only"


def test_observe_cost_is_a_no_op_hook_for_other_strategies() -> None:
    s = make_strategy("racing", setup(["a", "b"], n_instances=3, criterion="mean",
                                      direction="minimize"))
    (trial, *_) = s.ask()
    assert s.observe_cost(trial, 12.5) is None


# ---- the pool's minimum, and the corrections ------------------------------------------
def agreeing_twin_table() -> tuple[list[str], np.ndarray]:
    """A's first two instances agree to 1e-8 (as two calorimeter trainings once did);
    B is the best config (mean 0.45) but its first instance, 0.56, is behind A's 0.50."""
    rng = np.random.default_rng(11)
    ids = ["A", "B", *(f"c{i}" for i in range(8))]
    means = np.array([0.55, 0.45, *np.linspace(0.60, 0.70, 8)])
    table = means[:, None] + rng.normal(0, 0.05, (10, 12))
    table[0, :2] = [0.50, 0.50000001]
    table[1, 0] = 0.56
    return ids, table


def test_no_comparison_rests_on_the_instances_of_one_config(monkeypatch) -> None:
    import stalwart.selection.adaptive as adaptive

    ids, table = agreeing_twin_table()

    def race() -> Adaptive:
        s = Adaptive(setup(ids, n_instances=12, criterion="mean", direction="minimize"),
                     parallel=1)
        run(s, table, ids)
        return s

    s = race()
    assert "B" not in removed(s) and s.selection == "B"
    monkeypatch.setattr(adaptive, "MIN_POOL_CONFIGS", 1)  # a pool of A's two instances
    naive = race()
    assert removed(naive).get("B") == 1 and naive.selection == "A"


def spread_table() -> tuple[list[str], np.ndarray]:
    """40 configs whose means step by half a noise width (sd 0.02): many near-ties."""
    rng = np.random.default_rng(5)
    means = 0.90 - 0.01 * np.arange(40)
    return [f"c{i:02d}" for i in range(40)], means[:, None] + rng.normal(0, 0.02, (40, 20))


def test_corrections_trade_the_guarantee_for_trainings() -> None:
    ids, table = spread_table()
    told = {}
    for correction in ("bonferroni", "looks", "none"):
        s = Adaptive(setup(ids, n_instances=20, criterion="mean", direction="maximize"),
                     correction=correction, confidence=0.95, tolerance=0.01, parallel=1)
        told[correction] = len(run(s, table, ids))
        assert s.selection in ids[:3], correction
        if correction == "none":  # each removal at the plain level 1 - confidence
            p = [d.p_value for d in s.decisions if d.action == "removed"]
            assert p and max(p) < 0.05 and max(p) > 1e-3
    assert told["bonferroni"] > told["looks"] > told["none"]
