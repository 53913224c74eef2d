"""The `stalwart replay` command."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from stalwart.analysis.table import ResultTable, write_wide
from stalwart.cli import replay as replay_cmd


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stalwart")
    replay_cmd.register(parser.add_subparsers(dest="command"))
    return parser


def _run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return args.func(args)


@pytest.fixture()
def table_csv(tmp_path: Path) -> str:
    rng = np.random.default_rng(0)
    n_configs, n_instances = 8, 6
    values = (0.5 + 0.01 * np.arange(n_configs))[:, None] + 0.003 * rng.standard_normal(
        (n_configs, n_instances)
    )
    table = ResultTable(
        config_ids=[f"c{i}" for i in range(n_configs)],
        params=[{"lr": 0.1 * (i + 1), "group": "x" if i < 4 else "y"} for i in range(n_configs)],
        values=values,
        times=np.full((n_configs, n_instances), 2.0),
        metric="acc",
    )
    path = tmp_path / "wide.csv"
    write_wide(path, table)
    return str(path)


def test_json_summary(table_csv: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = _run([
        "replay", table_csv, "--strategy", "halving", "--warmup", "2", "--direction",
        "maximize", "--repeats", "5", "--format", "json",
    ])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    s = doc["summary"]
    assert s["strategy"] == "halving" and s["params"] == {"warmup": 2} and s["repeats"] == 5
    assert s["best"] == "c7" and 0 < s["trainings_fraction"] < 1
    assert set(s) >= {"p_best", "p_near_best", "p_top_k", "regret_median", "regret_p90"}


def test_one_order_with_trace(table_csv: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = _run([
        "replay", table_csv, "--strategy", "racing", "--param", "test=welch",
        "--param", "start=2", "--direction", "maximize", "--order", "5,4,3,2,1,0", "--trace",
    ])
    out = capsys.readouterr().out
    assert code == 0
    assert "racing: one replay" in out and "5,4,3,2,1,0" in out and "racing: trace" in out
    assert "selected" in out


def test_filter_and_baseline_table_output(
    table_csv: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run([
        "replay", table_csv, "--strategy", "random", "--filter", "group=y", "--direction",
        "maximize", "--repeats", "3", "--budget", "12",
    ])
    out = capsys.readouterr().out
    assert code == 0 and "P(near-best)" in out and "4 configs x 6 instances" in out


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--strategy", "hyperband"], "--strategy 'hyperband' is unknown"),
        (["--strategy", "halving", "--order", "0,1"], "--order: order has 2 values"),
        (["--strategy", "halving", "--order", "0,1,2,3,4,4"], "not a permutation"),
        (["--strategy", "halving", "--order", "a,b"], "comma-separated integers"),
        (["--strategy", "halving", "--param", "oops"], "--param 'oops': expected KEY=VALUE"),
        (["--strategy", "halving", "--param", "speed=3"], "unknown parameter(s) speed"),
        (["--strategy", "racing", "--warmup", "3"], "--warmup applies to halving"),
        (["--strategy", "halving", "--criterion", "nope"], "--criterion: unknown criterion"),
        (["--strategy", "halving", "--filter", "zzz=1"], "no column 'zzz'"),
    ],
)
def test_bad_flags_exit_2_with_one_line(
    table_csv: str, capsys: pytest.CaptureFixture[str], extra: list[str], needle: str
) -> None:
    from stalwart.cli import main

    code = main(["replay", table_csv, "--direction", "maximize", "--repeats", "2", *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("stalwart: error: ") and needle in err
    assert err.count("\n") == 1 and "Traceback" not in err
