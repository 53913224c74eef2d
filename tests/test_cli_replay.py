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

    code = main(["replay", table_csv, "--direction", "maximize", *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("stalwart: error: ") and needle in err
    assert err.count("\n") == 1 and "Traceback" not in err


# ---- settings that used to be ignored or adjusted without a word (issue 16) ----------


def _main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from stalwart.cli import main

    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def _refused(code: int, err: str, needle: str) -> None:
    assert code == 2, err
    assert err.startswith("stalwart: error: ") and needle in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        # the table has 6 instances: halving's warm-up was capped to 6, silently exhaustive
        (["--strategy", "halving", "--warmup", "7"], "--warmup 7: the table has 6 instances"),
        (["--strategy", "halving", "--param", "warmup=9"], "--param warmup 9: the table has 6"),
        (["--strategy", "halving", "--warmup", "3", "--n-instances", "2"],
         "--warmup 3: the table has 2 instances"),
        (["--strategy", "racing", "--param", "start=8"], "--param start 8: the table has 6"),
        # --order replays one order: --repeats was ignored
        (["--strategy", "halving", "--order", "0,1,2,3,4,5", "--repeats", "50"],
         "--repeats does not apply with --order"),
        (["--strategy", "halving", "--warmup", "2", "--param", "warmup=3"],
         "--warmup and --param warmup"),
        (["--strategy", "racing", "--param", "test=welch", "--param", "test=ks"],
         "--param test: given twice"),
        (["--strategy", "halving", "--filter", "group=x", "--filter", "group=y"],
         "--filter group: given twice"),
        (["--strategy", "halving", "--top-k", "9"], "--top-k: must be an integer >= 1 and <= 8"),
        (["--strategy", "halving", "--n-instances", "7"], "--n-instances: must be an integer"),
    ],
)
def test_settings_the_table_cannot_honour_are_refused(
    table_csv: str, capsys: pytest.CaptureFixture[str], extra: list[str], needle: str
) -> None:
    code, _, err = _main(["replay", table_csv, "--direction", "maximize", *extra], capsys)
    _refused(code, err, needle)


def _small_table(tmp_path: Path, rows: list[str], n: int = 4) -> str:
    header = ",".join(["model", *(f"acc_{i}" for i in range(1, n + 1))])
    path = tmp_path / "small.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return str(path)


def test_default_warmup_covering_the_table_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 8 configs x 5 instances = 40 cells: halving's default warm-up of 5 trains them all.
    rng = np.random.default_rng(1)
    rows = [",".join([f"m{c}", *(f"{0.5 + 0.01 * c + 0.01 * x:.4f}" for x in rng.random(5))])
            for c in range(8)]
    path = _small_table(tmp_path, rows, n=5)
    code, out, err = _main(["replay", path, "--strategy", "halving", "--direction",
                            "maximize", "--repeats", "3", "--format", "json"], capsys)
    assert code == 0
    assert err == ("stalwart: warning: halving's default warmup of 5 instances covers all 5 "
                   "instances per config of the table: the replay is an exhaustive search "
                   "(pass --warmup K with K < 5)\n")
    assert json.loads(out)["summary"]["trainings_fraction"] == 1.0
    # an explicit warm-up equal to the instances: the same warning, naming the flag
    code, _, err = _main(["replay", path, "--strategy", "halving", "--warmup", "5",
                          "--direction", "maximize", "--repeats", "3"], capsys)
    assert code == 0 and err.startswith("stalwart: warning: --warmup 5 covers all 5")
    code, _, err = _main(["replay", path, "--strategy", "halving", "--warmup", "2",
                          "--direction", "maximize", "--repeats", "3"], capsys)
    assert code == 0 and err == ""


def test_a_table_without_a_valid_result_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: exit 0 and P(best) 100%: the first row was "the best".
    path = _small_table(tmp_path, ["a,nan,nan,nan,nan", "b,nan,NaN,nan,nan"])
    code, _, err = _main(["replay", path, "--strategy", "halving", "--warmup", "1",
                          "--direction", "maximize"], capsys)
    _refused(code, err, "no valid result in the table: every instance of every config failed")
    path = _small_table(tmp_path, ["a,0.5,nan,0.4,0.3", "b,nan,0.6,0.5,0.4"])
    code, _, err = _main(["replay", path, "--strategy", "exhaustive",
                          "--direction", "maximize"], capsys)
    _refused(code, err, "every config has a failed (nan) instance")
    code, _, err = _main(["replay", path, "--strategy", "exhaustive", "--failures", "ignore",
                          "--direction", "maximize", "--repeats", "2"], capsys)
    assert code == 0 and err == ""


def test_inf_cells_count_as_failed_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _small_table(tmp_path, ["a,0.5,0.6,0.4,0.3", "b,0.7,inf,0.5,0.4", "c,0.6,0.6,0.6,0.6"])
    code, out, err = _main(["replay", path, "--strategy", "exhaustive", "--direction",
                            "maximize", "--repeats", "2", "--format", "json"], capsys)
    assert code == 0
    assert err == (f"stalwart: warning: {path}: 1 cell(s) are inf (first: line 3, column "
                   "'acc_2'); counted as failed instances, like nan\n")
    assert json.loads(out)["summary"]["best"] == "c"  # b failed, not the best by +inf


def test_warnings_never_precede_a_refusal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An error must stay one line even when the table also deserves a warning.
    path = _small_table(tmp_path, ["a,0.5,inf,0.4,", "b,0.7,0.5,0.5,0.4"])
    code, _, err = _main(["replay", path, "--strategy", "halving", "--direction", "maximize",
                          "--order", "1,0"], capsys)
    _refused(code, err, "--order: order has 2 values")


