"""Study -> ``stalwart results`` -> ``stalwart replay``: the round trip works, and a
replay never mistakes an instance that was never trained for one that failed."""

from __future__ import annotations

import csv
import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest

from stalwart.analysis.outcome import Reference
from stalwart.analysis.table import ResultTable, read_table
from stalwart.cli import main
from stalwart.errors import TableError

# Four configs, halving from a warm-up of 2 out of 4 instances: the eliminated configs
# never train their last instances (empty cells). lr=1e8 diverges: a failed instance
# (nan), which is trained and must stay distinct from the empty cells.
SPEC = textwrap.dedent("""
    name: round-trip
    seed: 1
    dataset: {name: calorimeter, task: energy, options: {n_pool: 600, n_val: 100, n_test: 100}}
    model: small_cnn
    search_space:
      fixed: {epochs: 1, conv_channels: [4], fc_sizes: [8]}
      product: {lr: [0.001, 0.003, 0.01, 1.0e+8]}
    instances: {n: 4, train_size: 200}
    metric: {name: val_rmse_rel, direction: minimize}
    criterion: {name: mean}
    strategy: {name: halving, warmup: 2}
    training: {threads: 1}
""")


@pytest.fixture(scope="module")
def study_table(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("round_trip")
    (d / "spec.yaml").write_text(SPEC)
    study = d / "study"
    assert main(["run", str(d / "spec.yaml"), "--study-dir", str(study), "--executor",
                 "serial", "--quiet"]) == 0
    out = d / "results.csv"
    assert main(["results", str(study), "--format", "csv", "-o", str(out)]) == 0
    return study, out


def test_results_keep_untrained_and_failed_apart(study_table: tuple[Path, Path]) -> None:
    _, path = study_table
    rows = {r["lr"]: r for r in csv.DictReader(path.open())}
    cells = {lr: [r[f"val_rmse_rel_{i}"] for i in range(1, 5)] for lr, r in rows.items()}
    assert cells["100000000.0"][:2] == ["nan", "nan"], "the diverged config failed"
    assert "" in [c for v in cells.values() for c in v], "halving left instances untrained"
    table = read_table(path)
    assert table.trained is not None and table.n_missing > 0
    diverged = table.index(rows["100000000.0"]["config_id"])
    assert table.trained[diverged, :2].all() and np.isnan(table.values[diverged, :2]).all()
    assert table.trained[:, :2].all(), "the warm-up trained every config"


def test_results_json_says_which_nulls_were_never_trained(
    study_table: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    study, _ = study_table
    assert main(["results", str(study), "--format", "json"]) == 0
    configs = json.loads(capsys.readouterr().out)["configs"]
    pairs = [(v, t) for c in configs for v, t in zip(c["values"], c["trained"], strict=True)]
    assert (None, True) in pairs, "a failed instance: trained, no value"
    assert (None, False) in pairs, "an instance never trained"
    assert all(v is None for v, t in pairs if not t), "no value for an untrained cell"


def test_replay_of_a_halving_study_uses_the_instances_every_config_has(
    study_table: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: exit 2, "line 2, column 'val_rmse_rel_3' is empty ... write nan".
    _, path = study_table
    code = main(["replay", str(path), "--strategy", "halving", "--warmup", "1",
                 "--direction", "minimize", "--repeats", "4", "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    warnings = captured.err.splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("stalwart: warning: ")
    assert "were never trained (empty); replaying the 2 instance(s) every config has" \
        in warnings[0]
    doc = json.loads(captured.out)
    assert doc["notes"] == [warnings[0].removeprefix("stalwart: warning: ")]
    s = doc["summary"]
    assert (s["n_configs"], s["n_instances"], s["exhaustive_trainings"]) == (4, 2, 8)
    table = read_table(path)
    lr = {cid: p["lr"] for cid, p in zip(table.config_ids, table.params, strict=True)}
    assert lr[s["best"]] != 1e8, "the diverged config is no best"
    assert math.isfinite(s["best_value"])


def test_reference_refuses_never_trained_cells() -> None:
    table = ResultTable(
        config_ids=["a", "b"], params=[{}, {}],
        values=np.array([[1.0, math.nan], [2.0, 3.0]]), times=None, metric="m",
        trained=np.array([[True, False], [True, True]]),
    )
    with pytest.raises(TableError, match="1 cells were never trained"):
        Reference.from_table(table, criterion="mean", direction="minimize")
    ref = Reference.from_table(table.complete(), criterion="mean", direction="minimize")
    assert ref.best == "a" and ref.trainings == 2


@pytest.mark.parametrize(
    ("values", "failures", "needle"),
    [
        ([[math.nan, math.nan], [math.nan, math.nan]], "worst", "every instance of every"),
        ([[math.nan, math.nan], [math.nan, math.nan]], "ignore", "every instance of every"),
        ([[1.0, math.nan], [math.nan, 2.0]], "worst", "every config has a failed .nan."),
    ],
)
def test_reference_refuses_a_table_without_a_valid_result(
    values: list[list[float]], failures: str, needle: str
) -> None:
    # Before: the first row was "the best" and every pick scored P(best) 100%.
    table = ResultTable(config_ids=["a", "b"], params=[{}, {}], values=np.array(values),
                        times=None, metric="m")
    with pytest.raises(TableError, match=needle):
        Reference.from_table(table, criterion="mean", direction="maximize", failures=failures)


def test_one_valid_config_is_enough() -> None:
    table = ResultTable(config_ids=["a", "b"], params=[{}, {}],
                        values=np.array([[1.0, math.nan], [math.nan, 2.0]]), times=None,
                        metric="m")
    ref = Reference.from_table(table, criterion="mean", direction="maximize", failures="ignore")
    assert ref.best == "b"


def test_a_single_replay_refuses_never_trained_cells():
    from stalwart.analysis.replay import replay
    from stalwart.errors import TableError

    values = np.array([[0.1, 0.2], [0.3, np.nan]])
    trained = np.array([[True, True], [True, False]])
    table = ResultTable(config_ids=["a", "b"], params=[{}, {}], values=values, times=None,
                        metric="loss", trained=trained)
    with pytest.raises(TableError, match="never trained"):
        replay(table, "exhaustive", criterion="mean", direction="minimize")
    assert replay(table.complete(), "exhaustive", criterion="mean",
                  direction="minimize").selection == "a"
