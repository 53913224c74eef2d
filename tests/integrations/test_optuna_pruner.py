"""RacingPruner: stalwart's racing test inside an ordinary Optuna study."""

from __future__ import annotations

import math

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from stalwart.integrations.optuna import RacingPruner  # noqa: E402

MEANS = [0.70, 0.90, 0.60, 0.89, 0.50, 0.80]  # config 1 is best, config 3 a near-tie
N_INSTANCES = 12


def race(pruner: RacingPruner, noise: float = 0.01, seed: int = 0):
    rng = np.random.default_rng(seed)
    reported: dict[int, int] = {}

    def objective(trial):
        c = trial.suggest_categorical("config", list(range(len(MEANS))))
        values = []
        for i in range(N_INSTANCES):
            values.append(MEANS[c] + noise * rng.standard_normal())
            trial.report(values[-1], step=i)
            reported[c] = i + 1
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(np.mean(values))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    # Every config once, the best first, so that every other trial races against it.
    for c in [1, 0, 2, 3, 4, 5]:
        study.enqueue_trial({"config": c})
    study.optimize(objective, n_trials=len(MEANS))
    return study, reported


def test_clearly_worse_trials_are_pruned_early_and_the_best_wins():
    study, reported = race(RacingPruner(test="welch", alpha=0.05, start=3))
    assert study.best_params == {"config": 1}
    assert reported[1] == N_INSTANCES
    for c in (0, 2, 4, 5):  # 10-40 noise widths below the best
        assert reported[c] == 3, f"config {c} should be pruned at its first test"
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert len(pruned) >= 4
    saved = 1 - sum(reported.values()) / (len(MEANS) * N_INSTANCES)
    assert saved > 0.5


def test_nothing_is_pruned_before_start_or_without_a_finished_trial():
    pruner = RacingPruner(start=5)
    study = optuna.create_study(direction="minimize", pruner=pruner)
    trial = study.ask()
    for i, v in enumerate([9.0, 9.1, 9.2, 9.0, 9.1]):
        trial.report(v, step=i)
    assert not trial.should_prune()  # no finished trial to race against
    study.tell(trial, 9.1)
    t2 = study.ask()
    for i, v in enumerate([20.0, 20.1, 20.2, 20.0]):
        t2.report(v, step=i)
        assert not t2.should_prune(), "4 instances < start"
    t2.report(20.1, step=4)
    assert t2.should_prune()


def test_a_failed_instance_prunes_under_worst_and_is_left_out_under_ignore():
    for failures, expected in (("worst", True), ("ignore", False)):
        study = optuna.create_study(pruner=RacingPruner(failures=failures))
        t = study.ask()
        t.report(1.0, step=0)
        t.report(math.nan, step=1)
        assert t.should_prune() is expected


def test_patience_waits_for_consecutive_significant_tests():
    fast, r1 = race(RacingPruner(start=3, patience=1))
    slow, r3 = race(RacingPruner(start=3, patience=3))
    assert r3[0] == 5 and r1[0] == 3


@pytest.mark.parametrize("kw, words", [
    ({"test": "t"}, "test: unknown test 't'"), ({"alpha": 1.5}, "alpha: must be a number"),
    ({"start": 1}, "start: must be an integer >= 2"), ({"patience": 0}, "patience"),
    ({"failures": "skip"}, "failures: unknown policy 'skip'"),
])
def test_bad_parameters_name_the_parameter(kw, words):
    with pytest.raises(ValueError, match=words):
        RacingPruner(**kw)
