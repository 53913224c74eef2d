"""Benchmark: selection strategies vs. baselines replayed on real result tables.

Every strategy (halving with a couple of warm-ups, racing with a couple of tests, the
authors' two-sided racing, any other registered strategy such as ``adaptive`` with its
defaults, ``adaptive``'s near-best finder, and ``adaptive`` told the table's tolerance
with each of its corrections, with and without its surrogate) and every baseline
(random search, Optuna TPE, TPE + WilcoxonPruner, TPE + stalwart's racing pruner) is
replayed over many random instance orders on

* the authors' CCT/CIFAR-10 table, each ``dt_len`` separately (``ValAccuracy``,
  maximized, tolerance 0.005: half a point of accuracy),
* our digits MLP table (``benchmarks/data/digits_mlp_exhaustive.csv``, 384 configs x 20
  instances, ``val_accuracy`` maximized, tolerance 0.005) when the file is there, and
* any table given with ``--table PATH`` (repeatable); ``--direction``, ``--tolerance``,
  ``--value-pattern``, ``--time-pattern``, ``--filter`` and ``--label`` after a
  ``--table`` apply to that table, before the first ``--table`` to every one that does
  not set its own.

The criterion is ``mean`` unless ``--criterion`` says otherwise. The headline column is
the training *time* used as a percentage of the exhaustive search's (from the tables'
time columns), then P(regret <= the table's tolerance), P(best) and P(near-best). The
baselines run twice: with the trainings budget ``halving`` (warmup 5) uses on average
on that table, and with the one ``adaptive``'s cheapest row (``correction=none`` with the
surrogate) uses. Prints a markdown table and the command that produced it;
``--write-readme README.md`` puts the table between ``<!-- selection:begin -->`` and
``<!-- selection:end -->`` in that file.

TPE + WilcoxonPruner is the slow row (a Wilcoxon test at every instance of every trial,
and hundreds of trials on the CCT table: about 5 s per repeat there), and so is TPE +
stalwart's RacingPruner (``tpe_racing``); ``--repeats-pruned`` can lower its repeats for
a quick look, and the table states each row's repeats.

Usage::

    .venv/bin/python benchmarks/selection.py [--repeats 200] [--jobs 2] \
        [--table benchmarks/data/calorimeter_exhaustive.csv --direction minimize \
         --tolerance 0.001]
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
try:
    import stalwart  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))

from stalwart.analysis.baselines import BASELINES  # noqa: E402
from stalwart.analysis.outcome import ReplaySummary  # noqa: E402
from stalwart.analysis.replay import replay_many  # noqa: E402
from stalwart.analysis.table import ResultTable, read_table  # noqa: E402
from stalwart.selection import STRATEGIES as REGISTERED  # noqa: E402
from stalwart.selection import get_criterion  # noqa: E402

CCT = ROOT / "benchmarks" / "data" / "cct_cifar10_instances.csv"
DIGITS = ROOT / "benchmarks" / "data" / "digits_mlp_exhaustive.csv"
ACCURACY_TOLERANCE = 0.005  # half a point of accuracy
BEGIN, END = "<!-- selection:begin -->", "<!-- selection:end -->"

STRATEGIES: list[tuple[str, dict[str, Any]]] = [
    ("halving", {"warmup": 3}),
    ("halving", {"warmup": 5}),
    ("halving", {"warmup": 3, "final_survivors": 4}),
    ("halving", {"warmup": 3, "final_survivors": 8}),
    ("racing", {"test": "welch"}),
    ("racing", {"test": "mannwhitney"}),
    # The robust-selection authors' racing: two-sided Welch at alpha 0.05 from 3 instances.
    ("racing", {"test": "welch", "sided": "two"}),
]
BUDGET_FROM = ("halving", {"warmup": 5})
BENCHMARKED = {"exhaustive", *(name for name, _ in STRATEGIES)}


#: adaptive's rows told the table's tolerance: its default correction (Bonferroni over
#: opponents and looks), the two cheaper ones, and those with the surrogate; the last
#: one's trainings are the second budget of the baselines.
ADAPTIVE_TOLD: list[dict[str, Any]] = [
    {},
    {"correction": "looks", "confidence": 0.95},
    {"correction": "none", "confidence": 0.95},
    {"correction": "looks", "confidence": 0.95, "surrogate": 0.25},
    {"correction": "none", "confidence": 0.95, "surrogate": 0.25},
]


#: adaptive's rows with its default tolerance (one standard error, the near-best band):
#: the per-comparison correction at a stricter confidence, with the surrogate.
ADAPTIVE_NEAR_BEST: list[dict[str, Any]] = [
    {"correction": "none", "confidence": 0.99, "surrogate": 0.25},
]


def strategy_rows(tolerance: float | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The fixed rows, then every other registered strategy (``adaptive``, ...) with its
    defaults, then ``adaptive`` told the table's ``tolerance`` (the indifference zone a
    user names, the one the table is judged by) with each of :data:`ADAPTIVE_TOLD`;
    ``exhaustive`` is the reference. :data:`ADAPTIVE_NEAR_BEST` follows the defaults."""
    told = ([("adaptive", {"tolerance": tolerance, **c}) for c in ADAPTIVE_TOLD]
            if "adaptive" in REGISTERED and tolerance is not None else [])
    near = ([("adaptive", dict(c)) for c in ADAPTIVE_NEAR_BEST]
            if "adaptive" in REGISTERED else [])
    return (STRATEGIES + [(name, {}) for name in REGISTERED if name not in BENCHMARKED]
            + near + told)


