"""Malformed specs, tables and command lines thrown at the CLI: never a traceback.

Every refusal is one line, ``stalwart: error: ...``, with exit status 2. Inputs that happen
to be valid may succeed (exit 0) or end without a valid result (exit 1), but nothing may
escape as an exception. Specs are checked with ``run --dry-run`` so that a valid mutant
does not start training. Together these throw 600 generated inputs (``derandomize``
keeps CI reproducible).
"""

from __future__ import annotations

import io
import sqlite3
import string
from contextlib import redirect_stderr, redirect_stdout

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stalwart.cli import main

SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

BASE_SPEC = {
    "name": "fuzz",
    "seed": 1,
    "dataset": {"name": "calorimeter", "task": "energy",
                "options": {"n_pool": 600, "n_val": 100, "n_test": 100}},
    "model": "small_cnn",
    "search_space": {"fixed": {"epochs": 1, "conv_channels": [4], "fc_sizes": [8]},
                     "product": {"lr": [0.001, 0.01]}},
    "instances": {"n": 3, "train_size": 200},
    "metric": {"name": "val_rmse_rel", "direction": "minimize"},
    "criterion": {"name": "mean"},
    "strategy": {"name": "halving", "warmup": 2},
    "budget": {"max_trainings": 20},
    "workers": 1,
    "training": {"threads": 1},
}

GARBAGE = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(string.ascii_lowercase, min_size=1, max_size=6), st.integers(), max_size=2),
    st.sampled_from(["", "-1", "nan", "inf", "maximize", "halving", "mean", "q3", "exhaustive",
                     "racing", "small_cnn", "mlp", "resnet18", "fashion_mnist", "digits",
                     "val_accuracy", "../x", "a:b", "1e999"]),
)


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's --help and usage errors
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return code, out.getvalue(), err.getvalue()


def assert_clean(code: int, err: str, argv: list[str]) -> None:
    assert "Traceback" not in err, (argv, err)
    assert code in (0, 1, 2), (argv, code, err)
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("stalwart: error: "), (argv, err)


