"""``stalwart analyze TABLE.csv``: the statistics of a robustness benchmark table.

Examples
--------
::

    # the table of Heuillet et al. (arXiv 2508.14079) reads as it is
    stalwart analyze results.csv
    stalwart analyze results.csv --agreement CE/fft_short,CE/fft_long \\
        --anova Linf_acc --factors loss_function,ft_strategy,model_type \\
        --tukey model_type --fisher pre_training_strategy:supervised>self_supervised \\
        --match loss_function,ft_strategy,dataset --out analysis/

    # any other table: say what the columns are
    stalwart analyze runs.csv --config arch,width --protocol recipe --block task \\
        --metrics acc,robust_acc,ece --lower-is-better ece --json

One row per run; the roles (:mod:`stalwart.analysis.benchmark.roles`) say which columns
identify a configuration, group runs into protocols, block the rankings, and measure.
Always printed: the Borda ranking of every protocol and the metrics' Spearman agreement;
the rest on request. ``--out DIR`` writes ``borda.csv`` and ``analysis.json`` (every
result; what ``stalwart.report.analysis_figures`` draws). A note (configurations left out
of a ranking for missing cells, runs left out for empty metric cells) goes to standard
error as ``stalwart: note: ...``; a refusal is one line, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from stalwart.errors import UserError


def register(subparsers: Any) -> None:
    """Add the ``analyze`` subcommand to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "analyze",
        help="statistics of a robustness benchmark table: Borda, ANOVA, Tukey, Fisher",
        description="Rank configurations of a benchmark table (one row per run) by Borda "
        "count within each protocol, and test which factors matter: type II ANOVA with "
        "effect sizes, Tukey HSD with letters, Fisher's exact test on matched wins, "
        "Spearman agreement between metrics and between protocols.",
    )
    p.add_argument("table", help="CSV with one row per run: factor and metric columns")
    roles = p.add_argument_group(
        "column roles (default: those of a known layout, e.g. the Heuillet et al. table)"
    )
    roles.add_argument("--config", metavar="COLS",
                       help="columns identifying a configuration (what is ranked)")
    roles.add_argument("--protocol", metavar="COLS",
                       help="columns grouping runs into protocols, each ranked separately "
                       "('' for none: one protocol)")
    roles.add_argument("--block", metavar="COL", help="column rankings are repeated over "
                       "(the dataset)")
    roles.add_argument("--metrics", metavar="COLS", help="metric columns (higher is better)")
    roles.add_argument("--lower-is-better", metavar="COLS", default="",
                       help="metrics where lower is better")
    tests = p.add_argument_group("analyses")
    tests.add_argument("--agreement", action="append", default=[], metavar="A,B",
                       help="Spearman agreement of two protocols' rankings, per block and "
                       "pooled; a protocol is named by its columns' values joined by '/', "
                       "e.g. CE/fft_short,CE/fft_long (repeatable)")
    tests.add_argument("--anova", metavar="METRICS",
                       help="type II ANOVA of these numeric columns on --factors")
    tests.add_argument("--factors", metavar="COLS", help="the factors of --anova")
    tests.add_argument("--interactions", action="store_true",
                       help="--anova with the factors' interactions")
    tests.add_argument("--tukey", metavar="FACTOR",
                       help="Tukey HSD between the levels of FACTOR, with letters")
    tests.add_argument("--fisher", action="append", default=[], metavar="FACTOR:A>B",
                       help="Fisher's exact test of level A's wins over B on matched runs "
                       "(A>B one-sided, A,B two-sided; repeatable)")
    tests.add_argument("--match", metavar="COLS", help="columns --fisher pairs runs on "
                       "(default: the config, protocol and block columns but FACTOR)")
    tests.add_argument("--test-metrics", metavar="COLS",
                       help="metrics of --tukey and --fisher (default: every metric)")
    tests.add_argument("--alpha", type=float, default=0.05,
                       help="family-wise error of --tukey (default 0.05)")
    p.add_argument("--out", metavar="DIR", help="write borda.csv and analysis.json here")
    p.add_argument("--json", action="store_true",
                   help="print the analysis as JSON (analysis.json) instead of tables")
    p.set_defaults(func=run)


