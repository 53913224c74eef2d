"""stalwart.study.run: a whole session (validate, open, lock, execute, summarize) as a library call."""

import textwrap

import pytest
from fakes import FakeExecutor
from test_study import make_spec

from stalwart.cli import main
from stalwart.errors import SpecError, StudyLockedError
from stalwart.space import expand
from stalwart.store import Store
from stalwart.study import Progress, StudyInterrupted, build_strategy, default_study_dir, run


def test_run_selects_summarizes_and_resumes(tmp_path):
    spec = make_spec("halving", n=6, warmup=2)
    done = run(spec, tmp_path / "s", executor=FakeExecutor())
    assert done.study_dir == tmp_path / "s" and done.wall_time >= 0
    assert done.outcome.selection is not None
    assert done.summary.selection.config.id == done.outcome.selection.id
    assert done.summary.n_trainings == done.outcome.n_trainings < done.outcome.n_exhaustive
    again = run(spec, tmp_path / "s", executor=FakeExecutor())
    assert again.outcome.selection == done.outcome.selection
    assert again.outcome.n_trainings == done.outcome.n_trainings, "nothing retrained"


def test_progress_hears_the_strategys_plan(tmp_path):
    spec = make_spec("halving", n=6, warmup=2)
    starts = []
    run(spec, tmp_path / "s", executor=FakeExecutor(), progress=Progress(on_start=lambda *a: starts.append(a)))
    configs = expand(spec)
    planned = build_strategy(spec, configs).planned_trainings()
    assert starts == [(len(configs), len(configs) * 6, 0, planned)]
    assert planned is not None and planned < len(configs) * 6


def test_ctrl_c_is_a_keyboard_interrupt_that_counts_what_is_safe(tmp_path):
    spec = make_spec("halving", n=6, warmup=2)
    with pytest.raises(StudyInterrupted) as err:
        run(spec, tmp_path / "s", executor=FakeExecutor(interrupt_after=5))
    assert isinstance(err.value, KeyboardInterrupt)
    assert (err.value.n_results, err.value.study_dir) == (5, tmp_path / "s")
    with Store(tmp_path / "s") as store:
        assert store.n_results() == 5
        store.acquire_driver()  # the interrupted session let go of the lock


def test_a_second_driver_is_refused(tmp_path):
    spec = make_spec("exhaustive", n=2)
    run(spec, tmp_path / "s", executor=FakeExecutor())
    with Store(tmp_path / "s") as holder:
        holder.acquire_driver()
        with pytest.raises(StudyLockedError):
            run(spec, tmp_path / "s", executor=FakeExecutor())


def test_a_spec_file_is_validated_and_its_metric_checked(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent("""
        dataset: {name: digits}
        model: mlp
        search_space: {product: {lr: [0.01, -0.1]}, fixed: {epochs: 1}}
        metric: {name: val_accuracy, direction: maximize}
    """))
    with pytest.raises(SpecError, match=r"^search_space.product.lr\[1\]: "):
        run(path, tmp_path / "study", executor="serial")
    path.write_text(path.read_text().replace("-0.1", "0.1").replace("val_accuracy", "val_rmse"))
    with pytest.raises(SpecError, match="^metric.name: 'val_rmse' is not reported"):
        run(path, tmp_path / "study", executor="serial")
    assert not (tmp_path / "study").exists(), "nothing is created for a spec that cannot run"


def test_default_study_dir_is_under_studies():
    assert str(default_study_dir(make_spec())) == "studies/fake"


def test_cli_reports_an_interrupt_on_one_line_with_exit_130(monkeypatch, tmp_path, capsys):
    def interrupted(*args, **kwargs):
        raise StudyInterrupted(tmp_path / "s", 4)

    monkeypatch.setattr("stalwart.cli.study.run", interrupted)
    assert main(["run", "spec.yaml", "--quiet"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == (f"interrupted: 4 finished trainings are safe in {tmp_path / 's'}; "
                           "run the same command again to resume")
