"""Pessimistic selection: criteria scored on a config's near-optimal instances.

A config's instances approximate its set of near-optimal trainings; with
``near_optimal`` (or ``near_optimal_relative``) a criterion keeps those whose training
loss is within the slack of the config's best, and scores them only.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from stalwart.selection import (
    Exhaustive,
    Halving,
    Racing,
    Strategy,
    Trial,
    get_criterion,
    make_strategy,
    ranking,
)
from stalwart.selection.criteria import NearOptimal, near_optimal_mask

from ._setup import setup

NAN = math.nan


# ---- the mask --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("losses", "slack", "relative", "expected"),
    [
        # absolute: best 0.10, threshold 0.15
        ([0.10, 0.12, 0.30, 0.15], 0.05, False, [True, True, False, True]),
        # relative: best 0.20, threshold 0.20 * 1.5 = 0.30
        ([0.20, 0.31, 0.30, 0.25], 0.5, True, [True, False, True, True]),
        # unknown training losses are kept; the best is over the known ones
        ([NAN, 0.40, 0.10, math.inf], 0.1, False, [True, False, True, True]),
        # ties with the best are kept even with no slack
        ([0.10, 0.10, 0.11], 0.0, False, [True, True, False]),
        ([0.10, 0.10, 0.11], 0.0, True, [True, True, False]),
        # nothing known: everything kept (scored as without the option)
        ([NAN, NAN], 0.0, False, [True, True]),
        # a zero best with a relative slack keeps only the zeros
        ([0.0, 0.0, 1e-9], 0.5, True, [True, True, False]),
        # a negative best: the relative slack is a fraction of its magnitude
        ([-1.0, -0.95, -0.85], 0.1, True, [True, True, False]),
    ],
)
def test_mask_by_hand(
    losses: list[float], slack: float, relative: bool, expected: list[bool]
) -> None:
    assert near_optimal_mask(losses, slack, relative).tolist() == expected


def test_threshold_itself_is_kept_despite_rounding() -> None:
    # 0.1 + 0.2 == 0.30000000000000004 > 0.3 is not the question; the other way round:
    # 0.7 + 0.1 == 0.7999999999999999 < 0.8 must still keep a loss of exactly 0.8.
    assert 0.7 + 0.1 < 0.8
    assert near_optimal_mask([0.7, 0.8], 0.1).tolist() == [True, True]


def test_failed_instances_are_kept_and_do_not_set_the_best() -> None:
    losses = [0.01, 0.20, 0.22, 0.50]
    values = [NAN, 1.0, 2.0, 3.0]  # the first instance failed, with a tiny training loss
    mask = near_optimal_mask(losses, 0.05, values=values)
    assert mask.tolist() == [True, True, True, False]
    # Without values every instance counts, the failed one included.
    assert near_optimal_mask(losses, 0.05).tolist() == [True, False, False, False]


def test_mask_does_not_depend_on_the_order_of_instances() -> None:
    rng = np.random.default_rng(0)
    losses = rng.uniform(0, 1, 12)
    losses[3] = NAN
    mask = near_optimal_mask(losses, 0.2, relative=True)
    perm = rng.permutation(12)
    assert (near_optimal_mask(losses[perm], 0.2, relative=True) == mask[perm]).all()


# ---- the option on a criterion ------------------------------------------------------------
def test_every_criterion_takes_the_option() -> None:
    from stalwart.selection import CRITERIA

    for name in CRITERIA:
        crit = get_criterion(name, near_optimal=0.1)
        assert crit.near_optimal == NearOptimal(0.1)
        assert crit.name == name and "near_optimal=0.1" in crit.label
        assert get_criterion(name, **crit.spec_params) == crit
    crit = get_criterion("cvar", alpha=0.2, near_optimal_relative=0.05)
    assert crit.near_optimal == NearOptimal(0.05, relative=True)
    assert crit.label == "cvar(alpha=0.2, near_optimal_relative=0.05)"
    assert crit.params == {"alpha": 0.2}
    assert crit != get_criterion("cvar", alpha=0.2)
    assert crit.without_near_optimal() == get_criterion("cvar", alpha=0.2)


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"near_optimal": -0.1}, "near_optimal: must be a number >= 0, got -0.1"),
        ({"near_optimal_relative": "5%"}, "near_optimal_relative: must be a number >= 0"),
        ({"near_optimal": math.nan}, "near_optimal: must be a number >= 0"),
        ({"near_optimal": True}, "near_optimal: must be a number >= 0"),
        ({"near_optimal": 0.1, "near_optimal_relative": 0.1},
         "near_optimal_relative: give one of near_optimal or near_optimal_relative, not both"),
        ({"slack": 0.1}, "unknown parameter.*slack.*accepted: none; every criterion also "
                         "takes near_optimal or near_optimal_relative"),
    ],
)
def test_bad_options_are_named(params: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        get_criterion("worst", **params)


def test_sample_needs_training_losses_only_with_the_option() -> None:
    values = [1.0, 2.0, 3.0]
    assert get_criterion("mean").sample(values, None).tolist() == values
    crit = get_criterion("mean", near_optimal=0.0)
    assert crit.sample(values, [0.2, 0.1, 0.1]).tolist() == [2.0, 3.0]
    with pytest.raises(ValueError, match="needs the instances' training losses"):
        crit.sample(values, None)


# ---- strategies --------------------------------------------------------------------------
# Config A has the best mean thanks to one lucky first instance (val 0.05) whose training
# went badly (training loss 0.50, far above its best 0.10): not a near-optimal training.
# On its near-optimal instances A is worse than B on every count.
IDS = ("A", "B")
VALUES = np.array([[0.05, 0.30, 0.32], [0.25, 0.27, 0.26]])
LOSSES = np.array([[0.50, 0.10, 0.11], [0.10, 0.12, 0.13]])
# By hand, slack 0.05 (threshold 0.15 for both): A keeps (0.30, 0.32), B keeps all.
#   mean: A 0.2233 < B 0.26 -> A;   mean, near-optimal: A 0.31 > B 0.26 -> B
#   worst, near-optimal: A 0.32 > B 0.27 -> B;  relative 0.5: the same thresholds
#   cvar(alpha=0.5), near-optimal: A 0.32 > B 0.265 -> B
# On the first two instances (halving's warm-up of 2, racing's first test):
#   mean: A 0.175 < B 0.26;  near-optimal: A keeps 0.30 only, 0.30 > 0.26


def drive(strategy: Strategy, values: np.ndarray, losses: np.ndarray,
          reverse: bool = False) -> str | None:
    """Run ``strategy`` to the end, telling each trial's training loss right before it."""
    while not strategy.done:
        batch = strategy.ask()
        if not batch:
            strategy.finish()
            break
        for trial in reversed(batch) if reverse else batch:
            r = IDS.index(trial.config_id) if trial.config_id in IDS else int(trial.config_id[1:])
            strategy.observe_train_loss(trial, float(losses[r, trial.instance]))
            strategy.tell(trial, float(values[r, trial.instance]))
    return strategy.selection