# ---- input ---------------------------------------------------------------------------


def _names(text: str | None) -> list[str] | None:
    from stalwart.analysis.benchmark.roles import split_names

    return split_names(text)


def read_csv(path: str) -> Any:
    """The table, or a one-line refusal."""
    import pandas as pd

    file = Path(path)
    if not file.is_file():
        raise UserError(f"{path}: no such file")
    try:
        table = pd.read_csv(file, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: empty file") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: not a readable CSV ({first})") from None
    if table.empty:
        raise UserError(f"{path}: no rows")
    return table


def _agreements(items: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        parts = [p.strip() for p in item.split(",")]
        if len(parts) != 2 or not all(parts):
            raise UserError(f"--agreement {item!r}: expected two protocols, A,B")
        pairs.append((parts[0], parts[1]))
    return pairs


def _requests(args: argparse.Namespace) -> Any:
    from stalwart.analysis.benchmark import FisherRequest, Requests

    if args.factors and not args.anova:
        raise UserError("--factors: given without --anova METRIC")
    if args.anova and not args.factors:
        raise UserError("--anova: needs --factors COLS")
    if args.match and not args.fisher:
        raise UserError("--match: applies to --fisher, which is not given")
    if not 0 < args.alpha < 1:
        raise UserError(f"--alpha: must be in (0, 1), got {args.alpha}")
    match = _names(args.match)
    if match is not None and not match:
        raise UserError("--match: expected column names")
    return Requests(
        agreement=_agreements(args.agreement),
        anova_metrics=_names(args.anova) or [],
        anova_factors=_names(args.factors) or [],
        interactions=args.interactions,
        tukey_factor=args.tukey,
        fisher=[FisherRequest.parse(text, match) for text in args.fisher],
        test_metrics=_names(args.test_metrics),
        alpha=args.alpha,
    )


# ---- the command ---------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Handle ``stalwart analyze``; returns the exit status."""
    from stalwart.analysis.benchmark import analyze, resolve_roles

    table = read_csv(args.table)
    requests = _requests(args)
    roles = resolve_roles(
        table,
        config=_names(args.config),
        protocol=_names(args.protocol),
        block=args.block.strip() if args.block else None,
        metrics=_names(args.metrics),
        lower_is_better=_names(args.lower_is_better) or (),
    )
    result = analyze(table, roles, requests, source=args.table)
    doc = result.to_dict()
    if args.out:
        _write(Path(args.out), result, doc)
    for note in result.notes:
        print(f"stalwart: note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(doc, indent=2, allow_nan=False))
        return 0
    _print(doc, args.out)
    return 0


def _write(out: Path, result: Any, doc: dict[str, Any]) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        result.borda_frame().to_csv(out / "borda.csv", index=False)
        (out / "analysis.json").write_text(
            json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )
    except OSError as exc:
        raise UserError(f"--out {out}: cannot write ({exc.strerror or exc})") from None


# ---- rendering -----------------------------------------------------------------------
# Each view is (title, rich table); the title goes on its own line, as a table's title
# would wrap to the table's width.

View = tuple[str, Any]


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:.{digits}g}"


def _p(value: Any) -> str:
    if value is None:
        return "-"
    return "<1e-4" if value < 1e-4 else f"{value:.4f}"


def _pts(value: float) -> str:
    return f"{value:g}"


def _table(columns: list[str], left: int = 1) -> Any:
    """A rich table whose first ``left`` columns are text, the others numbers."""
    from rich.table import Table

    table = Table()
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i < left else "right")
    return table