def cheapest_adaptive(params: dict[str, Any]) -> bool:
    """Whether a row is adaptive's last (cheapest) row of :data:`ADAPTIVE_TOLD`."""
    return {k: v for k, v in params.items() if k != "tolerance"} == ADAPTIVE_TOLD[-1] and (
        "tolerance" in params)


@dataclass
class Job:
    """One row of the benchmark: a strategy on a table."""

    label: str
    table: ResultTable
    strategy: str
    params: dict[str, Any]
    repeats: int
    seed: int
    criterion: str
    direction: str
    budget: int | None = None
    tolerance: float | None = None
    summary: ReplaySummary | None = field(default=None, repr=False)
    seconds: float = 0.0


def _run(job: Job) -> Job:
    start = time.perf_counter()
    job.summary = replay_many(
        job.table,
        job.strategy,
        criterion=get_criterion(job.criterion),
        direction=job.direction,  # type: ignore[arg-type]
        repeats=job.repeats,
        seed=job.seed,
        top_k=3,
        budget=job.budget,
        report_tolerance=job.tolerance,
        **job.params,
    )
    job.summary.outcomes = []  # not needed back in the parent process
    job.seconds = time.perf_counter() - start
    return job


@dataclass
class TableSpec:
    """A table of the benchmark and how to read and judge it."""

    label: str
    table: ResultTable
    direction: str
    tolerance: float | None


TABLE_OPTIONS = ("direction", "tolerance", "value_pattern", "time_pattern", "filter", "label")


class _TableAction(argparse.Action):
    """``--table PATH`` opens a new table; the table options after it belong to it."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        tables = list(getattr(namespace, "tables", None) or [])
        tables.append({"path": values})
        namespace.tables = tables


class _TableOption(argparse.Action):
    """A table option: for the latest ``--table``, or the default before the first."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        tables = getattr(namespace, "tables", None) or []
        target = tables[-1] if tables else namespace.table_defaults
        if self.dest == "filter":
            target.setdefault("filter", []).append(values)
        elif self.dest in target:
            parser.error(f"{option_string} given twice for one table")
        else:
            target[self.dest] = values


def _read(path: Path, filters: list[str], opts: dict[str, Any]) -> ResultTable:
    bad = [f for f in filters if "=" not in f]
    if bad:
        sys.exit(f"benchmark: --filter {bad[0]!r}: expected COL=VALUE")
    return read_table(
        path,
        value_pattern=opts.get("value_pattern"),
        time_pattern=opts.get("time_pattern"),
        filter=dict(f.split("=", 1) for f in filters) or None,
    )


