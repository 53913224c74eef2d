"""Benchmark: selection strategies vs. baselines replayed on real result tables.

Every strategy (halving with a couple of warm-ups, racing with a couple of tests) and
every baseline (random search, Optuna TPE, TPE + WilcoxonPruner) is replayed over many
random instance orders on

* the authors' CCT/CIFAR-10 table, each ``dt_len`` separately (``ValAccuracy``,
  maximized, criterion ``mean`` unless ``--criterion`` says otherwise), and
* optionally a second table (``--table PATH --value-pattern ... [--filter col=val]``).

The baselines get the same trainings budget as ``halving`` (warmup 5) uses on average
on that table. Prints a markdown table and the command that produced it;
``--write-readme README.md`` puts the table between ``<!-- selection:begin -->`` and
``<!-- selection:end -->`` in that file.

TPE + WilcoxonPruner is the slow row (a Wilcoxon test at every instance of every trial,
and hundreds of trials on the CCT table: about 5 s per repeat there), and so is TPE +
stalwart's RacingPruner (``tpe_racing``); ``--repeats-pruned``
can lower its repeats for a quick look, and the table states each row's repeats.

Usage::

    .venv/bin/python benchmarks/selection.py [--repeats 200] [--jobs 2]
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
from stalwart.selection import get_criterion  # noqa: E402

CCT = ROOT / "benchmarks" / "data" / "cct_cifar10_instances.csv"
BEGIN, END = "<!-- selection:begin -->", "<!-- selection:end -->"

STRATEGIES: list[tuple[str, dict[str, Any]]] = [
    ("halving", {"warmup": 3}),
    ("halving", {"warmup": 5}),
    ("halving", {"warmup": 3, "final_survivors": 4}),
    ("halving", {"warmup": 3, "final_survivors": 8}),
    ("racing", {"test": "welch"}),
    ("racing", {"test": "mannwhitney"}),
]
BUDGET_FROM = ("halving", {"warmup": 5})


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
        **job.params,
    )
    job.summary.outcomes = []  # not needed back in the parent process
    job.seconds = time.perf_counter() - start
    return job


def _tables(args: argparse.Namespace) -> list[tuple[str, ResultTable, str]]:
    out: list[tuple[str, ResultTable, str]] = []
    if not args.no_cct:
        if not CCT.is_file():
            sys.exit(f"benchmark: {CCT} not found (pass --no-cct to skip it)")
        for dt_len in ("10000", "20000", "30000"):
            table = read_table(CCT, filter={"dt_len": dt_len})
            out.append((f"CCT dt_len={dt_len}", table, "maximize"))
    if args.table:
        filt = dict(f.split("=", 1) for f in args.filter) or None
        table = read_table(
            args.table,
            value_pattern=args.value_pattern,
            time_pattern=args.time_pattern,
            filter=filt,
        )
        out.append((Path(args.table).name, table, args.direction))
    return out


def _fmt_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "-"


def _num(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.2g}" if x else "0"


def markdown(jobs: list[Job], command: str) -> str:
    """The comparison table (one row per job) with the command that produced it."""
    head = (
        "| table | method | params | repeats | trainings (% exh.) | time % | P(best) "
        "| P(near-best) | P(top-3) | regret median | regret p90 |"
    )
    lines = [head, "|" + "---|" * 11]
    for j in jobs:
        s = j.summary
        assert s is not None
        params = dict(j.params)
        if j.budget is not None:
            params["budget"] = j.budget
        time_pct = "-" if s.time_fraction is None else f"{100 * s.time_fraction:.1f}"
        lines.append(
            f"| {j.label} | {j.strategy} | {_fmt_params(params)} | {s.repeats} "
            f"| {s.trainings_mean:.0f} ({100 * s.trainings_fraction:.1f}) | {time_pct} "
            f"| {100 * s.p_best:.0f}% | {100 * s.p_near_best:.0f}% | {100 * s.p_top_k:.0f}% "
            f"| {_num(s.regret_median)} | {_num(s.regret_p90)} |"
        )
    crit = jobs[0].criterion if jobs else "mean"
    notes = [
        "",
        f"Criterion `{crit}`; P(best) / P(top-3): the pick is the exhaustive search's best / "
        "in its top 3 over the whole table; near-best: regret within one standard error of "
        "the best model's criterion; regret in the metric's units.",
        f"Baselines get the trainings budget of `halving` (warmup={BUDGET_FROM[1]['warmup']}) "
        "on the same table.",
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
    p.add_argument("--table", help="a second wide table")
    p.add_argument("--value-pattern")
    p.add_argument("--time-pattern")
    p.add_argument("--filter", action="append", default=[], metavar="COL=VALUE")
    p.add_argument("--direction", default="maximize", choices=("maximize", "minimize"))
    p.add_argument("--write-readme", type=Path, metavar="PATH")
    args = p.parse_args(argv)
    command = " ".join(
        ["python benchmarks/selection.py", shlex.join(sys.argv[1:] if argv is None else argv)]
    ).strip()
    tables = _tables(args)

    def job(label: str, table: ResultTable, direction: str, name: str, params: dict,
            repeats: int, budget: int | None = None) -> Job:
        return Job(label, table, name, params, repeats, args.seed, args.criterion, direction,
                   budget)

    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        first = [
            job(label, table, direction, name, params, args.repeats)
            for label, table, direction in tables
            for name, params in STRATEGIES
        ]
        done = list(pool.map(_run, first))
        budgets = {
            j.label: round(j.summary.trainings_mean)  # type: ignore[union-attr]
            for j in done
            if (j.strategy, j.params) == BUDGET_FROM
        }
        # Every baseline of the registry runs; only the slow ones have their own repeats.
        repeats = {
            "tpe": args.repeats_tpe or args.repeats,
            "tpe_wilcoxon": args.repeats_wilcoxon or args.repeats,
            "tpe_racing": args.repeats_wilcoxon or args.repeats,
        }
        second = [
            job(label, table, direction, name, {}, repeats.get(name, args.repeats),
                budgets[label])
            for label, table, direction in tables
            for name in BASELINES
        ]
        # Longest first, so the two workers finish together; rows keep their order.
        # (Workers return copies, so match rows by name, not identity.)
        rank = {(j.label, j.strategy): i for i, j in enumerate(second)}
        slow_first = sorted(second, key=lambda j: j.strategy not in ("tpe_wilcoxon", "tpe_racing"))
        finished = list(pool.map(_run, slow_first))
        done += sorted(finished, key=lambda j: rank[(j.label, j.strategy)])
    order = {label: i for i, (label, _, _) in enumerate(tables)}
    done.sort(key=lambda j: order[j.label])  # stable: strategies, then baselines
    text = markdown(done, command)
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
