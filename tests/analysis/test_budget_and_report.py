"""Replays a researcher can use on a big table: a time budget, tolerance, survivors, costs."""

from __future__ import annotations

import numpy as np
import pytest

from stalwart.analysis.baselines import SearchSpace
from stalwart.analysis.outcome import ReplayOutcome
from stalwart.analysis.replay import replay, replay_many
from stalwart.analysis.table import ResultTable
from stalwart.core import Decision
from stalwart.errors import UserError
from stalwart.selection import get_criterion
from stalwart.selection.racing import Racing

MEAN = get_criterion("mean")


def timed_table(n_configs: int = 16, n_instances: int = 6, seed: int = 3) -> ResultTable:
    """A 4 x 4 grid; config c has mean 0.5 + 0.01 c; config c's trainings take 1 + c s."""
    rng = np.random.default_rng(seed)
    means = 0.5 + 0.01 * np.arange(n_configs)
    values = means[:, None] + 0.004 * rng.standard_normal((n_configs, n_instances))
    times = np.repeat(1.0 + np.arange(n_configs, dtype=float)[:, None], n_instances, axis=1)
    return ResultTable(
        config_ids=[f"c{i}" for i in range(n_configs)],
        params=[{"a": i % 4, "b": i // 4} for i in range(n_configs)],
        values=values,
        times=times,
        metric="acc",
    )


BASELINE_NAMES = ("random", "tpe", "tpe_wilcoxon", "tpe_racing")
ALL = [("exhaustive", {}), ("halving", {"warmup": 2}), ("racing", {}),
       ("random", {}), ("tpe", {}), ("tpe_wilcoxon", {}), ("tpe_racing", {})]


@pytest.mark.parametrize(("name", "params"), ALL)
def test_every_strategy_and_baseline_honours_a_budget_in_seconds(
    name: str, params: dict
) -> None:
    table = timed_table()
    longest = float(table.times.max())
    for budget in (40.0, 150.0):
        out = replay(table, name, criterion=MEAN, direction="maximize", seed=1,
                     budget_seconds=budget, **params)
        # No training starts once the budget is spent: at most the last one overshoots.
        assert out.time is not None and out.time < budget + longest
        assert out.time < table.total_time()
        # A strategy selects among its survivors; a baseline picks only a model the budget
        # let it finish, and one model of c15 alone takes 96 s.
        assert out.selection is not None or (name in BASELINE_NAMES and budget < 96)


def test_the_time_budget_stops_the_harness_and_finishes_the_strategy() -> None:
    table = timed_table()
    out = replay(table, "exhaustive", criterion=MEAN, direction="maximize",
                 budget_seconds=10.0, order=range(6))
    # Exhaustive asks c0..c15 for instance 0 first (1, 2, 3, 4 s): 10 s are spent after 4.
    assert (out.trainings, out.time) == (4, 10.0)
    assert out.decisions[-1].action == "selected"


def test_a_time_budget_needs_times() -> None:
    table = timed_table()
    table.times = None
    with pytest.raises(UserError, match="time columns"):
        replay(table, "racing", criterion=MEAN, direction="maximize", budget_seconds=5.0)
    with pytest.raises(UserError, match="budget_seconds"):
        replay(timed_table(), "racing", criterion=MEAN, direction="maximize",
               budget_seconds=0.0)


def test_observe_cost_is_called_with_the_table_time_before_tell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events: list[tuple[str, str, int, float]] = []
    tell = Racing.tell

    def observe_cost(self, trial, seconds):  # noqa: ANN001, ANN202
        events.append(("cost", trial.config_id, trial.instance, seconds))

    def recording_tell(self, trial, value):  # noqa: ANN001, ANN202
        events.append(("tell", trial.config_id, trial.instance, value))
        tell(self, trial, value)

    monkeypatch.setattr(Racing, "observe_cost", observe_cost, raising=False)
    monkeypatch.setattr(Racing, "tell", recording_tell)
    table = timed_table()
    out = replay(table, "racing", criterion=MEAN, direction="maximize")
    assert len(events) == 2 * out.trainings
    for cost, told in zip(events[::2], events[1::2], strict=True):
        assert cost[0] == "cost" and told[0] == "tell" and cost[1:3] == told[1:3]
        row = table.config_ids.index(cost[1])
        assert cost[3] == table.times[row, cost[2]]


def test_tolerance_gives_p_within_tolerance() -> None:
    table = timed_table()
    kw = dict(criterion=MEAN, direction="maximize", repeats=10, strategy_params=None)
    kw.pop("strategy_params")
    plain = replay_many(table, "halving", warmup=1, **kw)
    assert plain.tolerance is None and plain.p_within_tolerance is None
    wide = replay_many(table, "halving", warmup=1, report_tolerance=1.0, **kw)
    assert wide.p_within_tolerance == 1.0
    exact = replay_many(table, "halving", warmup=1, report_tolerance=0.0, **kw)
    assert exact.p_within_tolerance == pytest.approx(
        np.mean([v.regret == 0 for v in exact.verdicts]))
    assert wide.to_dict()["p_within_tolerance"] == 1.0
    with pytest.raises(UserError, match="tolerance"):
        replay_many(table, "halving", warmup=1, report_tolerance=-1.0, **kw)


def test_progress_is_reported_after_every_replay() -> None:
    seen: list[tuple[int, int]] = []
    replay_many(timed_table(), "racing", criterion=MEAN, direction="maximize", repeats=4,
                progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_survivors_are_counted_in_instances() -> None:
    def removed(cid: str, n: int) -> Decision:
        return Decision(step=0, config_id=cid, action="removed", reason="", n_instances=n)

    out = ReplayOutcome(
        strategy="racing", selection="e", trainings=0, time=None, order=[], n_configs=5,
        decisions=[removed("a", 3), removed("b", 3), removed("c", 5),
                   Decision(step=5, config_id="e", action="selected", reason="",
                            n_instances=6)],
    )
    # Removed with m instances: still there up to m - 1, gone from m on.
    assert out.survivors() == [[1, 5], [2, 5], [3, 3], [4, 3], [5, 2], [6, 2]]
    assert out.to_dict()["survivors"] == out.survivors()


def test_json_records_of_every_replay() -> None:
    s = replay_many(timed_table(), "racing", criterion=MEAN, direction="maximize",
                    repeats=3, report_tolerance=0.01)
    doc = s.to_dict(replays=True)
    assert len(doc["replays"]) == 3
    for rec, o in zip(doc["replays"], s.outcomes, strict=True):
        assert rec["selection"] == o.selection and rec["order"] == o.order
        assert rec["survivors"][0] == [1, 16] and set(rec) >= {
            "regret", "near_best", "within_tolerance", "trainings", "time"}
    assert "replays" not in s.to_dict() and "outcomes" not in s.to_dict()


# ---- the TPE search space --------------------------------------------------------------
def test_named_columns_make_the_space() -> None:
    table = timed_table()
    space = SearchSpace(table, ["a", "b"])
    assert space.grid and space.columns == ["a", "b"] and space.warning is None
    with pytest.raises(UserError, match="--param-columns: no column 'z'"):
        SearchSpace(table, ["z"])


def test_rows_that_differ_only_by_id_are_warned_about() -> None:
    table = timed_table()
    table.params = [{} for _ in table.params]
    space = SearchSpace(table)
    assert space.columns == ["config_id"]
    assert "differ only by their id" in space.warning and "random search" in space.warning


def test_named_columns_that_are_no_grid_map_to_the_nearest_row() -> None:
    class Fixed:
        """A trial that suggests fixed values."""

        def __init__(self, values: dict) -> None:
            self.values = values

        def suggest_categorical(self, name: str, choices: list) -> object:
            assert self.values[name] in choices
            return self.values[name]

    table = timed_table()
    keep = [0, 1, 2, 5, 9, 15]  # a (0..3) x b (0..3) with holes: no grid
    sub = ResultTable([table.config_ids[i] for i in keep], [table.params[i] for i in keep],
                      table.values[keep], table.times[keep], "acc")
    space = SearchSpace(sub, ["a", "b"])
    assert not space.grid and space.nearest
    assert space.suggest(Fixed({"a": 1, "b": 1})) == 3  # c5 exists: (1, 1)
    # (3, 0) is missing: c15 (3, 3) and c0 (0, 0) share one column; ties go to the
    # first row not tried yet.
    assert space.suggest(Fixed({"a": 3, "b": 0})) == 0
    assert space.suggest(Fixed({"a": 3, "b": 0}), tried={0}) == 1
    out = replay(sub, "tpe", criterion=MEAN, direction="maximize", param_columns=["a", "b"])
    assert out.selection == "c15"