def _print(doc: dict[str, Any], out: str | None) -> None:
    from rich.text import Text

    from stalwart.cli.output import make_console

    # markup off: a level or column named like [this] is text, not a style.
    console = make_console(file=sys.stdout, width=max(120, make_console().width),
                           highlight=False, markup=False)
    r = doc["roles"]
    console.print(
        f"{doc['source']}: {doc['n_runs']} runs; config {'/'.join(r['config'])}, protocol "
        f"{'/'.join(r['protocol']) or '-'}, block {r['block']}, metrics "
        f"{', '.join(r['metrics'])}" + (f" (layout {r['layout']})" if r["layout"] else "")
    )
    views: list[View] = [_borda_view(ranking) for ranking in doc["borda"]]
    if doc["spearman"] is not None:
        views.append(_spearman_view(doc["spearman"]))
    views += [_agreement_view(a) for a in doc["agreement"]]
    views += [_anova_view(a) for a in doc["anova"]]
    views += [_tukey_view(t) for t in doc["tukey"]]
    if doc["fisher"]:
        views.append(_fisher_view(doc["fisher"]))
    for title, table in views:
        console.print()
        console.print(Text(title, style="bold"))
        console.print(table)
    if out:
        console.print(f"wrote {Path(out) / 'borda.csv'} and {Path(out) / 'analysis.json'}")


def _borda_view(ranking: dict[str, Any]) -> View:
    metrics = ranking["metrics"]
    table = _table(["rank", "config", "points", *metrics], left=2)
    for e in ranking["ranking"]:
        table.add_row(str(e["rank"]), e["config"], _pts(e["points"]),
                      *(_pts(e["points_by_metric"][m]) for m in metrics))
    return (f"Borda, protocol {ranking['protocol']}: {ranking['n_configs']} configs x "
            f"{len(ranking['blocks'])} blocks x {len(metrics)} metrics "
            f"(max {_pts(ranking['max_points'])} points)", table)


def _spearman_view(s: dict[str, Any]) -> View:
    table = _table(["", *s["metrics"]])
    for i, m in enumerate(s["metrics"]):
        table.add_row(m, *(_num(v, 2) for v in s["rho"][i]))
    return f"Spearman rho between metrics ({s['n']} cells)", table


def _agreement_view(a: dict[str, Any]) -> View:
    table = _table(["block", "metric", "rho", "p"], left=2)
    for s in a["scopes"]:
        table.add_row(s["block"] or "all", s["metric"] or "all", _num(s["rho"], 3),
                      _p(s["p_value"]))
    return (f"Spearman agreement, {a['protocol_a']} vs {a['protocol_b']} "
            f"({len(a['configs'])} configs; Borda points within each scope)", table)


def _anova_view(a: dict[str, Any]) -> View:
    table = _table(["term", "sum_sq", "df", "F", "p", "eta2", "partial eta2", "omega2"])
    for row in a["rows"]:
        table.add_row(row["term"], _num(row["sum_sq"], 4), _pts(row["df"]), _num(row["F"], 4),
                      _p(row["p_value"]), _num(row["eta_sq"]), _num(row["partial_eta_sq"]),
                      _num(row["omega_sq"]))
    return f"ANOVA (type II): {a['formula']}, {a['n']} runs", table


def _tukey_view(t: dict[str, Any]) -> View:
    table = _table([t["factor"], "n", "mean", "simultaneous CI", "letters"])
    for g in t["groups"]:
        table.add_row(g["level"], str(g["n"]), _num(g["mean"], 4),
                      f"[{_num(g['ci_low'], 4)}, {_num(g['ci_high'], 4)}]", g["letters"])
    return (f"Tukey HSD, {t['metric']} by {t['factor']} (FWER {t['alpha']:g}; levels sharing "
            f"a letter do not differ)", table)


def _fisher_view(results: list[dict[str, Any]]) -> View:
    table = _table(["test", "metric", "pairs", "A wins", "B wins", "ties", "odds ratio", "p",
                    "sign test p"], left=2)
    for f in results:
        op = ">" if f["alternative"] == "greater" else " vs "
        table.add_row(f"{f['factor']}: {f['a']}{op}{f['b']}", f["metric"], str(f["n_pairs"]),
                      str(f["wins_a"]), str(f["wins_b"]), str(f["ties"]),
                      _num(f["odds_ratio"], 4), _p(f["p_value"]), _p(f["sign_test_p_value"]))
    return "Fisher's exact test on matched wins (table [[wA, wB], [wB, wA]])", table
