"""The Python API: a Study of your own trainer, run or driven by ask and tell."""

from __future__ import annotations

import math

import numpy as np
import pytest

import stalwart as sw
from stalwart.errors import SpecError, UserError

CALLS: list[tuple[float, int]] = []
LRS = [0.01, 0.05, 0.1, 0.2, 0.5, 0.7, 0.9]


def train(config, instance):
    """Quality peaks at lr 0.1; lr 0.5 raises, 0.7 diverges, 0.9 forgets the metric."""
    CALLS.append((config["lr"], instance.index))
    rng = np.random.default_rng(instance.seed)
    if config["lr"] == 0.5:
        raise RuntimeError("exploded on purpose")
    if config["lr"] == 0.7:
        return math.nan
    if config["lr"] == 0.9:
        return {"other": 1.0}
    return {"val_accuracy": 0.9 - abs(config["lr"] - 0.1) + 0.01 * rng.standard_normal(),
            "n_rows": float(len(instance.subsample))}


def make_study(directory, **kw) -> sw.Study:
    return sw.Study("api", space={"lr": LRS}, seed=3, directory=directory,
                    instances={"n": 4, "train_size": 50, "pool_size": 200},
                    metric="val_accuracy", direction="maximize",
                    strategy={"name": "halving", "warmup": 2}, **kw)


def test_run_selects_and_returns_every_instance_as_a_dataframe(tmp_path):
    result = make_study(tmp_path / "s").run(train, executor="serial")
    assert result.valid and result.selection == {"lr": 0.1}
    df = result.results()
    assert len(df) == 20 and set(df["lr"]) == set(LRS)
    assert {"config_id", "instance", "seed", "status", "val_accuracy", "n_rows", "wall_time",
            "error"} <= set(df.columns)
    ok = df[df.status == "ok"]
    assert (ok["n_rows"] == 50).all()  # each instance got its 50-row subsample
    by_lr = df.set_index("lr")
    assert "RuntimeError: exploded on purpose" in by_lr.loc[0.5, "error"].iloc[0]
    assert (by_lr.loc[0.7, "status"] == "diverged").all()
    assert "lacks the study's metric 'val_accuracy'" in by_lr.loc[0.9, "error"].iloc[0]
    removed = [d.config_id for d in result.decisions if d.action == "removed"]
    assert len(removed) == 6 and result.selection_id not in removed


def test_a_second_run_resumes_and_trains_nothing(tmp_path):
    study = make_study(tmp_path / "s")
    first = study.run(train, executor="serial")
    CALLS.clear()
    again = study.run(train, executor="serial")
    assert CALLS == [] and again.selection == first.selection
    assert again.results().equals(first.results())
    assert study.result().selection == first.selection


def test_ask_and_tell_gives_the_same_study_as_run(tmp_path):
    ran = make_study(tmp_path / "run").run(train, executor="serial").results()
    study = make_study(tmp_path / "asked")
    with study.ask_tell() as session:
        first_batch = []
        while (trial := session.ask()) is not None:
            first_batch.append(trial)
        # halving hands out the warm-up (7 configs x 2) and waits for it
        assert len(first_batch) == 14 and not session.done
        for trial in first_batch:
            try:
                session.tell(trial, train(trial.config, trial.instance))
            except Exception as exc:  # the user's own loop decides what a failure is
                session.tell(trial, error=repr(exc))
        while (trial := session.ask()) is not None:
            session.tell(trial, train(trial.config, trial.instance))
        assert session.done
    result = session.result
    assert result.selection == {"lr": 0.1}
    cols = ["config_id", "instance", "seed", "val_accuracy"]
    told = result.results()
    assert told[cols].dropna().reset_index(drop=True).equals(ran[cols].dropna().reset_index(drop=True))
    assert (told.set_index("lr").loc[0.5, "status"] == "failed").all()


def test_an_ask_tell_session_left_early_keeps_what_was_told(tmp_path):
    study = make_study(tmp_path / "s")
    with study.ask_tell() as session:
        trials = [session.ask() for _ in range(3)]
        for t in trials:
            session.tell(t, 0.5)
    assert len(study.result().results()) == 3
    with study.ask_tell() as session:  # resumes: the three told instances are not asked again
        asked = []
        while (t := session.ask()) is not None:
            asked.append((t.trial.config_id, t.trial.instance))
        assert len(asked) == 14 - 3
        assert not {(x.trial.config_id, x.trial.instance) for x in trials} & set(asked)


def test_a_second_driver_is_refused_during_a_session(tmp_path):
    study = make_study(tmp_path / "s")
    with study.ask_tell():
        with pytest.raises(UserError, match="another driver"), study.ask_tell():
            pass
    # and a run with a trainer is another study than the one told by hand
    with pytest.raises(UserError, match="different spec"):
        study.run(train, executor="serial")


def test_lambdas_and_closures_are_refused_for_worker_processes_only(tmp_path):
    study = make_study(tmp_path / "s")
    with pytest.raises(SpecError, match="lambda.*cannot import"):
        study.run(lambda c, i: 0.5, executor="local")
    assert not (tmp_path / "s").exists(), "refused before anything was created"
    result = make_study(tmp_path / "t").run(lambda c, i: c["lr"], executor="serial")
    assert result.selection == {"lr": 0.9}


def test_bad_settings_are_refused_when_the_study_is_made(tmp_path):
    with pytest.raises(SpecError, match="strategy: halving.warmup"):
        sw.Study("x", space={"lr": [1]}, metric="m", strategy={"name": "halving", "warmup": 0})
    with pytest.raises(SpecError, match="instances.train_size: a user trainer's subsample needs"):
        sw.Study("x", space={"lr": [1]}, metric="m", instances={"n": 3, "train_size": 5})
    with pytest.raises(SpecError, match="metric.direction: val_accuracy is better when higher"):
        sw.Study("x", space={"lr": [1]}, metric="val_accuracy", direction="minimize")