def _paths(spec: dict, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(spec, dict):
        for k, v in spec.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(spec, list):
        for i, v in enumerate(spec):
            out += _paths(v, prefix + (i,))
    return out


PATHS = _paths(BASE_SPEC)


@st.composite
def mutated_specs(draw) -> str:
    spec = yaml.safe_load(yaml.safe_dump(BASE_SPEC))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent = spec
        try:
            for key in path[:-1]:
                parent = parent[key]
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "delete" and isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif action == "add" and isinstance(parent, dict):
                parent[draw(st.text(string.ascii_lowercase + "_", min_size=1, max_size=8))] = \
                    draw(GARBAGE)
            else:
                parent[path[-1]] = draw(GARBAGE)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed the path
    return yaml.safe_dump(spec, allow_unicode=True)


RAW_SPECS = st.one_of(
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
    st.text(max_size=80),
    st.sampled_from(["[1, 2", "name: [", "{}", "- a\n- b", "name: x\nseed: 1\n", "\x00\x01",
                     "dataset: {name: calorimeter}\n"]),
)


@settings(max_examples=250, **SETTINGS)
@given(text=st.one_of(mutated_specs(), mutated_specs(), RAW_SPECS))
def test_malformed_specs(tmp_path_factory, text: str) -> None:
    d = tmp_path_factory.mktemp("spec")
    spec = d / "spec.yaml"
    spec.write_text(text, encoding="utf-8", errors="surrogateescape")
    argv = ["run", str(spec), "--study-dir", str(d / "study"), "--dry-run"]
    code, _, err = run_cli(argv)
    assert_clean(code, err, argv)
    assert not (d / "study").exists(), "a dry run creates no study"


def test_spec_that_is_not_utf8(tmp_path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(b"name: \xff\xfe caf\xe9\n")
    code, _, err = run_cli(["run", str(spec), "--dry-run"])
    assert code == 2 and str(spec) in err, err
    assert_clean(code, err, [])


CELLS = st.one_of(
    st.floats(-5, 5, allow_nan=False).map(lambda x: f"{x:.4g}"),
    st.sampled_from(["", "nan", "NaN", "inf", "-inf", "abc", "1e999", " ", "0", "1", '"x,y"']),
)
HEADERS = st.lists(
    st.sampled_from(["model", "lr", "value_1", "value_2", "value_3", "time_1", "time_2",
                     "time_3", "acc_1", "acc_2", "ValAccuracy_1", "x", "", "value_0"]),
    min_size=1, max_size=7)


@st.composite
def tables(draw) -> str:
    header = draw(HEADERS)
    rows = draw(st.lists(st.lists(CELLS, min_size=0, max_size=len(header) + 1),
                         min_size=0, max_size=6))
    return "\n".join([",".join(header)] + [",".join(r) for r in rows]) + "\n"


REPLAY_FLAGS = st.lists(st.sampled_from([
    ["--strategy", "halving"], ["--strategy", "racing"], ["--strategy", "exhaustive"],
    ["--strategy", "random"], ["--strategy", "nope"], ["--criterion", "q3"],
    ["--criterion", "bogus"], ["--direction", "maximize"], ["--direction", "up"],
    ["--repeats", "3"], ["--repeats", "0"], ["--repeats", "-2"], ["--order", "0,1"],
    ["--order", "1,1"], ["--order", "x"], ["--warmup", "1"], ["--warmup", "0"],
    ["--budget", "2"], ["--budget", "-1"], ["--value-pattern", "value_{i}"],
    ["--value-pattern", "nope"], ["--time-pattern", "time_{i}"], ["--filter", "lr=1"],
    ["--filter", "bad"], ["--format", "json"], ["--trace"], ["--param", "alpha=2"],
    ["--param", "test=welch"], ["--param", "x"],
]), max_size=4)


@settings(max_examples=200, **SETTINGS)
@given(text=st.one_of(tables(), tables(), st.binary(max_size=40).map(lambda b: b.decode("latin-1"))),
       flags=REPLAY_FLAGS)
def test_malformed_tables(tmp_path_factory, text: str, flags: list[list[str]]) -> None:
    table = tmp_path_factory.mktemp("table") / "t.csv"
    table.write_text(text, encoding="utf-8", errors="surrogateescape")
    argv = ["replay", str(table), *[a for f in flags for a in f]]
    code, _, err = run_cli(argv)
    assert_clean(code, err, argv)


@pytest.fixture(scope="module")
def odd_paths(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("paths")
    (d / "dir").mkdir()
    (d / "garbage.bin").write_bytes(b"\x00\xff" * 50)
    (d / "corrupt").mkdir()
    (d / "corrupt" / "study.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x17" * 200)
    (d / "empty_db").mkdir()
    sqlite3.connect(d / "empty_db" / "study.sqlite").close()
    return {"DIR": str(d / "dir"), "GARBAGE": str(d / "garbage.bin"),
            "MISSING": str(d / "missing"), "CORRUPT": str(d / "corrupt"),
            "EMPTY": str(d / "empty_db"), "OUT": str(d / "dir" / "out.csv")}


TOKENS = ["run", "status", "show", "results", "replay", "eval", "--workers", "0", "-3", "2",
          "--executor", "ray", "serial", "local", "--address", "auto", "--format", "csv",
          "json", "xml", "-o", "--study-dir", "--quiet", "--dry-run", "--attacks", "pgd_linf",
          "nope", "--corruptions", "gaussian_noise", "--config", "--dataset", "digits", "--",
          "DIR", "GARBAGE", "MISSING", "CORRUPT", "EMPTY", "OUT", "--repeats", "x", "-h"]


@settings(max_examples=150, **SETTINGS)
@given(argv=st.lists(st.sampled_from(TOKENS), min_size=0, max_size=7))
def test_malformed_command_lines(odd_paths, argv: list[str]) -> None:
    argv = [odd_paths.get(a, a) for a in argv]
    if argv[:1] == ["run"] and "--dry-run" not in argv:
        argv.append("--dry-run")  # no fuzzed spec may start a training
    code, _, err = run_cli(argv)
    assert_clean(code, err, argv)
