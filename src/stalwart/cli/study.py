"""``stalwart run | status | show | results``: arguments in, :mod:`stalwart.study` called, text out.

``run`` is :func:`stalwart.study.run` with a progress view (``--dry-run``:
:func:`stalwart.study.plan`); the others read a study's store. ``run`` and ``show`` exit 1
for a study that ended without a valid result, with the reason on one line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from stalwart.cli.output import make_console
from stalwart.core import Decision, InstanceResult
from stalwart.errors import UserError
from stalwart.execution import EXECUTORS
from stalwart.selection.base import Strategy
from stalwart.store import Store
from stalwart.study import Progress, StudyInterrupted, StudyPlan, plan, run, stored_spec
from stalwart.summary import StudySummary, summarize, why_removed

STUDY_DIR_HELP = "the study's directory (where stalwart run keeps it: --study-dir, default studies/<name>)"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run or resume a study from a YAML spec")
    p.add_argument("spec", help="the study spec (YAML)")
    p.add_argument("--study-dir", help="where the study's store lives (default: studies/<name>)")
    p.add_argument("--workers", type=int,
                   help="parallel trainings (default: spec, else one per core; not with --executor serial)")
    p.add_argument("--executor", choices=list(EXECUTORS), default="local",
                   help="where instances train (default: local worker processes)")
    p.add_argument("--address", help="Ray cluster address ('auto' joins a running cluster); "
                   "only with --executor ray")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--dry-run", action="store_true",
                   help="check everything and print the plan; create and train nothing")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("status", help="how far a study has come")
    p.add_argument("study_dir", help=STUDY_DIR_HELP)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("show", help="the selected model, its criterion values and the elimination steps")
    p.add_argument("study_dir", help=STUDY_DIR_HELP)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--errors", action="store_true",
                   help="print the whole error (a trainer's traceback) of every failed instance")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("results", help="the per-instance results as a wide table (the format replay reads)")
    p.add_argument("study_dir", help=STUDY_DIR_HELP)
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
        self.done = n_done  # every count below is the whole study's, resumed or not
        # The plan is for the whole study; ties with the median keep more configs, so a
        # resumed study may already hold more than planned.
        total = max(min(n_planned or n_exhaustive, n_exhaustive), n_done)
        if not self.quiet:
            self.console.print(f"{n_configs} configs; {n_done} trainings already in the store; "
                               f"about {total} for the whole study (exhaustive: {n_exhaustive})")
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
        self.task = self.bar.add_task(self._desc(), total=total, completed=n_done)

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

    def on_decisions(self, decisions: list[Decision], n_trainings: int) -> None:
        removed = [d for d in decisions if d.action == "removed"]
        if removed and not self.quiet and self.bar is None:
            steps = sorted({d.step for d in removed})
            self.console.print(f"step {steps[-1]}: removed {len(removed)} configs; "
                               f"{n_trainings} trainings so far")

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _print_plan(p: StudyPlan, out: Console) -> None:
    spec = p.spec
    planned = ("a number that depends on the results" if p.planned is None
               else f"about {p.planned}")
    out.print(f"study {spec.name}: {spec.strategy.name} on {spec.metric.name} "
              f"({spec.metric.direction}), criterion {spec.criterion.name}; the spec is valid")
    out.print(f"configs: {p.n_configs}; instances per config: at most {spec.instances.n}")
    out.print(f"trainings: {planned} for the whole study, of {p.n_exhaustive} for an exhaustive search"
              + (f"; budget {spec.budget.max_trainings}" if spec.budget.max_trainings else ""))
    where = (f"resumes it ({p.n_stored} trainings stored)" if p.resumes
             else "would create it")
    out.print(f"study dir: {p.study_dir} ({where})")
    out.print("dry run: nothing created, nothing trained")


def cmd_run(args: argparse.Namespace) -> int:
    if args.dry_run:
        _print_plan(plan(args.spec, args.study_dir, executor=args.executor, workers=args.workers,
                         address=args.address), make_console(soft_wrap=True))
        return 0
    console = make_console(stderr=True, soft_wrap=True)
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
    _print_show(done.summary, make_console(soft_wrap=True))
    if not done.valid:
        print(f"stalwart: {done.problem or 'no valid result'}", file=sys.stderr)
        return 1
    return 0


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
    if s.finished:
        state = "finished"
    elif running:
        state = "running"
    elif s.problem:
        state = "ended without a valid result (stalwart run retrains its failed instances)"
    else:
        state = "stopped (resume with stalwart run)"
    out = make_console(soft_wrap=True)
    out.print(f"study {s.name} at {args.study_dir}: {state}")
    out.print(f"trainings: {s.n_trainings} done ({s.n_failed} failed) of {s.n_exhaustive} "
              f"for an exhaustive search; survivors: {s.n_survivors} of {s.n_configs}")
    if s.selection is not None:
        out.print(f"selected: {s.selection.config.id} {s.selection.config.to_json()}")
    elif s.problem and not running:
        out.print(s.problem)
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
        # Why there is none goes to standard error, on one line, from the caller.
        out.print("selected: none (no valid result)" if s.problem else "no selection yet")
    else:
        c = s.selection
        out.print(f"[bold]selected[/bold] {c.config.id}: {c.config.to_json()}")
        stats = ", ".join(f"{k} {_fmt(v)}" for k, v in s.statistics.items())
        over = (f"{len(c.values)} instances" if c.kept is None else
                f"the {sum(c.kept)} near-optimal of {len(c.values)} instances")
        out.print(f"  {spec.criterion.name} = {_fmt(c.criterion_value)} over {over} ({stats})")
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
        _print_removals(s, steps, out)
    _print_unsuccessful(s, out, whole=False)


def _print_unsuccessful(s: StudySummary, out: Console, *, whole: bool) -> None:
    """The failed and diverged instances: the last line of each error, or all of it."""
    if not s.unsuccessful:
        return
    if whole:
        for r in s.unsuccessful:
            out.print(f"[bold]{r.config_id} instance {r.instance}: {r.status}[/bold]")
            out.print(r.error or "(no error text)", markup=False, highlight=False)
        return
    # Plain lines, not a table: an error message is read (and copied) whole.
    out.print(f"failed or diverged instances ({len(s.unsuccessful)}; stalwart show --errors "
              "prints each error whole):")
    for r in s.unsuccessful[:20]:
        last = (r.error or "").strip().splitlines()[-1:] or ["-"]
        out.print(f"  {r.config_id} instance {r.instance} {r.status}: {last[0]}",
                  markup=False, highlight=False)
    if len(s.unsuccessful) > 20:
        out.print(f"... and {len(s.unsuccessful) - 20} more")


def _print_removals(s: StudySummary, steps: dict[int, list[Decision]], out: Console) -> None:
    table = Table(title="removed configs and why")
    for col in ("step", "config", "instances", "why"):
        table.add_column(col)
    params = {c.config.id: c.config.to_json() for c in s.configs}
    for step in sorted(steps):
        for d in steps[step]:
            table.add_row(str(step), f"{d.config_id} {params.get(d.config_id, '')}",
                          _fmt(d.n_instances),
                          why_removed(d, s.spec.strategy.name, _fmt, s.spec.criterion.name))
    out.print(table)


def cmd_show(args: argparse.Namespace) -> int:
    store, spec = _open(args.study_dir)
    with store:
        s = summarize(store, spec)
    if args.format == "json":
        print(json.dumps(s.to_dict(), indent=2))
    elif args.errors:
        _print_unsuccessful(s, make_console(soft_wrap=True), whole=True)
    else:
        _print_show(s, make_console(soft_wrap=True))
    if s.problem:
        print(f"stalwart: {s.problem}", file=sys.stderr)
        return 1
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
            _to_file(args.output, lambda: write_wide(args.output, table))
        else:
            write_wide(sys.stdout, table)
        return 0
    # JSON has no NaN: a null value is a failed instance when `trained` is true and an
    # instance never trained (empty in the CSV) when it is false; the two must not merge.
    ran = ([[True] * table.n_instances] * table.n_configs if table.trained is None
           else table.trained.tolist())
    doc = {
        "metric": metric,
        "direction": spec.metric.direction,
        "configs": [
            {"config_id": cid, "params": table.params[i],
             "values": [v if math.isfinite(v) else None for v in table.values[i].tolist()],
             "trained": ran[i],
             "times": None if table.times is None else
             [v if math.isfinite(v) else None for v in table.times[i].tolist()],
             "train_losses": None if table.train_losses is None else
             [v if math.isfinite(v) else None for v in table.train_losses[i].tolist()]}
            for i, cid in enumerate(table.config_ids)
        ],
    }
    text = json.dumps(doc, indent=2)
    if args.output:
        _to_file(args.output, lambda: Path(args.output).write_text(text + "\n"))
    else:
        print(text)
    return 0


def _to_file(path: str, write: Callable[[], object]) -> None:
    """Run ``write``; a path that cannot be written is a one-line error naming it."""
    if Path(path).is_dir():
        raise UserError(f"--output: {path} is a directory; give a file name")
    try:
        write()
    except OSError as exc:
        raise UserError(f"--output: cannot write {path} ({exc.strerror or exc})") from None
