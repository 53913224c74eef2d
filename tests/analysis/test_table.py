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

CCT = Path(__file__).resolve().parents[3] / "shared" / "data" / "cct_cifar10_instances.csv"


def _write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.skipif(not CCT.is_file(), reason="shared/data/cct_cifar10_instances.csv absent")
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
        ("id,v_1,v_2\na,1,2\nb,1,\n", {}, "line 3, column 'v_2' is empty"),
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
