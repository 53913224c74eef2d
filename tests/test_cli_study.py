"""The study commands as a user runs them: run, status, show, results, and bad input."""

import csv
import json
import subprocess
import sys
import textwrap

import pytest

from stalwart.cli import main

SPEC = textwrap.dedent("""
    name: digits-cli
    seed: 3
    dataset: {name: digits}
    model: mlp
    search_space:
      fixed: {epochs: 2, hidden_sizes: [16], batch_size: 32}
      product: {lr: [0.003, 0.03, 0.3], optimizer: [adam, sgd]}
    instances: {n: 3, train_size: 400}
    metric: {name: val_accuracy, direction: maximize}
    criterion: mean
    strategy: {name: halving, warmup: 2}
""")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    spec = d / "spec.yaml"
    spec.write_text(SPEC)
    rc = main(["run", str(spec), "--study-dir", str(d / "study"), "--executor", "serial", "--quiet"])
    assert rc == 0
    return d


def test_show_names_selection_and_saving(study, capsys):
    assert main(["show", str(study / "study")]) == 0
    out = capsys.readouterr().out
    assert "selected" in out and "of 18 exhaustive" in out and "elimination steps" in out


def test_show_json_and_status(study, capsys):
    assert main(["show", str(study / "study"), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["selection"]["config_id"] and doc["trainings"] < doc["trainings_exhaustive"] == 18
    removed = [d for d in doc["decisions"] if d["action"] == "removed"]
    assert removed and all(d["threshold"] is not None for d in removed)
    assert main(["status", str(study / "study")]) == 0
    assert "finished" in capsys.readouterr().out


def test_results_wide_csv_and_json(study, capsys, tmp_path):
    out = tmp_path / "r.csv"
    assert main(["results", str(study / "study"), "--format", "csv", "-o", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 6
    assert {"config_id", "lr", "optimizer", "val_accuracy_1", "val_accuracy_3", "time_1"} <= set(rows[0])
    assert main(["results", str(study / "study"), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["metric"] == "val_accuracy" and len(doc["configs"]) == 6


def test_rerun_of_a_finished_study_trains_nothing(study, capsys):
    before = (study / "study" / "study.sqlite").stat().st_size
    assert main(["run", str(study / "spec.yaml"), "--study-dir", str(study / "study"),
                 "--executor", "serial", "--quiet"]) == 0
    assert "selected" in capsys.readouterr().out
    assert (study / "study" / "study.sqlite").stat().st_size >= before


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "stalwart", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_bad_spec_is_one_line_exit_2(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(SPEC.replace("lr: [0.003, 0.03, 0.3]", "lr: [0.003, 0.03, -0.3]"))
    p = run_cli("run", str(spec), "--study-dir", str(tmp_path / "s"))
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        "stalwart: error: search_space.product.lr[2]: must be > 0"] or \
        p.stderr.startswith("stalwart: error: search_space.product.lr[2]:"), p.stderr
    assert "Traceback" not in p.stderr


@pytest.mark.parametrize("args,needle", [
    (("run", "missing.yaml"), "missing.yaml: no such spec file"),
    (("show", "no-such-dir"), "no-such-dir: no study here"),
    (("results", "no-such-dir", "--format", "csv"), "no-such-dir: no study here"),
])
def test_missing_inputs_are_one_line_exit_2(tmp_path, args, needle):
    p = run_cli(*args, cwd=tmp_path)
    assert p.returncode == 2 and needle in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_wrong_metric_for_dataset(tmp_path):
    spec = tmp_path / "m.yaml"
    spec.write_text(SPEC.replace("name: val_accuracy", "name: val_rmse_rel"))
    p = run_cli("run", str(spec), "--study-dir", str(tmp_path / "s"))
    assert p.returncode == 2 and "metric.name: 'val_rmse_rel' is not reported" in p.stderr


def test_results_of_a_halving_study_leave_untrained_cells_empty(study, tmp_path):
    out = tmp_path / "r.csv"
    assert main(["results", str(study / "study"), "-o", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    cells = [r[f"val_accuracy_{i}"] for r in rows for i in (1, 2, 3)]
    assert "" in cells, "eliminated configs never ran their third instance"
    from stalwart.analysis.table import read_table

    read_table(out)  # the round trip study -> results -> replay (tested in tests/analysis)