STRATEGY_CASES = [("exhaustive", {}), ("halving", {"warmup": 2}), ("halving", {"warmup": 3}),
                  ("racing", {"start": 2}), ("racing", {"start": 3})]


@pytest.mark.parametrize(("name", "params"), STRATEGY_CASES)
@pytest.mark.parametrize(
    ("criterion", "expected"),
    [
        (get_criterion("mean"), "A"),
        (get_criterion("mean", near_optimal=0.05), "B"),
        (get_criterion("worst", near_optimal=0.05), "B"),
        (get_criterion("worst", near_optimal_relative=0.5), "B"),
        (get_criterion("cvar", alpha=0.5, near_optimal=0.05), "B"),
    ],
)
def test_the_pessimistic_criterion_drops_the_lucky_config(
    name: str, params: dict, criterion: object, expected: str
) -> None:
    s = make_strategy(name, setup(IDS, n_instances=3, criterion=criterion,
                                  direction="minimize"), **params)
    assert drive(s, VALUES, LOSSES) == expected
    again = make_strategy(name, setup(IDS, n_instances=3, criterion=criterion,
                                      direction="minimize"), **params)
    assert drive(again, VALUES, LOSSES, reverse=True) == expected, "order of tells"


def test_the_values_scored_are_the_near_optimal_ones() -> None:
    s = Exhaustive(setup(IDS, n_instances=3, criterion=get_criterion("worst", near_optimal=0.05),
                         direction="minimize"))
    drive(s, VALUES, LOSSES)
    assert s.kept("A") == {0: False, 1: True, 2: True}
    assert s.sample("A").tolist() == [0.30, 0.32]
    assert s.value_of("A") == 0.32 and s.value_of("B") == 0.27
    selected = s.decisions[-1]
    assert (selected.config_id, selected.value, selected.n_instances) == ("B", 0.27, 3)


def test_near_optimal_lets_a_config_with_a_stuck_training_win() -> None:
    # C's third training got stuck (training loss 0.80, val 0.90): worst over all
    # instances blames C for it; over its near-optimal trainings C is the better config.
    values = np.array([[0.20, 0.21, 0.90], [0.25, 0.26, 0.27]])
    losses = np.array([[0.10, 0.10, 0.80], [0.10, 0.11, 0.12]])
    for crit, expected in [(get_criterion("worst"), "B"),
                           (get_criterion("worst", near_optimal=0.05), "A")]:
        s = Exhaustive(setup(IDS, n_instances=3, criterion=crit, direction="minimize"))
        assert drive(s, values, losses) == expected


def test_without_training_losses_the_option_changes_nothing() -> None:
    crit = get_criterion("worst", near_optimal=0.0)
    s = Exhaustive(setup(IDS, n_instances=3, criterion=crit, direction="minimize"))
    unknown = np.full_like(LOSSES, NAN)
    drive(s, VALUES, unknown)
    plain = Exhaustive(setup(IDS, n_instances=3, criterion="worst", direction="minimize"))
    drive(plain, VALUES, unknown)
    assert s.selection == plain.selection
    assert s.value_of("A") == plain.value_of("A") == 0.32