# ---- a replay a researcher can use on a big table --------------------------------------
def test_json_has_every_replay_with_survivors_and_tolerance(
    table_csv: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _main([
        "replay", table_csv, "--strategy", "racing", "--direction", "maximize",
        "--repeats", "4", "--tolerance", "0.005", "--format", "json",
    ], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["summary"]["tolerance"] == 0.005
    assert 0 <= doc["summary"]["p_within_tolerance"] <= 1
    assert len(doc["replays"]) == 4
    for rec in doc["replays"]:
        assert rec["selection"] in {f"c{i}" for i in range(8)}
        assert rec["survivors"][0] == [1, 8]  # counted in instances per config
        assert isinstance(rec["within_tolerance"], bool)


def test_tolerance_and_time_budget_in_the_text_summary(
    table_csv: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _main([
        "replay", table_csv, "--strategy", "halving", "--warmup", "2", "--direction",
        "maximize", "--repeats", "3", "--tolerance", "0.005", "--budget-seconds", "30",
    ], capsys)
    assert code == 0, err
    assert "P(regret <= 0.005)" in out and "budget 30 s" in out
    # Every training takes 2 s in this table: 15 trainings, then nothing starts.
    doc_code, doc, _ = _main([
        "replay", table_csv, "--strategy", "tpe_wilcoxon", "--direction", "maximize",
        "--repeats", "2", "--budget-seconds", "30", "--format", "json",
    ], capsys)
    assert doc_code == 0
    assert all(r["time"] <= 30 for r in json.loads(doc)["replays"])


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--budget-seconds", "0"], "--budget-seconds: must be a number > 0"),
        (["--tolerance", "-1"], "--tolerance: must be a number >= 0"),
        (["--param-columns", "lr,nope"], "--param-columns: no column 'nope'"),
        (["--param-columns", "lr,lr"], "--param-columns lr: given twice"),
    ],
)
def test_new_flags_are_checked(
    table_csv: str, capsys: pytest.CaptureFixture[str], extra: list[str], needle: str
) -> None:
    code, _, err = _main(["replay", table_csv, "--strategy", "racing", "--direction",
                          "maximize", "--repeats", "2", *extra], capsys)
    _refused(code, err, needle)


def test_a_time_budget_needs_time_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _small_table(tmp_path, ["a,0.1,0.2,0.3,0.4", "b,0.5,0.6,0.7,0.8"])
    code, _, err = _main(["replay", path, "--strategy", "racing", "--direction", "maximize",
                          "--budget-seconds", "10"], capsys)
    _refused(code, err, "has no time columns")


def _settings_table(tmp_path: Path) -> str:
    """lr x size: the same four learning rates at two dataset sizes."""
    rng = np.random.default_rng(0)
    lines = ["model,lr,size," + ",".join(f"acc_{i}" for i in range(1, 6))]
    for k, (lr, size) in enumerate((lr, size) for size in (100, 200) for lr in (1, 2, 3, 4)):
        cells = [f"{0.5 + 0.01 * lr + 0.005 * x:.4f}" for x in rng.random(5)]
        lines.append(",".join([f"m{k}", str(lr), str(size), *cells]))
    path = tmp_path / "settings.csv"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_a_forgotten_filter_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _settings_table(tmp_path)
    argv = ["replay", path, "--strategy", "halving", "--warmup", "2", "--direction",
            "maximize", "--repeats", "2", "--param-columns", "lr"]
    code, _, err = _main(argv, capsys)
    assert code == 0
    assert ("stalwart: warning: 8 rows share their values of lr with another row (e.g. 'm0' "
            "and 'm4', which differ only in size): a --filter is probably missing (e.g. "
            "--filter size=100)") in err
    code, _, err = _main([*argv, "--filter", "size=100"], capsys)
    assert code == 0 and "share" not in err


def test_tpe_on_rows_that_differ_only_by_id_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [f"m{c},{0.5 + 0.01 * c},{0.51 + 0.01 * c},{0.5 + 0.01 * c},{0.52 + 0.01 * c}"
            for c in range(6)]
    path = _small_table(tmp_path, rows)
    code, _, err = _main(["replay", path, "--strategy", "tpe", "--direction", "maximize",
                          "--repeats", "2", "--budget", "8"], capsys)
    assert code == 0
    assert "tpe: the rows differ only by their id" in err and "--param-columns" in err
    # Named columns the TPE baselines search: no warning on a grid.
    path = _settings_table(tmp_path)
    code, _, err = _main(["replay", path, "--strategy", "tpe", "--direction", "maximize",
                          "--repeats", "2", "--filter", "size=100", "--param-columns", "lr"],
                         capsys)
    assert code == 0 and "warning" not in err


def test_progress_on_request(table_csv: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _main(["replay", table_csv, "--strategy", "racing", "--direction",
                          "maximize", "--repeats", "20", "--progress"], capsys)
    assert code == 0
    lines = err.splitlines()
    assert lines[-1] == "racing: replay 20/20 (100%)" and len(lines) <= 12


def test_a_strategy_tolerance_and_the_reported_tolerance_are_apart(
    table_csv: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--param tolerance=` is adaptive's indifference zone, `--tolerance` the P(regret <= T)
    reported: both at once used to collide in a traceback."""
    rc = _run(["replay", table_csv, "--strategy", "adaptive", "--param", "tolerance=0.05",
               "--direction", "maximize", "--repeats", "3", "--tolerance", "0.01",
               "--format", "json"])
    out = capsys.readouterr().out
    assert rc == 0
    doc = json.loads(out)
    assert doc["summary"]["tolerance"] == 0.01
