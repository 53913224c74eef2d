"""The `stalwart analyze` command: tables, JSON, files, and one-line refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import stalwart.cli as cli
from stalwart.analysis.benchmark.result import KEYS

SMALL = Path(__file__).resolve().parent / "data" / "robust_benchmark_small.csv"


@pytest.fixture(autouse=True)
def _only_analyze(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real `stalwart` parser and error handling, with this command only."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("stalwart.cli.analyze",))


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = cli.main(["analyze", *argv])
    except SystemExit as exc:  # argparse's own usage errors exit from the parser
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _csv(tmp_path: Path, frame: pd.DataFrame, name: str = "t.csv") -> str:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def test_default_tables(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run([str(SMALL)], capsys)
    assert code == 0 and err == ""
    assert "layout heuillet2025" in out
    for protocol in ("CE/full", "TRADES/full", "CE/linear", "TRADES/linear"):
        assert f"Borda, protocol {protocol}" in out
    assert "Spearman rho between metrics" in out


def test_json_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run([str(SMALL), "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert tuple(doc) == KEYS
    full = next(r for r in doc["borda"] if r["protocol"] == "CE/full")
    assert {e["config"]: e["points"] for e in full["ranking"]} == {
        "convnext_t": 7.0, "resnet50": 6.5, "vit_s": 4.5}


def test_every_analysis_and_the_out_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "analysis"
    code, out, err = _run([
        str(SMALL), "--agreement", "CE/full,CE/linear",
        "--anova", "Linf_acc", "--factors", "loss_function,ft_strategy",
        "--tukey", "model_type", "--fisher", "ft_strategy:full>linear",
        "--fisher", "model_type:cnn>vit", "--match", "loss_function,ft_strategy,dataset",
        "--test-metrics", "Linf_acc", "--out", str(out_dir),
    ], capsys)
    assert code == 0, err
    for title in ("Spearman agreement, CE/full vs CE/linear", "ANOVA (type II)",
                  "Tukey HSD, Linf_acc by model_type", "Fisher's exact test"):
        assert title in out
    doc = json.loads((out_dir / "analysis.json").read_text())
    # one --match for both tests, each without its own factor: full>linear is paired on
    # loss and dataset (the runs of each side averaged): full wins all 4 pairs on Linf
    assert [(f["factor"], f["wins_a"], f["wins_b"], f["ties"]) for f in doc["fisher"]] == [
        ("ft_strategy", 4, 0, 0), ("model_type", 2, 5, 1)]
    assert doc["fisher"][0]["matched_on"] == ["loss_function", "dataset"]
    assert doc["fisher"][1]["matched_on"] == ["loss_function", "ft_strategy", "dataset"]
    borda = pd.read_csv(out_dir / "borda.csv")
    assert len(borda) == 12
    assert list(borda.columns[:3]) == ["protocol", "rank", "config"]
    assert borda.loc[borda.protocol == "CE/linear", "rank"].tolist() == [1, 1, 3]


def test_fisher_by_default_pairs_on_the_other_roles(
    capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run([str(SMALL), "--fisher", "loss_function:TRADES>CE", "--json"], capsys)
    assert code == 0
    linf = next(f for f in json.loads(out)["fisher"] if f["metric"] == "Linf_acc")
    assert linf["matched_on"] == ["backbone_name", "ft_strategy", "dataset"]
    assert (linf["wins_a"], linf["wins_b"], linf["ties"]) == (10, 1, 1)
    assert linf["table"] == [[10, 1], [1, 10]] and linf["odds_ratio"] == 100


def test_lower_is_better_and_explicit_roles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = pd.read_csv(SMALL).rename(columns={"backbone_name": "arch", "dataset": "task"})
    table["error"] = 1 - table["clean_acc"]
    path = _csv(tmp_path, table)
    code, out, _ = _run([path, "--config", "arch", "--protocol", "loss_function,ft_strategy",
                         "--block", "task", "--metrics", "error",
                         "--lower-is-better", "error", "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["roles"]["layout"] is None and doc["roles"]["lower_is_better"] == ["error"]
    full = next(r for r in doc["borda"] if r["protocol"] == "CE/full")
    # clean accuracy ranking: c10 r=c tie 1.5, v 0; flowers c 2, r 1, v 0
    assert {e["config"]: e["points"] for e in full["ranking"]} == {
        "convnext_t": 3.5, "resnet50": 2.5, "vit_s": 0.0}
    code, out, _ = _run([path, "--config", "arch", "--protocol", "", "--block", "task",
                         "--metrics", "error", "--json"], capsys)
    assert code == 0 and [r["protocol"] for r in json.loads(out)["borda"]] == ["all"]


def test_missing_cells_note_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = pd.read_csv(SMALL)
    gap = (table.backbone_name == "vit_s") & (table.ft_strategy == "full") & (
        table.loss_function == "CE") & (table.dataset == "flowers")
    code, out, err = _run([_csv(tmp_path, table[~gap]), "--json"], capsys)
    assert code == 0
    assert err.startswith("stalwart: note: Borda, protocol CE/full: ranked over the 2 ")
    assert "vit_s lacks flowers (every metric)" in err
    assert json.loads(out)["notes"] == [err.removeprefix("stalwart: note: ").strip()]


def _variant(tmp_path: Path, name: str) -> str:
    """The fixture with one fault."""
    table = pd.read_csv(SMALL)
    if name == "text_metric":
        table = table.astype({"Linf_acc": object})
        table.loc[4, "Linf_acc"] = "n/a!"
    elif name == "constant_metric":
        table["common_acc"] = 0.5
    elif name == "one_level":
        table["optimizer"] = "sgd"
    elif name == "gap":
        keep = (table.backbone_name == "resnet50") | (table.dataset != "flowers") | (
            table.ft_strategy != "full") | (table.loss_function != "CE")
        table = table[keep]
    elif name == "no_layout":
        table = table.rename(columns={"backbone_name": "arch"})
    return _csv(tmp_path, table, f"{name}.csv")


@pytest.mark.parametrize(("variant", "flags", "names"), [
    (None, ["--config", "arch"], "--config: no column 'arch'"),
    (None, ["--metrics", "clean_acc,L2_acc"], "--metrics: no column 'L2_acc'"),
    ("text_metric", [], "--metrics: column 'Linf_acc' is not numeric (row 5: 'n/a!')"),
    ("constant_metric", [], "--metrics: column 'common_acc' is constant"),
    ("one_level", ["--tukey", "optimizer"], "--tukey: column 'optimizer' has one level"),
    ("one_level", ["--anova", "Linf_acc", "--factors", "optimizer"],
     "--factors: column 'optimizer' has one level"),
    ("gap", [], "Borda, protocol CE/full: 1 configuration(s)"),
    ("no_layout", [], "--config is required"),
    (None, ["--anova", "Linf_acc", "--factors", "backbone_name,model_type"], "confounded"),
    (None, ["--anova", "Linf_acc"], "--anova: needs --factors"),
    (None, ["--factors", "dataset"], "--factors: given without --anova"),
    (None, ["--tukey", "nope"], "--tukey: no column 'nope'"),
    (None, ["--fisher", "loss_function:MART>CE"], "no level 'MART'"),
    (None, ["--fisher", "loss_function"], "expected FACTOR:A>B"),
    (None, ["--fisher", "model_type:cnn>vit"], "--match loss_function,ft_strategy,dataset"),
    (None, ["--agreement", "CE/full"], "--agreement 'CE/full': expected two protocols"),
    (None, ["--agreement", "CE/full,CE/long"], "--agreement: no protocol 'CE/long'"),
    (None, ["--lower-is-better", "seed"], "--lower-is-better seed: not one of the metrics"),
    (None, ["--test-metrics", "seed", "--tukey", "dataset"], "--test-metrics seed"),
    (None, ["--alpha", "2", "--tukey", "dataset"], "--alpha: must be in (0, 1)"),
    (None, ["--bogus"], "unrecognized arguments: --bogus"),
])
def test_refusals_are_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], variant: str | None,
    flags: list[str], names: str,
) -> None:
    path = _variant(tmp_path, variant) if variant else str(SMALL)
    code, out, err = _run([path, *flags], capsys)
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("stalwart: error: ")
    assert names in lines[0]


def test_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run([str(tmp_path / "none.csv")], capsys)
    assert code == 2 and "none.csv: no such file" in err
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, _, err = _run([str(empty)], capsys)
    assert code == 2 and err.strip() == f"stalwart: error: {empty}: empty file"


OURS = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "robust_finetuning.csv"


def test_the_committed_fine_tuning_table_reads_as_is(capsys: pytest.CaptureFixture[str]) -> None:
    """stalwart's own benchmark table (benchmarks/robust_finetuning.py): roles found from its
    columns, every protocol ranked over every backbone, the tests run."""
    code, out, err = _run([str(OURS), "--json", "--tukey", "backbone", "--anova", "linf_acc",
                           "--factors", "backbone,training_loss,protocol",
                           "--fisher", "training_loss:TRADES>AT"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["roles"]["layout"] == "stalwart" and doc["roles"]["block"] == "target"
    assert len(doc["borda"]) == 6  # {AT, TRADES} x {fft_long, fft_short, lp}
    for ranking in doc["borda"]:
        assert ranking["n_configs"] == 6 and not ranking["excluded"]
        points = sorted(e["points"] for e in ranking["ranking"])
        # 2 targets x 5 metrics, 0..5 points each: the points always sum to 10 * 15
        assert sum(points) == pytest.approx(150.0)
    assert doc["fisher"][0]["n_pairs"] == 36