def _tables(args: argparse.Namespace) -> list[TableSpec]:
    out: list[TableSpec] = []
    if not args.no_cct:
        if not CCT.is_file():
            sys.exit(f"benchmark: {CCT} not found (pass --no-cct to skip it)")
        for dt_len in ("10000", "20000", "30000"):
            table = read_table(CCT, filter={"dt_len": dt_len})
            out.append(TableSpec(f"CCT dt_len={dt_len}", table, "maximize", ACCURACY_TOLERANCE))
    if not args.no_digits and DIGITS.is_file():
        out.append(TableSpec("digits MLP", read_table(DIGITS), "maximize", ACCURACY_TOLERANCE))
    defaults = args.table_defaults
    for spec in args.tables or []:
        opts = {**defaults, **spec}
        filters = list(spec.get("filter", defaults.get("filter", [])))
        table = _read(Path(spec["path"]), filters, opts)
        tol = opts.get("tolerance")
        out.append(TableSpec(
            opts.get("label") or Path(spec["path"]).name,
            table,
            opts.get("direction", "maximize"),
            None if tol is None else float(tol),
        ))
    if not out:
        sys.exit("benchmark: no table (the built-in ones are skipped and no --table given)")
    labels = [t.label for t in out]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        sys.exit(f"benchmark: two tables are named {dupes[0]!r}; give one a --label")
    return out


def _fmt_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "-"


def _num(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.2g}" if x else "0"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def markdown(jobs: list[Job], command: str, tables: list[TableSpec] | None = None) -> str:
    """The comparison table (one row per job) with the command that produced it."""
    head = (
        "| table | method | params | time % | P(regret <= tol) | P(best) | P(near-best) "
        "| trainings (% exh.) | repeats | P(top-3) | regret median | regret p90 |"
    )
    lines = [head, "|" + "---|" * 12]
    for j in jobs:
        s = j.summary
        assert s is not None
        params = dict(j.params)
        if j.budget is not None:
            params["budget"] = j.budget
        time_pct = "-" if s.time_fraction is None else f"**{100 * s.time_fraction:.1f}**"
        lines.append(
            f"| {j.label} | {j.strategy} | {_fmt_params(params)} | {time_pct} "
            f"| {_pct(s.p_within_tolerance)} | {_pct(s.p_best)} | {_pct(s.p_near_best)} "
            f"| {s.trainings_mean:.0f} ({100 * s.trainings_fraction:.1f}) | {s.repeats} "
            f"| {_pct(s.p_top_k)} | {_num(s.regret_median)} | {_num(s.regret_p90)} |"
        )
    crit = jobs[0].criterion if jobs else "mean"
    tolerances = ", ".join(
        f"{t.label} {t.tolerance:g}" if t.tolerance is not None else f"{t.label} none"
        for t in tables or []
    )
    notes = [
        "",
        f"Criterion `{crit}`. time %: the training time used (the tables' time columns) "
        "as a percentage of the exhaustive search's; P(regret <= tol): the pick's "
        "criterion is within the table's tolerance of the exhaustive best's"
        + (f" (tolerances in the metric's units: {tolerances})" if tolerances else "")
        + "; P(best) / P(top-3): the pick is the exhaustive search's best / in its top 3 "
        "over the whole table; near-best: regret within one standard error of the best "
        "model's criterion; regret in the metric's units.",
        "Racing is one-sided unless `sided=two` (the authors' two-sided test).",
        f"Baselines get the trainings budget of `halving` (warmup={BUDGET_FROM[1]['warmup']}) "
        "on the same table, then that of adaptive's cheapest row ("
        + ", ".join(f"{k}={v}" for k, v in ADAPTIVE_TOLD[-1].items()) + "): equal budgets.",
        "",
        f"Command: `{command}`",
    ]
    return "\n".join(lines + notes)


