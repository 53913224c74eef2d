"""stalwart report on replay results, the selection benchmark's table and an analysis
result; and the one-line errors for anything else."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from stalwart.analysis.replay import replay_many
from stalwart.analysis.table import ResultTable, write_wide
from stalwart.cli import main
from stalwart.errors import UserError
from stalwart.report.analysis_page import analysis_page
from stalwart.report.build import build_report
from stalwart.report.load import benchmark_rows, detect
from stalwart.selection import get_criterion

ROOT = Path(__file__).resolve().parents[2]


def small_table(n_configs: int = 12, n_instances: int = 6) -> ResultTable:
    rng = np.random.default_rng(3)
    means = 0.5 + 0.01 * np.arange(n_configs)
    return ResultTable(
        config_ids=[f"c{i}" for i in range(n_configs)],
        params=[{"a": i % 4, "b": i // 4} for i in range(n_configs)],
        values=means[:, None] + 0.004 * rng.standard_normal((n_configs, n_instances)),
        times=np.repeat(1.0 + np.arange(n_configs, dtype=float)[:, None], n_instances, axis=1),
        metric="acc")


@pytest.fixture(scope="module")
def replay_dir(tmp_path_factory) -> Path:
    """What `stalwart replay --format json` prints, for two strategies and one trace."""
    d = tmp_path_factory.mktemp("replays")
    csv = d / "table.csv"
    write_wide(csv, small_table())
    runs = {"halving": ["--strategy", "halving", "--warmup", "2"],
            "racing": ["--strategy", "racing", "--param", "test=welch"]}
    out = d / "json"
    out.mkdir()
    for name, flags in runs.items():
        doc = _replay_json([str(csv), *flags, "--criterion", "mean", "--direction", "maximize",
                            "--repeats", "4", "--tolerance", "0.01", "--format", "json"])
        (out / f"{name}.json").write_text(doc)
    trace = _replay_json([str(csv), "--strategy", "halving", "--warmup", "2", "--trace",
                          "--repeats", "3", "--criterion", "mean", "--direction", "maximize",
                          "--format", "json"])
    (d / "trace.json").write_text(trace)
    return d


def _replay_json(args: list[str]) -> str:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        assert main(["replay", *args]) == 0
    return buf.getvalue()


def test_replays_of_several_strategies_are_compared(replay_dir, tmp_path):
    source = detect(replay_dir / "json")
    assert source.kind == "replay" and len(source.docs) == 2
    out = tmp_path / "r.html"
    assert main(["report", str(replay_dir / "json"), "-o", str(out)]) == 0
    text = out.read_text()
    assert '<section id="tradeoff">' in text and '<section id="survivors">' in text
    assert text.count("<img ") == 2 and "P(best)" in text and "P(regret &lt;= tol)" in text
    assert "halving" in text and "racing" in text and "test=welch" in text


def test_a_single_replay_with_its_trace(replay_dir):
    report = build_report(replay_dir / "trace.json")
    assert "One replay" in report.html and "worse than median" in report.html
    assert report.html.count("<img ") == 2


def benchmark_markdown() -> str:
    """The selection benchmark's own table (benchmarks/selection.py's markdown)."""
    spec = importlib.util.spec_from_file_location("selection_bench",
                                                  ROOT / "benchmarks" / "selection.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # its dataclasses look their module up
    try:
        spec.loader.exec_module(bench)
    finally:
        del sys.modules[spec.name]
    table = small_table()
    jobs = []
    for name, params in (("halving", {"warmup": 2}), ("racing", {}), ("random", {})):
        job = bench.Job("tiny", table, name, params, 3, 0, "mean", "maximize",
                        budget=40 if name == "random" else None, tolerance=0.01)
        job.summary = replay_many(table, name, criterion=get_criterion("mean"),
                                  direction="maximize", repeats=3, seed=0, top_k=3,
                                  budget=job.budget, report_tolerance=0.01, **params)
        jobs.append(job)
    return bench.markdown(jobs, "python benchmarks/selection.py --repeats 3")


def test_the_selection_benchmark_table_is_drawn(tmp_path):
    md = tmp_path / "bench.md"
    md.write_text("Some text first.\n\n" + benchmark_markdown() + "\n")
    rows = benchmark_rows(md.read_text())
    assert [r["method"] for r in rows] == ["halving", "racing", "random"]
    report = build_report(md)
    assert report.source.kind == "benchmark"
    assert report.html.count("<img ") == 1 and "budget=40" in report.html
    readme = ROOT / "benchmarks" / "README.md"
    if readme.is_file():  # the committed results parse too
        assert len(benchmark_rows(readme.read_text())) > 10


def stand_in_figures(result: dict) -> list[tuple[str, Figure]]:
    fig = Figure(figsize=(4, 3))
    fig.subplots().plot(result["curve"])
    return [("a <b>curve</b>", fig)]


def stand_in_tables(result: dict) -> list[tuple[str, pd.DataFrame]]:
    return [("effects", pd.DataFrame({"factor": ["lr", "<i>depth</i>"], "effect": [0.1, 0.02]}))]


def test_an_analysis_result_is_laid_out(tmp_path):
    result = {"name": "<script>x</script>", "curve": [1, 3, 2]}
    page = analysis_page(result, tmp_path / "analysis.json", figures=stand_in_figures,
                         tables=stand_in_tables).render()
    assert page.count("<img ") == 1 and "&lt;b&gt;curve&lt;/b&gt;" in page
    assert "&lt;i&gt;depth&lt;/i&gt;" in page and "<script" not in page
    (tmp_path / "analysis.json").write_text(json.dumps(result))
    assert detect(tmp_path).kind == "analysis"


def test_an_analysis_result_with_the_real_figures(tmp_path, capsys):
    pytest.importorskip("stalwart.report.analysis_figures")
    pytest.importorskip("stalwart.cli.analyze")
    small = ROOT / "tests" / "data" / "robust_benchmark_small.csv"
    if not small.is_file():
        pytest.skip(f"{small} is missing")
    assert main(["analyze", str(small), "--out", str(tmp_path / "an")]) == 0
    capsys.readouterr()
    out = tmp_path / "an.html"
    assert main(["report", str(tmp_path / "an"), "-o", str(out)]) == 0
    text = out.read_text()
    assert "Borda" in text and text.count("<img ") >= 2 and "<table>" in text
    assert detect(tmp_path / "an" / "analysis.json").kind == "analysis"


@pytest.mark.parametrize(("setup", "args", "needle"), [
    (None, ["missing-dir"], "missing-dir: no such file or directory"),
    ("empty-dir", ["{d}"], "nothing to report here"),
    ("bad.json", ["{d}/bad.json"], "not valid JSON"),
    ("other.json", ["{d}/other.json"], "a JSON file of unknown shape"),
    ("notes.txt", ["{d}/notes.txt"], "not a report input"),
    (None, ["{d}", "--interval", "3"], "--interval applies only with --watch"),
    ("empty-dir", ["{d}", "--watch", "--interval", "0"], "--interval: must be"),
    ("replay", ["{d}/r.json", "--watch"], "--watch: only a study changes"),
    ("replay", ["{d}/r.json", "-o", "{d}"], "is a directory"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, setup, args, needle):
    if setup == "empty-dir":
        pass
    elif setup == "bad.json":
        (tmp_path / "bad.json").write_text("{not json")
    elif setup == "other.json":
        (tmp_path / "other.json").write_text('{"hello": 1}')
    elif setup == "notes.txt":
        (tmp_path / "notes.txt").write_text("just words\n")
    elif setup == "replay":
        summary = {"strategy": "halving", "p_best": 0.5, "trainings_fraction": 0.3}
        (tmp_path / "r.json").write_text(json.dumps({"summary": summary}))
    argv = [a.format(d=tmp_path) for a in args]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        rc = main(["report", *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and needle in err[0], err


def test_detect_refuses_a_directory_of_foreign_json(tmp_path):
    (tmp_path / "x.json").write_text("[1, 2]")
    with pytest.raises(UserError, match="not a replay result"):
        detect(tmp_path)