def test_a_loss_heard_but_not_told_is_not_used() -> None:
    crit = get_criterion("mean", near_optimal=0.0)
    s = Exhaustive(setup(["A"], n_instances=2, criterion=crit, direction="minimize"))
    t0, t1 = s.ask()
    s.observe_train_loss(t0, 0.5)
    s.tell(t0, 1.0)
    s.observe_train_loss(t1, 0.1)  # heard, not told: A's best training loss is still 0.5
    assert s.sample("A").tolist() == [1.0]
    assert s.kept("A") == {0: True}
    s.tell(t1, 2.0)
    assert s.kept("A") == {0: False, 1: True}
    assert s.selection == "A" and s.decisions[-1].value == 2.0


def test_observe_train_loss_records_unknown_as_nan() -> None:
    s = Exhaustive(setup(IDS, n_instances=1, criterion="mean", direction="minimize"))
    s.observe_train_loss(Trial("A", 0), None)
    s.observe_train_loss(Trial("B", 0), math.inf)
    assert math.isnan(s.train_losses["A"][0]) and math.isnan(s.train_losses["B"][0])
    with pytest.raises(KeyError, match="unknown config 'Z'"):
        s.observe_train_loss(Trial("Z", 0), 0.1)


def test_failed_instances_still_fail_under_worst() -> None:
    values = np.array([[0.30, 0.32, NAN], [0.25, 0.27, 0.26]])
    losses = np.array([[0.10, 0.11, 0.01], [0.10, 0.12, 0.13]])  # A's failed one: tiny loss
    crit = get_criterion("mean", near_optimal=0.05)
    for failures, expected_a in (("worst", NAN), ("ignore", 0.31)):
        s = Exhaustive(setup(IDS, n_instances=3, criterion=crit, direction="minimize",
                             failures=failures))
        drive(s, values, losses)
        assert s.kept("A") == {0: True, 1: True, 2: True}
        assert s.value_of("A") == pytest.approx(expected_a, nan_ok=True)
        assert s.selection == "B"


def test_halving_eliminates_on_near_optimal_samples() -> None:
    # c3 is the best by mean only through a badly trained lucky instance. Warm-up of 2:
    #   plain means c3 0.20, c0 0.305, c1 0.325, c2 0.505 -> c1, c2 out; then c3 beats c0;
    #   near-optimal: c3 keeps 0.35 only -> c0 0.305, c1 0.325 stay; c0 beats c1 (0.31).
    values = np.array([[0.30, 0.31, 0.32, 0.33],
                       [0.32, 0.33, 0.34, 0.35],
                       [0.50, 0.51, 0.52, 0.53],
                       [0.35, 0.05, 0.36, 0.37]])
    losses = np.array([[0.1] * 4, [0.1] * 4, [0.1] * 4, [0.1, 0.9, 0.1, 0.1]])
    ids = ["c0", "c1", "c2", "c3"]
    plain = Halving(setup(ids, n_instances=4, criterion="mean", direction="minimize"),
                    warmup=2)
    assert drive(plain, values, losses) == "c3"
    near = Halving(setup(ids, n_instances=4, criterion=get_criterion("mean", near_optimal=0.1),
                         direction="minimize"), warmup=2)
    assert drive(near, values, losses) == "c0"
    removed = [d for d in near.decisions if d.action == "removed"]
    assert {d.config_id for d in removed if d.step == 0} == {"c2", "c3"}
    assert next(d.value for d in removed if d.config_id == "c3") == 0.35


def test_racing_selects_by_the_near_optimal_criterion() -> None:
    s = Racing(setup(IDS, n_instances=3, criterion=get_criterion("worst", near_optimal=0.05),
                     direction="minimize"), start=3)
    assert drive(s, VALUES, LOSSES) == "B"
    assert s.decisions[-1].value == 0.27


def test_adaptive_refuses_the_option_and_says_why() -> None:
    crit = get_criterion("mean", near_optimal_relative=0.05)
    with pytest.raises(ValueError, match="adaptive: criterion option near_optimal_relative is "
                                         "not supported: .*use exhaustive, halving or racing"):
        make_strategy("adaptive", setup(IDS, n_instances=3, criterion=crit,
                                        direction="minimize"))


def test_ranking_of_a_full_table() -> None:
    values = {"A": VALUES[0], "B": VALUES[1]}
    losses = {"A": LOSSES[0], "B": LOSSES[1]}
    assert ranking(values, "mean", "minimize") == ["A", "B"]
    crit = get_criterion("worst", near_optimal=0.05)
    assert ranking(values, crit, "minimize", train_losses=losses) == ["B", "A"]
    with pytest.raises(ValueError, match=r"worst\(near_optimal=0.05\) needs the instances' "
                                         "training losses"):
        ranking(values, crit, "minimize")
    with pytest.raises(ValueError, match="no training losses for 'B'"):
        ranking(values, crit, "minimize", train_losses={"A": LOSSES[0]})