def write_readme(path: Path, text: str) -> None:
    """Replace the marked section of ``path`` with ``text``."""
    doc = path.read_text()
    if BEGIN not in doc or END not in doc:
        sys.exit(f"benchmark: {path} has no {BEGIN} ... {END} section")
    before, rest = doc.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    path.write_text(f"{before}{BEGIN}\n{text}\n{END}{after}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument("--repeats-tpe", type=int, help="repeats for tpe (default: --repeats)")
    p.add_argument("--repeats-wilcoxon", "--repeats-pruned", type=int,
                   help="repeats for the pruned TPE baselines, tpe_wilcoxon and tpe_racing "
                   "(default: --repeats)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--criterion", default="mean")
    p.add_argument("--jobs", type=int, default=2, help="worker processes")
    p.add_argument("--no-cct", action="store_true", help="skip the authors' table")
    p.add_argument("--no-digits", action="store_true", help="skip our digits MLP table")
    p.add_argument("--table", action=_TableAction, dest="tables", metavar="PATH",
                   help="another wide table (repeatable; the options after it are its own)")
    p.add_argument("--value-pattern", action=_TableOption)
    p.add_argument("--time-pattern", action=_TableOption)
    p.add_argument("--filter", action=_TableOption, metavar="COL=VALUE",
                   help="keep rows whose COL equals VALUE (repeatable)")
    p.add_argument("--direction", action=_TableOption, choices=("maximize", "minimize"))
    p.add_argument("--tolerance", action=_TableOption, type=float, metavar="T",
                   help="the table's tolerance for P(regret <= T), in the metric's units")
    p.add_argument("--label", action=_TableOption, help="the table's name in the rows")
    p.add_argument("--write-readme", type=Path, metavar="PATH")
    p.set_defaults(tables=None, table_defaults={})
    args = p.parse_args(argv)
    command = " ".join(
        ["python benchmarks/selection.py", shlex.join(sys.argv[1:] if argv is None else argv)]
    ).strip()
    tables = _tables(args)

    def job(t: TableSpec, name: str, params: dict, repeats: int,
            budget: int | None = None) -> Job:
        return Job(t.label, t.table, name, params, repeats, args.seed, args.criterion,
                   t.direction, budget, t.tolerance)

    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        first = [
            job(t, name, params, args.repeats)
            for t in tables
            for name, params in strategy_rows(t.tolerance)
        ]
        done = list(pool.map(_run, first))
        budgets = {
            j.label: round(j.summary.trainings_mean)  # type: ignore[union-attr]
            for j in done
            if (j.strategy, j.params) == BUDGET_FROM
        }
        # The second budget: what adaptive's cheapest row spent, for "at equal budget".
        small = {
            j.label: round(j.summary.trainings_mean)  # type: ignore[union-attr]
            for j in done
            if j.strategy == "adaptive" and cheapest_adaptive(j.params)
        }
        # Every baseline of the registry runs; only the slow ones have their own repeats.
        repeats = {
            "tpe": args.repeats_tpe or args.repeats,
            "tpe_wilcoxon": args.repeats_wilcoxon or args.repeats,
            "tpe_racing": args.repeats_wilcoxon or args.repeats,
        }
        second = [
            job(t, name, {}, repeats.get(name, args.repeats), budget)
            for t in tables
            for budget in dict.fromkeys(b for b in (budgets[t.label], small.get(t.label))
                                        if b is not None)
            for name in BASELINES
        ]
        # Longest first, so the two workers finish together; rows keep their order.
        # (Workers return copies, so match rows by name and budget, not identity.)
        rank = {(j.label, j.strategy, j.budget): i for i, j in enumerate(second)}
        slow_first = sorted(second, key=lambda j: j.strategy not in ("tpe_wilcoxon", "tpe_racing"))
        finished = list(pool.map(_run, slow_first))
        done += sorted(finished, key=lambda j: rank[(j.label, j.strategy, j.budget)])
    order = {t.label: i for i, t in enumerate(tables)}
    done.sort(key=lambda j: order[j.label])  # stable: strategies, then baselines
    text = markdown(done, command, tables)
    print(text)
    print(
        "\nseconds per row: "
        + ", ".join(f"{j.label}/{j.strategy}:{j.seconds:.0f}" for j in done),
        f"\ntotal {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    if args.write_readme:
        write_readme(args.write_readme, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
