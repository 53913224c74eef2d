"""``stalwart run | status | show | results``: arguments in, :mod:`stalwart.study` called, text out.

``run`` is :func:`stalwart.study.run` with a progress view; the others read a study's store.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from stalwart.core import Decision, InstanceResult
from stalwart.errors import UserError
from stalwart.execution import EXECUTORS
from stalwart.selection.base import Strategy
from stalwart.store import Store
from stalwart.study import Progress, StudyInterrupted, run, stored_spec
from stalwart.summary import StudySummary, summarize


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run or resume a study from a YAML spec")
    p.add_argument("spec", help="the study spec (YAML)")
    p.add_argument("--study-dir", help="where the study's store lives (default: studies/<name>)")
    p.add_argument("--workers", type=int, help="parallel trainings (default: spec, else one per core)")
    p.add_argument("--executor", choices=list(EXECUTORS), default="local",
                   help="where instances train (default: local worker processes)")
    p.add_argument("--address", help="Ray cluster address ('auto' joins a running cluster)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("status", help="how far a study has come")
    p.add_argument("study_dir")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("show", help="the selected model, its criterion values and the elimination steps")
    p.add_argument("study_dir")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("results", help="the per-instance results as a wide table (the format replay reads)")
    p.add_argument("study_dir")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.add_argument("--metric", help="metric to tabulate (default: the study's metric)")
    p.add_argument("--output", "-o", help="write to this file instead of standard output")
    p.set_defaults(func=cmd_results)


# ---- run ---------------------------------------------------------------------------------
class _ProgressView:
    """A rich progress bar on a terminal; a line per elimination step elsewhere."""

    def __init__(self, console: Console, quiet: bool) -> None:
        self.console = console
        self.quiet = quiet
        self.bar: Any = None
        self.task: Any = None
        self.done = 0
        self.survivors = 0

    def on_start(self, n_configs: int, n_exhaustive: int, n_done: int, n_planned: int | None) -> None:
        self.survivors = n_configs
        total = min(n_planned or n_exhaustive, n_exhaustive)
        if not self.quiet:
            self.console.print(f"{n_configs} configs; {n_done} trainings already in the store; "
                               f"about {total} planned (exhaustive: {n_exhaustive})")
        if self.quiet or not self.console.is_terminal:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TimeRemainingColumn(), console=self.console)
        self.bar.start()
        self.task = self.bar.add_task(self._desc(), total=max(total, n_done), completed=n_done)
        self.done = n_done

    def _desc(self) -> str:
        return f"training ({self.survivors} survivors)"

    def on_result(self, result: InstanceResult, strategy: Strategy) -> None:
        self.done += 1
        self.survivors = len(strategy.survivors)
        if self.bar is not None:
            total = max(self.bar.tasks[0].total or 0, self.done + len(strategy.pending))
            self.bar.update(self.task, completed=self.done, total=total, description=self._desc())
        elif result.status != "ok" and not self.quiet:
            self.console.print(f"instance {result.config_id}/{result.instance} {result.status}: {result.error or ''}")

    def on_decisions(self, decisions: list[Decision]) -> None:
        removed = [d for d in decisions if d.action == "removed"]
        if removed and not self.quiet and self.bar is None:
            steps = sorted({d.step for d in removed})
            self.console.print(f"step {steps[-1]}: removed {len(removed)} configs; "
                               f"{self.done} trainings so far")

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def cmd_run(args: argparse.Namespace) -> int:
    console = Console(stderr=True, soft_wrap=True)
    view = _ProgressView(console, args.quiet)
    progress = Progress(on_start=view.on_start, on_result=view.on_result,
                        on_decisions=view.on_decisions)
    try:
        done = run(args.spec, args.study_dir, executor=args.executor, workers=args.workers,
                   address=args.address, progress=progress)
    except StudyInterrupted as exc:
        view.stop()  # the bar off the terminal before the message
        console.print(f"interrupted: {exc.n_results} finished trainings are safe in "
                      f"{exc.study_dir}; run the same command again to resume")
        return 130
    finally:
        view.stop()
    if not args.quiet:
        console.print(f"done in {done.wall_time:.0f} s")
    _print_show(done.summary, Console(soft_wrap=True))
    return 0 if done.outcome.selection is not None else 1


# ---- status / show ---------------------------------------------------------------------
def _open(study_dir: str) -> tuple[Store, Any]:
    store = Store(study_dir)
    return store, stored_spec(store)


def _driver_running(store: Store) -> bool:
    try:
        store.acquire_driver()
    except UserError:
        return True
    store.release_driver()
    return False


def cmd_status(args: argparse.Namespace) -> int:
    store, spec = _open(args.study_dir)
    with store:
        s = summarize(store, spec)
        running = _driver_running(store)
    state = "finished" if s.finished else ("running" if running else "stopped (resume with stalwart run)")
    out = Console(soft_wrap=True)
    out.print(f"study {s.name} at {args.study_dir}: {state}")
    out.print(f"trainings: {s.n_trainings} done ({s.n_failed} failed) of {s.n_exhaustive} "
              f"for an exhaustive search; survivors: {s.n_survivors} of {s.n_configs}")
    if s.selection is not None:
        out.print(f"selected: {s.selection.config.id} {s.selection.config.to_json()}")
    return 0


def _fmt(x: float | None) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.4g}"


def _print_show(s: StudySummary, out: Console) -> None:
    spec = s.spec
    out.print(f"[bold]study {s.name}[/bold]: {spec.strategy.name} on {spec.metric.name} "
              f"({spec.metric.direction}), criterion {spec.criterion.name}")
    if s.selection is None:
        out.print("no selection yet")
    else:
        c = s.selection
        out.print(f"[bold]selected[/bold] {c.config.id}: {c.config.to_json()}")
        stats = ", ".join(f"{k} {_fmt(v)}" for k, v in s.statistics.items())
        out.print(f"  {spec.criterion.name} = {_fmt(c.criterion_value)} over {len(c.values)} instances ({stats})")
    frac = s.n_trainings / s.n_exhaustive if s.n_exhaustive else math.nan
    out.print(f"trainings: {s.n_trainings} of {s.n_exhaustive} exhaustive ({frac:.1%}); "
              f"saving {1 / frac if frac else math.nan:.1f}x")
    if s.exhaustive_time_estimate > 0:
        tf = s.training_time / s.exhaustive_time_estimate
        out.print(f"training time: {s.training_time:.0f} s of about {s.exhaustive_time_estimate:.0f} s "
                  f"exhaustive (estimated at the mean time per training; {tf:.1%})")
    steps: dict[int, list[Decision]] = {}
    for d in s.decisions:
        if d.action == "removed":
            steps.setdefault(d.step, []).append(d)
    if steps:
        table = Table(title="elimination steps")
        for col in ("step", "instances", "removed", "threshold / p-value", "survivors after"):
            table.add_column(col)
        left = s.n_configs
        for step in sorted(steps):
            ds = steps[step]
            left -= len(ds)
            ths = sorted({_fmt(d.threshold) for d in ds if d.threshold is not None})
            ps = [d.p_value for d in ds if d.p_value is not None]
            rule = ", ".join(ths) if ths else (f"p <= {_fmt(max(ps))}" if ps else ds[0].reason)
            table.add_row(str(step), _fmt(ds[0].n_instances), str(len(ds)), rule, str(left))
        out.print(table)


def cmd_show(args: argparse.Namespace) -> int:
    store, spec = _open(args.study_dir)
    with store:
        s = summarize(store, spec)
    if args.format == "json":
        print(json.dumps(s.to_dict(), indent=2))
    else:
        _print_show(s, Console(soft_wrap=True))
    return 0


# ---- results ---------------------------------------------------------------------------
def cmd_results(args: argparse.Namespace) -> int:
    from stalwart.analysis.table import table_from_results, write_wide

    store, spec = _open(args.study_dir)
    with store:
        configs = {c.id: c.to_dict() for c in store.configs()}
        results = list(store.results().values())
    metric = args.metric or spec.metric.name
    known = {k for r in results for k in r.metrics}
    if results and metric not in known:
        raise UserError(f"--metric: {metric!r} is not among the recorded metrics ({', '.join(sorted(known))})")
    table = table_from_results(results, configs, metric, n_instances=spec.instances.n)
    if args.format == "csv":
        if args.output:
            write_wide(args.output, table)
        else:
            write_wide(sys.stdout, table)
        return 0
    doc = {
        "metric": metric,
        "direction": spec.metric.direction,
        "configs": [
            {"config_id": cid, "params": table.params[i],
             "values": [None if math.isnan(v) else v for v in table.values[i]],
             "times": None if table.times is None else
             [None if math.isnan(v) else v for v in table.times[i]]}
            for i, cid in enumerate(table.config_ids)
        ],
    }
    text = json.dumps(doc, indent=2)
    if args.output:
        Path(args.output).write_text(text + "\n")
    else:
        print(text)
    return 0
