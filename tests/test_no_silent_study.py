"""Issue 16, the study side: no wrong answer with exit status 0, no traceback, nothing ignored.

Settings that cannot work are refused before anything is created (one line, key path,
exit 2); a study that ends without a valid result says so and exits 1 from ``run`` and
``show``; ``--dry-run`` checks everything and creates nothing; damaged stores, odd files and
closed pipes get one line (or, for a pipe, silence), never a traceback.
"""

from __future__ import annotations

import io
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import yaml
from fakes import FakeExecutor

import stalwart.data
import stalwart.study
from stalwart.cli import main
from stalwart.cli.study import _ProgressView
from stalwart.core import InstanceResult, instance_seed
from stalwart.data import CATALOG, load_dataset
from stalwart.errors import SpecError
from stalwart.store import Store
from stalwart.study import Progress, StudyInterrupted, run
from stalwart.validation import parse_spec

SPEC = textwrap.dedent("""
    name: silent
    seed: 1
    dataset: {name: calorimeter, task: energy, options: {n_pool: 3000, n_val: 200, n_test: 200}}
    model: small_cnn
    search_space:
      fixed: {epochs: 1, conv_channels: [4], fc_sizes: [8]}
      product: {lr: [0.001, 0.01, 0.003, 0.03]}
    instances: {n: 3, train_size: 1000}
    metric: {name: val_loss, direction: minimize}
    criterion: mean
    strategy: {name: halving, warmup: 2}
""")


def cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("stalwart: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, err)


def spec_file(tmp_path: Path, text: str = SPEC, **replace: str) -> Path:
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


# ---- 1a: settings that cannot work are refused before training ------------------------------
@pytest.mark.parametrize(("replace", "needles"), [
    ({"train_size: 1000": "train_size: 100000"},
     ["instances.train_size: 100,000 is larger than the pool", "3,000 rows"]),
    ({"n_pool: 3000,": "n_pol: 3000,"},
     ["dataset.options.n_pol: unknown option for dataset 'calorimeter'", "n_pool"]),
    ({"n_pool: 3000,": "n_pool: 0,"}, ["dataset.options.n_pool: must be an integer >= 1, got 0"]),
    ({"n_val: 200,": "n_val: -1,"}, ["dataset.options.n_val: must be an integer >= 1"]),
    ({"n_test: 200": "n_test: 200, noise: -1"}, ["dataset.options.noise: must be a finite number >= 0"]),
    ({"task: energy": "task: momentum"}, ["dataset.task: unknown task 'momentum'"]),
    ({"train_size: 1000": "train_size: 1000, variation: sampling",
      "n_pool: 3000": "n_pool: 1000"}, ["instances.variation: 'sampling'"]),
    ({"direction: minimize": "direction: maximize"},
     ["metric.direction: val_loss is better when lower; set direction: minimize"]),
    ({"warmup: 2": "warmup: 4"}, ["strategy.warmup: 4 is more than instances.n (3)"]),
    ({"{name: halving, warmup: 2}": "halving"}, ["strategy.warmup: the default 5 is more than instances.n (3)"]),
    ({"{name: halving, warmup: 2}": "{name: racing, start: 4}"}, ["strategy.start: 4 is more than instances.n (3)"]),
])
def test_impossible_settings_are_refused_before_anything_is_created(tmp_path, replace, needles):
    spec = spec_file(tmp_path, **replace)
    for extra in ([], ["--dry-run"]):
        code, _, err = cli(["run", str(spec), "--study-dir", str(tmp_path / "s"), "--executor", "serial", *extra])
        one_line_error(code, err, *needles)
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(("name", "options", "needle"), [
    ("digits", {"val_fraction": 1.5}, "dataset.options.val_fraction: must be a number in (0, 1)"),
    ("iris", {"test_fraction": 0.01}, "dataset.options.test_fraction: leaves 2 test samples"),
    ("wine", {"val_fraction": 0.5, "test_fraction": 0.5}, "dataset.options.val_fraction: val_fraction + test_fraction"),
    ("mnist", {"n_val": 60000}, "dataset.options.n_val: leaves no training pool"),
    ("cifar10", {"download": "no"}, "dataset.options.download: must be true or false"),
    ("fashion_mnist", {"batch": 3}, "dataset.options.batch: unknown option"),
])
def test_dataset_option_errors_name_their_key_path(tmp_path, name, options, needle):
    spec = parse_spec({"dataset": {"name": name, "options": options}, "model": "mlp",
                       "search_space": {"fixed": {"epochs": 1}},
                       "metric": {"name": "val_accuracy", "direction": "maximize"}})
    with pytest.raises(SpecError, match="^" + needle.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        run(spec, tmp_path / "s", executor=FakeExecutor())
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(("name", "options"), [
    ("calorimeter", {"n_pool": 40, "n_val": 10, "n_test": 10}),
    ("digits", {}), ("iris", {}), ("breast_cancer", {}), ("wine", {}),
    ("digits", {"val_fraction": 0.13, "test_fraction": 0.27}),
    ("wine", {"val_fraction": 0.31, "test_fraction": 0.11}),
    ("breast_cancer", {"val_fraction": 0.05, "test_fraction": 0.45}),
])
def test_the_catalogs_pool_size_is_the_loaders(name, options):
    assert CATALOG[name].pool_size(options) == load_dataset(name, **options).n_pool


@pytest.mark.parametrize(("dataset", "needle"), [
    ({"name": "mnist", "root": "/nowhere", "options": {"download": False}},
     "dataset.root: mnist: IDX files not found in /nowhere"),
    ({"name": "cifar10", "options": {"download": False}},
     "dataset.options.download: cifar10: batches not found in"),
])
def test_missing_files_that_may_not_be_downloaded_are_refused(tmp_path, monkeypatch, dataset, needle):
    monkeypatch.setenv("STALWART_DATA", str(tmp_path / "cache"))  # an empty cache
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"dataset": dataset, "model": "mlp", "search_space": {"fixed": {"epochs": 1}},
                                    "metric": {"name": "val_accuracy", "direction": "maximize"},
                                    "strategy": "exhaustive", "instances": {"n": 2}}))
    code, _, err = cli(["run", str(spec), "--study-dir", str(tmp_path / "s")])
    one_line_error(code, err, needle)
    assert not (tmp_path / "s").exists()


