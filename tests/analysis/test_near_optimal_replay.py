"""Near-optimal criteria off line: training-loss columns, replays, the study round trip.

A study whose criterion has ``near_optimal`` stores each instance's training loss;
``stalwart results`` writes it as ``train_loss_{i}`` columns, and a replay on that table
reaches the live study's selection. Without training-loss columns a replay with such a
criterion is refused.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import FakeExecutor, fake_value

from stalwart.analysis.outcome import Reference
from stalwart.analysis.replay import reference_for, replay, replay_many
from stalwart.analysis.table import ResultTable, read_table, table_from_results, write_wide
from stalwart.core import Config, InstanceResult, Trial
from stalwart.errors import SpecError, TableError, UserError
from stalwart.selection import get_criterion, ranking
from stalwart.spec import StudySpec
from stalwart.study import open_study, run_study
from stalwart.summary import summarize

NAN = math.nan
CRIT = get_criterion("worst", near_optimal_relative=0.5)


# ---- the table ---------------------------------------------------------------------------
def _table(losses: np.ndarray | None = None) -> ResultTable:
    return ResultTable(
        config_ids=["a", "b"],
        params=[{"lr": 0.1}, {"lr": 0.01}],
        values=np.array([[0.05, 0.30, 0.32], [0.25, 0.27, 0.26]]),
        times=np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
        metric="val_loss",
        train_losses=(np.array([[0.50, 0.10, 0.11], [0.10, 0.12, NAN]])
                      if losses is None else losses),
    )


def test_training_losses_travel_in_the_wide_format(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    write_wide(path, _table())
    header = path.read_text().splitlines()[0]
    assert header == ("config_id,lr,val_loss_1,val_loss_2,val_loss_3,time_1,time_2,time_3,"
                      "train_loss_1,train_loss_2,train_loss_3")
    assert path.read_text().splitlines()[2].endswith(",0.1,0.12,nan")
    back = read_table(path)
    assert back.metric == "val_loss", "the training losses are not mistaken for the metric"
    assert back.times is not None and back.train_losses is not None
    np.testing.assert_array_equal(back.train_losses, _table().train_losses)
    np.testing.assert_array_equal(back.values, _table().values)


def test_a_table_without_training_losses_is_written_as_before(tmp_path: Path) -> None:
    table = _table()
    table.train_losses = None
    buf = io.StringIO()
    write_wide(buf, table)
    assert "train_loss" not in buf.getvalue()
    path = tmp_path / "t.csv"
    path.write_text(buf.getvalue())
    assert read_table(path).train_losses is None


def test_other_spellings_and_an_explicit_pattern(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("model,acc_1,acc_2,TrainingTime_1,TrainingTime_2,TrainLoss_1,TrainLoss_2\n"
                    "m1,0.9,0.8,10,11,0.2,0.3\nm2,0.7,0.75,12,13,0.1,nan\n")
    table = read_table(path)
    assert table.metric == "acc" and table.train_losses is not None
    assert table.train_losses.tolist()[0] == [0.2, 0.3]
    assert math.isnan(table.train_losses[1, 1])
    other = tmp_path / "o.csv"
    other.write_text("model,acc_1,acc_2,fit_1,fit_2\nm1,0.9,0.8,0.2,0.3\n")
    assert read_table(other, value_pattern="acc_{i}").train_losses is None
    named = read_table(other, value_pattern="acc_{i}", train_loss_pattern="fit_{i}")
    assert named.train_losses is not None and named.train_losses.tolist() == [[0.2, 0.3]]
    assert named.params == [{}], "the training-loss columns are no hyperparameters"


def test_a_table_of_training_losses_alone_still_reads_them_as_its_metric(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.csv"
    path.write_text("model,train_loss_1,train_loss_2\nm1,0.2,0.3\n")
    table = read_table(path)
    assert table.metric == "train_loss" and table.train_losses is None


@pytest.mark.parametrize(
    ("text", "kwargs", "needle"),
    [
        ("id,v_1,v_2,train_loss_1,train_loss_2\na,1,2,0.1,\n", {},
         "column 'train_loss_2' is empty but 'v_2' is not"),
        ("id,v_1,v_2,train_loss_1,train_loss_2\na,1,,0.1,0.2\n", {},
         "column 'v_2' is empty but 'train_loss_2' is not"),
        ("id,v_1,train_loss_1\na,1,low\n", {},
         "column 'train_loss_1': 'low' is not a training loss"),
        ("id,v_1,v_2,train_loss_1\na,1,2,0.1\n", {}, "training-loss columns have indices 1..1"),
        ("id,v_1,v_2\na,1,2\n", {"train_loss_pattern": "tl_{i}"},
         "no columns match --train-loss-pattern 'tl_{i}'"),
        ("id,v_1,v_2\na,1,2\n", {"value_pattern": "v_{i}", "train_loss_pattern": "v_{i}"},
         "--train-loss-pattern 'v_{i}' matches the v columns"),
    ],
)
def test_broken_training_loss_columns_are_refused(
    tmp_path: Path, text: str, kwargs: dict, needle: str
) -> None:
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(TableError, match=".*".join(map(_escape, needle.split(".*")))):
        read_table(path, **kwargs)


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def test_never_trained_cells_stay_empty_and_complete_keeps_the_losses(tmp_path: Path) -> None:
    table = _table()
    table.trained = np.array([[True, True, False], [True, True, True]])
    path = tmp_path / "t.csv"
    write_wide(path, table)
    back = read_table(path)
    assert back.n_missing == 1 and back.train_losses is not None
    full = back.complete()
    assert full.train_losses is not None and full.train_losses.shape == (2, 2)
    np.testing.assert_array_equal(full.train_losses, table.train_losses[:, :2])


def test_table_from_results_has_losses_only_when_some_are_reported() -> None:
    configs = {"a": {"lr": 0.1}}
    with_loss = [InstanceResult("a", 0, 1, metrics={"m": 1.0}, train_loss=0.3),
                 InstanceResult("a", 1, 2, metrics={"m": 2.0}, train_loss=None)]
    table = table_from_results(with_loss, configs, "m")
    assert table.train_losses is not None
    assert table.train_losses[0, 0] == 0.3 and math.isnan(table.train_losses[0, 1])
    # a store reads an unknown training loss back as NaN
    without = [InstanceResult("a", 0, 1, metrics={"m": 1.0}, train_loss=NAN),
               InstanceResult("a", 1, 2, metrics={"m": 2.0})]
    assert table_from_results(without, configs, "m").train_losses is None


# ---- replays -----------------------------------------------------------------------------
def test_a_replay_needs_the_training_losses() -> None:
    table = _table()
    table.train_losses = None
    message = ("criterion worst(near_optimal_relative=0.5) needs each instance's training "
               "loss: the table has no train_loss_{i} columns (pass --train-loss-pattern")
    with pytest.raises(UserError, match=_escape(message)):
        replay(table, "exhaustive", criterion=CRIT, direction="minimize")
    with pytest.raises(UserError, match=_escape(message)):
        reference_for(table, criterion=CRIT, direction="minimize")
    with pytest.raises(UserError, match=_escape(message)):
        replay_many(table, "halving", criterion=CRIT, direction="minimize", repeats=2,
                    warmup=1)
    # without the option nothing changes
    assert replay(table, "exhaustive", criterion="mean", direction="minimize").selection == "a"


def test_baselines_refuse_the_option() -> None:
    with pytest.raises(UserError, match="baseline random scores rows without their training "
                                        "losses: it does not take criterion option "
                                        "near_optimal_relative"):
        replay(_table(), "random", criterion=CRIT, direction="minimize")


@pytest.mark.parametrize(("name", "params"), [("exhaustive", {}), ("halving", {"warmup": 2}),
                                              ("racing", {"start": 2})])
def test_replays_score_the_near_optimal_samples(name: str, params: dict) -> None:
    # a: its lucky first instance (0.05) trained badly (0.50 vs its best 0.10): dropped.
    table = _table()
    assert replay(table, name, criterion="mean", direction="minimize",
                  **params).selection == "a"
    assert replay(table, name, criterion=get_criterion("mean", near_optimal=0.05),
                  direction="minimize", **params).selection == "b"
    out = replay(table, name, criterion=CRIT, direction="minimize", **params)
    assert out.selection == "b"
    assert out.decisions[-1].value == 0.27


def test_the_reference_ranks_the_near_optimal_samples() -> None:
    table = _table()
    ref = reference_for(table, criterion=CRIT, direction="minimize", top_k=2)
    assert (ref.best, ref.ranking, ref.values) == ("b", ["b", "a"], {"a": 0.32, "b": 0.27})
    assert ref.judge("a").regret == pytest.approx(0.05)
    assert ref.trainings == 6 and ref.time == 21.0
    losses = table.train_losses_by_id()
    assert ref.ranking == ranking(table.values_by_id(), CRIT, "minimize", train_losses=losses)
    plain = reference_for(table, criterion="worst", direction="minimize")
    assert plain == Reference.from_table(table, criterion="worst", direction="minimize")
    summary = replay_many(table, "halving", criterion=CRIT, direction="minimize", repeats=6,
                          warmup=1)
    assert summary.best == "b" and summary.criterion == "worst(near_optimal_relative=0.5)"


def test_the_harness_tells_each_training_loss_before_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from stalwart.selection.exhaustive import Exhaustive

    heard: list[tuple[str, Trial, float]] = []
    original_tell = Exhaustive.tell

    def observe(self: Exhaustive, trial: Trial, loss: float | None) -> None:
        heard.append(("loss", trial, NAN if loss is None else loss))
        self.train_losses[trial.config_id][trial.instance] = NAN if loss is None else loss

    def tell(self: Exhaustive, trial: Trial, value: float) -> None:
        heard.append(("tell", trial, value))
        original_tell(self, trial, value)

    monkeypatch.setattr(Exhaustive, "observe_train_loss", observe)
    monkeypatch.setattr(Exhaustive, "tell", tell)
    replay(_table(), "exhaustive", criterion=CRIT, direction="minimize")
    assert len(heard) == 12
    for (k1, t1, loss), (k2, t2, _) in zip(heard[::2], heard[1::2], strict=True):
        assert (k1, k2) == ("loss", "tell") and t1 == t2
        expected = _table().train_losses[["a", "b"].index(t1.config_id), t1.instance]
        assert loss == pytest.approx(expected, nan_ok=True)


# ---- the CLI -----------------------------------------------------------------------------
def _main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from stalwart.cli import main

    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_refuses_a_table_without_training_losses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = _table()
    table.train_losses = None
    path = tmp_path / "t.csv"
    write_wide(path, table)
    code, _, err = _main(["replay", str(path), "--strategy", "halving", "--warmup", "1",
                          "--criterion", "worst", "--criterion-param",
                          "near_optimal_relative=0.5", "--direction", "minimize"], capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"stalwart: error: {path}: criterion worst(near_optimal_relative=0.5) "
                          "needs each instance's training loss")
    assert "train_loss_{i}" in err and "--train-loss-pattern" in err


@pytest.mark.parametrize(
    ("params", "needle"),
    [(["near_optimal=-1"], "--criterion: near_optimal: must be a number >= 0, got -1"),
     (["near_optimal=0.1", "near_optimal_relative=0.1"], "not both")],
)
def test_cli_checks_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], params: list[str], needle: str
) -> None:
    path = tmp_path / "t.csv"
    write_wide(path, _table())
    argv = ["replay", str(path), "--strategy", "exhaustive", "--criterion", "worst",
            "--direction", "minimize"]
    for p in params:
        argv += ["--criterion-param", p]
    code, _, err = _main(argv, capsys)
    assert code == 2 and needle in err and err.count("\n") == 1


def test_cli_replays_with_a_named_training_loss_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.csv"
    path.write_text("model,acc_1,acc_2,acc_3,fit_1,fit_2,fit_3\n"
                    "a,0.05,0.30,0.32,0.50,0.10,0.11\nb,0.25,0.27,0.26,0.10,0.12,nan\n")
    argv = ["replay", str(path), "--strategy", "exhaustive", "--criterion", "worst",
            "--criterion-param", "near_optimal=0.05", "--direction", "minimize",
            "--value-pattern", "acc_{i}", "--order", "0,1,2", "--format", "json"]
    code, _, err = _main(argv, capsys)
    assert code == 2 and "has no train_loss_{i} columns" in err
    code, out, err = _main([*argv, "--train-loss-pattern", "fit_{i}"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["replay"]["selection"] == "b" and doc["replay"]["is_best"] is True


# ---- a study and its replay -----------------------------------------------------------------
def fake_train_loss(config: Config, instance: int) -> float | None:
    """0.1 plus the instance's noise in :func:`fakes.fake_value`: the worse an instance
    fits its training data, the worse its validation loss. The fifth instance of every
    config reports none (a trainer that does not know it)."""
    if instance == 4:
        return None
    level = abs(math.log10(float(config["lr"])) + 2.0)
    return 0.1 + fake_value(config, instance) - level


class LossExecutor(FakeExecutor):
    """The fake executor, with a training loss on every finished instance."""

    def wait(self, timeout: float | None = None) -> list[tuple[Trial, InstanceResult]]:
        configs = dict(self.queue)
        out = super().wait(timeout)
        for trial, result in out:
            if result.status == "ok":
                result.train_loss = fake_train_loss(configs[trial], trial.instance)
        return out


def make_spec(strategy: str, criterion: dict[str, Any], **params: Any) -> StudySpec:
    return StudySpec.model_validate({
        "name": "near-optimal",
        "dataset": {"name": "digits"},
        # lr 0.005 and 0.02 have the same level: their instances' noise decides.
        "search_space": {"product": {"lr": [0.001, 0.003, 0.005, 0.02, 0.03, 0.1, 0.9]},
                         "fixed": {"noise": 0.4}},
        "instances": {"n": 6},
        "metric": {"name": "val_loss", "direction": "minimize"},
        "criterion": criterion,
        "strategy": {"name": strategy, **params},
    })


def run(spec: StudySpec, directory: Path, **kw: Any) -> tuple[Any, Any, list[InstanceResult]]:
    store = open_study(spec, directory)
    store.acquire_driver()
    try:
        outcome = run_study(spec, store, LossExecutor(**kw))
        summary = summarize(store, spec)
        results = list(store.results().values())
    finally:
        store.close()
    return outcome, summary, results


NEAR = {"name": "worst", "near_optimal": 0.05}


def _results_csv(spec: StudySpec, results: list[InstanceResult], path: Path) -> ResultTable:
    """What ``stalwart results --format csv`` writes, read back as ``stalwart replay`` does."""
    from stalwart.space import expand

    configs = {c.id: c.to_dict() for c in expand(spec)}
    write_wide(path, table_from_results(results, configs, spec.metric.name,
                                        n_instances=spec.instances.n))
    return read_table(path)


def test_an_exhaustive_study_and_its_replay_agree(tmp_path: Path) -> None:
    spec = make_spec("exhaustive", NEAR)
    outcome, summary, results = run(spec, tmp_path / "study")
    table = _results_csv(spec, results, tmp_path / "results.csv")
    assert table.train_losses is not None and np.isnan(table.train_losses[:, 4]).all()
    crit = get_criterion(**NEAR)
    # the option matters on this table: some instances are dropped, and the plain pick differs
    kept = [k for c in summary.configs for k in (c.kept or [])]
    assert kept and not all(kept)
    plain = replay(table, "exhaustive", criterion="worst", direction="minimize")
    near = replay(table, "exhaustive", criterion=crit, direction="minimize")
    assert near.selection == outcome.selection.id != plain.selection
    ref = reference_for(table, criterion=crit, direction="minimize")
    assert ref.best == outcome.selection.id
    for c in summary.configs:  # the summary scores what the selection scored
        assert c.criterion_value == pytest.approx(ref.values[c.config.id], nan_ok=True)
    assert summary.selection is not None
    assert summary.statistics["worst"] == summary.selection.criterion_value
    assert summary.to_dict()["selection"]["near_optimal"] == summary.selection.kept


def test_a_halving_study_equals_its_replay_on_the_full_table(tmp_path: Path) -> None:
    full_spec = make_spec("exhaustive", NEAR)
    _, _, results = run(full_spec, tmp_path / "full")
    table = _results_csv(full_spec, results, tmp_path / "results.csv")
    spec = make_spec("halving", NEAR, warmup=2)
    outcome, _, _ = run(spec, tmp_path / "halving")
    # The store lists configs in the space's order, as the table does.
    assert list(table.config_ids) == [c.id for c in outcome_configs(spec)]
    again = replay(table, "halving", criterion=get_criterion(**NEAR), direction="minimize",
                   warmup=2)
    assert again.selection == outcome.selection.id
    assert _decisions(again.decisions) == _decisions(outcome.decisions)


def _decisions(decisions: list[Any]) -> list[tuple[Any, ...]]:
    return [(d.step, d.config_id, d.action,
             None if d.value is None or math.isnan(d.value) else d.value) for d in decisions]


def outcome_configs(spec: StudySpec) -> list[Any]:
    from stalwart.space import expand

    return expand(spec)


@pytest.mark.parametrize("stop_after", [3, 17])
def test_a_resumed_study_hears_the_stored_training_losses(tmp_path: Path,
                                                          stop_after: int) -> None:
    spec = make_spec("halving", NEAR, warmup=2)
    ref, _, _ = run(spec, tmp_path / "ref")
    with pytest.raises(KeyboardInterrupt):
        run(spec, tmp_path / "resumed", interrupt_after=stop_after)
    outcome, _, _ = run(spec, tmp_path / "resumed")
    assert outcome.selection.id == ref.selection.id
    assert [(d.step, d.config_id, d.action) for d in outcome.decisions] == \
        [(d.step, d.config_id, d.action) for d in ref.decisions]


# ---- the spec ------------------------------------------------------------------------------
def _spec_error(criterion: Any, strategy: Any = "exhaustive") -> str:
    from stalwart.validation import parse_spec

    with pytest.raises(SpecError) as exc:
        parse_spec({"name": "t", "trainer": "mod:train", "search_space": {"product": {"lr": [1]}},
                    "criterion": criterion, "strategy": strategy})
    return str(exc.value)


@pytest.mark.parametrize(
    ("criterion", "strategy", "message"),
    [
        ({"name": "worst", "near_optimal": -0.5}, "exhaustive",
         "criterion.near_optimal: must be a number >= 0, got -0.5"),
        ({"name": "cvar", "near_optimal_relative": "5%"}, "exhaustive",
         "criterion.near_optimal_relative: must be a number >= 0, got '5%'"),
        ({"name": "worst", "near_optimal": 0.1, "near_optimal_relative": 0.1}, "halving",
         "criterion.near_optimal_relative: give one of near_optimal or near_optimal_relative, "
         "not both"),
        ({"name": "mean", "near_optimal": 0.1}, "adaptive",
         "strategy: adaptive: criterion option near_optimal is not supported"),
    ],
)
def test_the_spec_check_names_the_key(criterion: Any, strategy: Any, message: str) -> None:
    assert _spec_error(criterion, strategy).startswith(message)


def test_a_valid_spec_keeps_the_option() -> None:
    from stalwart.study import build_strategy
    from stalwart.validation import parse_spec

    spec = parse_spec({"name": "t", "trainer": "mod:train",
                       "search_space": {"product": {"lr": [1, 2]}},
                       "criterion": {"name": "cvar", "alpha": 0.2,
                                     "near_optimal_relative": 0.05},
                       "strategy": {"name": "halving", "warmup": 2}})
    from stalwart.space import expand

    strategy = build_strategy(spec, expand(spec))
    assert strategy.criterion.label == "cvar(alpha=0.2, near_optimal_relative=0.05)"
