"""Reading and writing wide result tables."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest

from stalwart.analysis.table import ResultTable, read_table, write_wide
from stalwart.core import Config
from stalwart.errors import TableError

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
CCT = DATA / "cct_cifar10_instances.csv"
CALORIMETER = DATA / "calorimeter_exhaustive.csv"


def _write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_authors_table_one_dt_len() -> None:
    table = read_table(CCT, filter={"dt_len": "10000"})
    assert (table.n_configs, table.n_instances) == (64, 20)
    assert table.metric == "ValAccuracy"
    assert table.times is not None and table.times.shape == (64, 20)
    assert table.config_ids[0].startswith("model_")  # the `model` column is the id
    assert table.params[0]["dt_len"] == 10000 and table.params[0]["depth"] in (6, 7)
    assert np.isfinite(table.values).all() and 0.5 < table.values.mean() < 1
    # the explicit patterns give the same table
    same = read_table(
        CCT,
        value_pattern="ValAccuracy_{i}",
        time_pattern="TrainingTime_{i}",
        filter={"dt_len": "10000"},
    )
    np.testing.assert_array_equal(same.values, table.values)
    assert read_table(CCT).n_configs == 192
    assert table.trained is None and table.notes == []  # every cell a finished instance


def test_our_calorimeter_table_reads_as_before() -> None:
    table = read_table(CALORIMETER)
    assert (table.n_configs, table.n_instances) == (36, 20)
    assert table.trained is None and table.notes == [] and np.isfinite(table.values).all()


def test_round_trip_of_the_wide_format(tmp_path: Path) -> None:
    table = ResultTable(
        config_ids=["a", "b"],
        params=[{"lr": 0.1, "act": "relu"}, {"lr": 0.01, "act": "gelu", "extra": [1, 2]}],
        values=np.array([[0.5, math.nan, 0.25], [1 / 3, 0.2, 0.1]]),
        times=np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]]),
        metric="val_loss",
    )
    path = tmp_path / "w.csv"
    write_wide(path, table)
    header = path.read_text().splitlines()[0]
    assert header == (
        "config_id,lr,act,extra,val_loss_1,val_loss_2,val_loss_3,time_1,time_2,time_3"
    )
    back = read_table(path)
    assert back.config_ids == ["a", "b"] and back.metric == "val_loss"
    np.testing.assert_array_equal(back.values, table.values)  # exact, NaN in place
    np.testing.assert_array_equal(back.times, table.times)
    assert back.params[0] == {"lr": 0.1, "act": "relu", "extra": None}
    stream = io.StringIO()
    write_wide(stream, table)
    assert stream.getvalue() == path.read_text()


def test_pattern_with_any_start_and_hashed_ids(tmp_path: Path) -> None:
    path = _write(tmp_path, "lr,acc0,acc1,t0,t1\n0.1,0.5,0.6,1,2\n0.2,NaN,0.7,3,4\n")
    table = read_table(path, value_pattern="acc{i}", time_pattern="t{i}")
    assert table.instance_labels == [0, 1] and table.metric == "acc"
    assert table.config_ids == [Config({"lr": 0.1}).id, Config({"lr": 0.2}).id]
    assert math.isnan(table.values[1, 0])  # literal NaN = failed instance
    assert table.total_time() == 10


def test_filter_and_param_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "n,lr,x_1,x_2\n10,0.1,1,2\n20.0,0.1,3,4\n20,0.2,5,6\n")
    table = read_table(path, filter={"n": "20"}, param_columns=["lr"])
    assert table.values.tolist() == [[3, 4], [5, 6]]  # 20.0 matches 20 numerically
    assert table.params == [{"lr": 0.1}, {"lr": 0.2}]


@pytest.mark.parametrize(
    ("text", "kwargs", "needle"),
    [
        ("id,v_1,v_2\na,1,2\n", {"value_pattern": "w_{i}"}, "no columns match --value-pattern"),
        ("id,v_1,v_2\na,1,2\n", {"value_pattern": "v_"}, "must contain '{i}'"),
        ("id,lr\na,1\n", {}, "no instance columns"),
        ("id,v_1,v_2,v_4\na,1,2,3\n", {}, "ragged: index 3 is missing"),
        ("id,v_1,v_2,time_1,time_2\na,1,2,1,1\nb,1,3,1,\n", {},
         "line 3, column 'time_2' is empty but 'v_2' is not"),
        ("id,v_1,v_2,time_1,time_2\na,1,2,1,1\nb,1,,1,4\n", {},
         "line 3, column 'v_2' is empty but 'time_2' is not"),
        ("id,v_1,time_1\na,1,-3\n", {}, "column 'time_1': '-3' is not a time in seconds"),
        ("id,v_1,time_1\na,1,inf\n", {}, "column 'time_1': 'inf' is not a time in seconds"),
        ("id,v_1,v_2\na,1,2\nb,1\n", {}, "line 3 has 2 cells"),
        ("id,v_1,v_2\na,1,2\nb,1,oops\n", {}, "line 3, column 'v_2': 'oops' is not a number"),
        ("id,v_1,v_2\na,1,2\na,1,2\n", {"id_column": "id"}, "duplicate config id 'a'"),
        ("id,v_1,v_2\na,1,2\n", {"id_column": "name"}, "no column 'name'"),
        ("id,v_1,v_2\na,1,2\n", {"param_columns": ["lr"]}, "no column 'lr'"),
        ("id,v_1,v_2\na,1,2\n", {"filter": {"id": "z"}}, "--filter id=z matches no row"),
        ("lr,v_1,v_2,time_1\n1,1,2,3\n", {}, "time columns have indices 1..1"),
        ("a_1,b_1\n1,2\n", {}, "several instance column families"),
    ],
)
def test_errors_are_one_line_and_name_the_culprit(
    tmp_path: Path, text: str, kwargs: dict, needle: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(TableError) as err:
        read_table(path, **kwargs)
    message = str(err.value)
    assert needle in message and "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="no such file"):
        read_table(tmp_path / "absent.csv")


def test_empty_cells_are_never_trained_and_nan_cells_failed(tmp_path: Path) -> None:
    # Before: an empty cell was refused as "ragged", so a study's own table could not be
    # read back; now it is an instance never trained, kept apart from a failed one.
    path = _write(tmp_path, "id,v_1,v_2,v_3,time_1,time_2,time_3\n"
                            "a,1,nan,,1,2,\nb,2,3,4,1,1,1\n")
    table = read_table(path)
    assert table.trained is not None
    assert table.trained.tolist() == [[True, True, False], [True, True, True]]
    assert table.n_missing == 1
    assert math.isnan(table.values[0, 1]) and math.isnan(table.values[0, 2])
    assert table.times is not None and table.times[0, 1] == 2  # the failed one ran
    assert table.total_time() == 6


def test_written_untrained_cells_read_back_untrained(tmp_path: Path) -> None:
    table = ResultTable(
        config_ids=["a", "b"],
        params=[{"lr": 0.1}, {"lr": 0.2}],
        values=np.array([[0.5, math.nan, math.nan], [0.1, 0.2, math.inf]]),
        times=np.array([[1.0, 2.0, math.nan], [1.0, 1.0, 1.0]]),
        metric="loss",
        trained=np.array([[True, True, False], [True, True, True]]),
    )
    path = tmp_path / "w.csv"
    write_wide(path, table)
    lines = path.read_text().splitlines()
    assert lines[1] == "a,0.1,0.5,nan,,1.0,2.0,"  # failed: nan; never trained: empty
    assert lines[2].endswith(",nan,1.0,1.0,1.0")  # inf is written as the failure it is
    back = read_table(path)
    np.testing.assert_array_equal(back.trained, table.trained)
    np.testing.assert_array_equal(back.values, [[0.5, math.nan, math.nan],
                                                [0.1, 0.2, math.nan]])
    assert back.notes == []


def test_inf_cells_count_as_failed_with_a_note(tmp_path: Path) -> None:
    path = _write(tmp_path, "id,v_1,v_2\na,1,inf\nb,-inf,1e999\n")
    table = read_table(path)
    assert np.isnan(table.values).tolist() == [[False, True], [True, True]]
    assert table.notes == [f"{path}: 3 cell(s) are inf (first: line 2, column 'v_2'); "
                           "counted as failed instances, like nan"]


def test_complete_keeps_the_columns_every_config_has(tmp_path: Path) -> None:
    path = _write(tmp_path, "model,v_1,v_2,v_3,v_4\na,1,2,,\nb,1,2,3,\nc,nan,2,3,4\n")
    table = read_table(path)
    with pytest.raises(TableError, match="3 cells were never trained"):
        table.require_complete()
    sub = table.complete(str(path))
    assert sub.config_ids == ["a", "b", "c"] and sub.instance_labels == [1, 2]
    assert sub.trained is None and sub.n_missing == 0
    np.testing.assert_array_equal(sub.values, [[1, 2], [1, 2], [math.nan, 2]])
    assert sub.complete() is sub
    sub.require_complete()


def test_complete_refuses_a_config_never_trained(tmp_path: Path) -> None:
    path = _write(tmp_path, "model,v_1,v_2\na,1,2\nb,,\n")
    with pytest.raises(TableError, match="config 'b' has no trained instance") as err:
        read_table(path).complete(str(path))
    assert "\n" not in str(err.value)