def test_file_datasets_pool_arithmetic_follows_their_official_split():
    # The official training sets: 60,000 (Fashion-)MNIST images, 50,000 CIFAR-10 images.
    assert CATALOG["fashion_mnist"].pool_size({}) == 50000
    assert CATALOG["mnist"].pool_size({"n_val": 1000}) == 59000
    assert CATALOG["cifar10"].pool_size({}) == 45000


@pytest.mark.parametrize(("replace", "flags"), [
    ({"train_size: 1000": "train_size: 100000"}, []),
    ({"instances:": "instancs:"}, []),
    ({"n_pool: 3000,": "n_pol: 3000,"}, []),
    ({"warmup: 2": "warmup: 9"}, []),
    ({"direction: minimize": "direction: maximize"}, []),
    ({}, ["--executor", "serial", "--workers", "3"]),
])
def test_errors_found_without_torch_do_not_wait_for_it(tmp_path, replace, flags):
    spec = spec_file(tmp_path, **replace)
    code = (f"import sys; from stalwart.cli import main; rc = main(['run', {str(spec)!r}, *{flags!r}]); "
            "print(rc, 'torch' in sys.modules, 'sklearn' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.stdout.split() == ["2", "False", "False"], p.stderr


# ---- 1b: a study without a valid result says so and exits 1 -------------------------------------
class FailingExecutor(FakeExecutor):
    """Every training fails, as when the data cannot be loaded."""

    def wait(self, timeout=None):
        out = []
        for trial, config in self.queue:
            out.append((trial, InstanceResult(
                config_id=config.id, instance=trial.instance,
                seed=instance_seed(self.job.study_seed, config.id, trial.instance),
                status="failed", error="DataError: no data", wall_time=0.1)))
            self.trained.append(trial)
        self.queue.clear()
        return out


def test_run_reports_no_valid_result_to_python_callers(tmp_path):
    done = run(spec_file(tmp_path), tmp_path / "s", executor=FailingExecutor())
    assert not done.valid and done.outcome.selection is None
    assert done.problem.startswith("no valid result: the selected config ")
    assert "first error: DataError: no data" in done.problem
    assert done.summary.problem == done.problem and not done.summary.finished


def test_cli_run_show_status_exit_1_and_a_rerun_is_not_finished(tmp_path, monkeypatch):
    monkeypatch.setattr(stalwart.study, "make_executor", lambda *a, **k: FailingExecutor())
    spec, study = spec_file(tmp_path), str(tmp_path / "s")
    for _ in range(2):  # the rerun retrains the failed instances, fails again, says so again
        code, out, err = cli(["run", str(spec), "--study-dir", study, "--quiet"])
        assert code == 1 and "Traceback" not in err
        assert err.strip().splitlines()[-1].startswith("stalwart: no valid result: the selected config")
        assert "selected: none (no valid result)" in out and "= - over" not in out
    code, out, err = cli(["show", study])
    assert code == 1 and "no valid result" in err
    code, out, err = cli(["show", study, "--format", "json"])
    assert code == 1 and '"problem": "no valid result' in out
    code, out, _ = cli(["status", study])
    assert code == 0 and "ended without a valid result" in out and "finished" not in out


def test_a_rerun_retrains_failed_instances_and_can_recover(tmp_path):
    spec = spec_file(tmp_path)
    first = run(spec, tmp_path / "s", executor=FailingExecutor())
    assert not first.valid
    with Store(tmp_path / "s") as store:
        assert store.decisions()  # halving's removals on all-failed (tied) results
    fixed = FakeExecutor()
    again = run(spec, tmp_path / "s", executor=fixed)
    assert again.valid and again.problem is None and again.summary.finished
    assert len(fixed.trained) == again.outcome.n_trainings, "every failed instance retrained"
    fresh = run(spec, tmp_path / "fresh", executor=FakeExecutor())
    assert again.outcome.selection == fresh.outcome.selection
    assert again.outcome.decisions == fresh.outcome.decisions, "the old decisions are gone"
    assert again.summary.n_failed == 0


def test_an_old_store_that_selected_a_failed_config_is_shown_as_invalid(tmp_path):
    run(spec_file(tmp_path), tmp_path / "s", executor=FailingExecutor())
    with Store(tmp_path / "s") as store:  # what the code before this fix wrote
        store.set_meta(selection=store.configs()[0].id)
        store.delete_meta("no_valid_result")
    code, _, err = cli(["show", str(tmp_path / "s")])
    assert code == 1 and "has no successful instance" in err


# ---- 2: --dry-run -------------------------------------------------------------------------------
def test_dry_run_prints_the_plan_and_creates_nothing(tmp_path):
    spec = spec_file(tmp_path)
    code, out, err = cli(["run", str(spec), "--study-dir", str(tmp_path / "s"), "--dry-run"])
    assert code == 0, err
    assert "configs: 4" in out and "about 10 for the whole study, of 12" in out
    assert "would create it" in out and not (tmp_path / "s").exists()


def test_dry_run_on_an_existing_study_counts_what_is_stored_and_writes_nothing(tmp_path):
    spec = spec_file(tmp_path)
    done = run(spec, tmp_path / "s", executor=FakeExecutor())
    db = tmp_path / "s" / "study.sqlite"
    before = db.read_bytes()
    code, out, _ = cli(["run", str(spec), "--study-dir", str(tmp_path / "s"), "--dry-run"])
    assert code == 0 and f"resumes it ({done.outcome.n_trainings} trainings stored)" in out
    assert db.read_bytes() == before
    other = spec_file(tmp_path, **{"seed: 1": "seed: 2"})
    code, _, err = cli(["run", str(other), "--study-dir", str(tmp_path / "s"), "--dry-run"])
    one_line_error(code, err, "created from a different spec")


def test_a_study_dir_that_is_a_file_is_refused_by_the_dry_run_too(tmp_path):
    (tmp_path / "f").write_text("")
    for extra in ([], ["--dry-run"]):
        code, _, err = cli(["run", str(spec_file(tmp_path)), "--study-dir", str(tmp_path / "f"), *extra])
        one_line_error(code, err, str(tmp_path / "f"))


# ---- 3: settings that would be silently ignored ---------------------------------------------------
@pytest.mark.parametrize(("flags", "needle"), [
    (["--executor", "local", "--address", "auto"], "--address: only the ray executor"),
    (["--executor", "serial", "--address", "auto"], "--address: only the ray executor"),
    (["--executor", "serial", "--workers", "2"], "--workers: the serial executor"),
    (["--workers", "0"], "--workers: must be >= 1"),
])
def test_ignored_flags_are_refused(tmp_path, flags, needle):
    for extra in ([], ["--dry-run"]):
        code, _, err = cli(["run", str(spec_file(tmp_path)), "--study-dir", str(tmp_path / "s"), *flags, *extra])
        one_line_error(code, err, needle)
    assert not (tmp_path / "s").exists()


# ---- 4: tracebacks ---------------------------------------------------------------------------------
@pytest.fixture
def finished(tmp_path) -> Path:
    spec = spec_file(tmp_path)
    run(spec, tmp_path / "s", executor=FakeExecutor())
    return tmp_path / "s"


@pytest.mark.parametrize("damage", ["garbage", "truncated", "header_only"])
@pytest.mark.parametrize("command", ["status", "show", "results", "run"])
def test_a_damaged_store_is_one_line(finished, damage, command):
    db = finished / "study.sqlite"
    with sqlite3.connect(db) as conn:  # fold the WAL in, so the file is the whole store
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = db.read_bytes()
    for extra in finished.glob("study.sqlite-*"):
        extra.unlink()
    if damage == "garbage":
        db.write_bytes(b"\x00\xff" * 300)
    elif damage == "truncated":
        db.write_bytes(data[: len(data) // 2])
    else:
        db.write_bytes(b"SQLite format 3\x00" + b"\x17" * 200)
    argv = [command, str(finished)]
    if command == "run":
        argv = ["run", str(finished.parent / "spec.yaml"), "--study-dir", str(finished)]
    code, _, err = cli(argv)
    one_line_error(code, err, str(db))


def test_a_spec_that_is_not_utf8_is_one_line(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(b"name: caf\xe9\n")
    code, _, err = cli(["run", str(spec)])
    one_line_error(code, err, f"{spec}: not a text file in UTF-8")


def test_results_to_a_directory_or_an_unwritable_path_is_one_line(finished, tmp_path):
    code, _, err = cli(["results", str(finished), "-o", str(tmp_path)])
    one_line_error(code, err, f"--output: {tmp_path} is a directory")
    for fmt in ("csv", "json"):
        target = tmp_path / "no" / "such" / "dir" / "r.csv"
        code, _, err = cli(["results", str(finished), "--format", fmt, "-o", str(target)])
        one_line_error(code, err, f"--output: cannot write {target}")


@pytest.mark.parametrize("command", ["results DIR", "results DIR --format json", "show DIR --format json"])
def test_output_into_a_closed_pipe_ends_quietly(tmp_path, command):
    lrs = [0.0001 * (i + 1) for i in range(600)]  # ~190 kB of JSON: more than a pipe holds
    spec = parse_spec({"name": "pipe", "dataset": {"name": "digits"}, "model": "mlp",
                       "search_space": {"fixed": {"epochs": 1}, "product": {"lr": lrs}},
                       "instances": {"n": 3}, "metric": {"name": "val_loss"}, "strategy": "exhaustive"})
    run(spec, tmp_path / "s", executor=FakeExecutor())
    cmd = command.replace("DIR", str(tmp_path / "s"))
    p = subprocess.run(f"{sys.executable} -m stalwart {cmd} | head -2; exit ${{PIPESTATUS[0]}}",
                       shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=60)
    assert len(p.stdout.splitlines()) == 2
    assert p.stderr == "", p.stderr
    assert p.returncode == 141, "output cut short: the shell's status for SIGPIPE, not a success"


@pytest.mark.parametrize(("argv", "needle"), [
    ([], "stalwart: error: the following arguments are required: COMMAND (see stalwart --help)"),
    (["run"], "required: spec (see stalwart run --help)"),
    (["show"], "required: study_dir (see stalwart show --help)"),
    (["frob"], "invalid choice: 'frob'"),
    (["status", "x", "--bogus"], "unrecognized arguments: --bogus (see stalwart status --help)"),
    (["run", "x", "--workers", "two"], "argument --workers: invalid int value: 'two'"),
    (["replay"], "(see stalwart replay --help)"),
    (["results", "x", "--format", "xml"], "argument --format: invalid choice"),
])
def test_usage_errors_are_one_line(argv, needle):
    code, _, err = cli(argv)
    one_line_error(code, err, needle)


# ---- 5: rough edges ----------------------------------------------------------------------------------
def _progress_lines(spec, directory, executor) -> list[str]:
    console_out = io.StringIO()
    from rich.console import Console

    view = _ProgressView(Console(file=console_out, force_terminal=False, width=200), quiet=False)
    progress = Progress(on_start=view.on_start, on_result=view.on_result, on_decisions=view.on_decisions)
    try:
        run(spec, directory, executor=executor, progress=progress)
    except StudyInterrupted:
        pass
    return console_out.getvalue().splitlines()


def test_on_resume_the_counts_are_the_whole_studys(tmp_path):
    spec = spec_file(tmp_path, **{"instances: {n: 3, train_size: 1000}": "instances: {n: 3}",
                                  "lr: [0.001, 0.01, 0.003, 0.03]": "lr: [0.001, 0.01, 0.003, 0.03, 0.1, 0.3, 0.002, 0.02]"})
    whole = _progress_lines(spec, tmp_path / "a", FakeExecutor())
    _progress_lines(spec, tmp_path / "b", FakeExecutor(interrupt_after=18))
    resumed = _progress_lines(spec, tmp_path / "b", FakeExecutor())
    steps = [line for line in whole if line.startswith("step ")]
    assert steps and [line for line in resumed if line.startswith("step ")] == steps
    assert "18 trainings already in the store" in resumed[0]
    assert whole[0].split("; about")[1] == resumed[0].split("; about")[1]


def test_show_says_why_each_config_was_dropped(tmp_path):
    for strategy, needle in (("{name: halving, warmup: 2}", "worse than median; mean "),
                             ("{name: racing, start: 2, alpha: 0.5}", "p = ")):
        spec = spec_file(tmp_path, **{"{name: halving, warmup: 2}": strategy})
        d = tmp_path / strategy.split(",")[0][7:]
        done = run(spec, d, executor=FakeExecutor())
        assert done.valid
        code, out, _ = cli(["show", str(d)])
        assert code == 0 and "removed configs and why" in out
        assert needle in out, out


@pytest.mark.parametrize("command", ["status", "show", "results"])
def test_the_study_dir_argument_has_help(command):
    code, out, _ = cli([command, "--help"])
    assert code == 0 and "the study's directory" in out


def test_the_metric_check_still_loads_nothing(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a check loaded the dataset")

    monkeypatch.setattr(stalwart.data, "_load_cached", refuse)
    code, out, err = cli(["run", str(spec_file(tmp_path)), "--study-dir", str(tmp_path / "s"), "--dry-run"])
    assert code == 0, err
