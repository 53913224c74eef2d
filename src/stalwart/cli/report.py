"""``stalwart report PATH -o report.html``: one self-contained HTML report.

PATH is a study directory, an analysis result (``analysis.json`` or its directory),
replay results (``stalwart replay --format json`` output, a list or a directory of them)
or the selection benchmark's markdown table; :mod:`stalwart.report` tells them apart.
``--watch`` rewrites a study's report every ``--interval`` seconds until the study is over
(Ctrl-C: one last write, exit 0).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from stalwart.checks import first, number
from stalwart.errors import UserError

DEFAULT_INTERVAL = 5.0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report", help="a self-contained HTML report of a study, replays, an analysis or a "
        "landscape",
        description="Write one HTML file (figures embedded, no network needed) that shows a "
        "study's selection step by step, or replay/benchmark results, an analysis result or "
        "an energy-landscape catalogue.")
    p.add_argument("path", help="a study directory, analysis.json (or its directory), replay "
                   "JSON (stalwart replay --format json), the selection benchmark's table or a "
                   "landscape JSON (benchmarks/landscape.py --json)")
    p.add_argument("--output", "-o", default="report.html",
                   help="the HTML file to write (default: report.html)")
    p.add_argument("--watch", action="store_true",
                   help="rewrite the report while the study runs, until it is over")
    p.add_argument("--interval", type=float, metavar="S",
                   help=f"seconds between rewrites with --watch (default {DEFAULT_INTERVAL:g})")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from stalwart.report.build import build_report, check_output, write_report
    from stalwart.report.load import detect

    if args.interval is not None and not args.watch:
        raise UserError("--interval applies only with --watch")
    interval = DEFAULT_INTERVAL if args.interval is None else args.interval
    first(number("--interval", interval, low=0, low_open=True), UserError)
    source = detect(args.path)
    check_output(args.output)
    if not args.watch:
        report = build_report(args.path, source=source)
        out = write_report(report.html, args.output)
        _said(out, report.state)
        return 0
    if source.kind != "study":
        raise UserError(f"--watch: only a study changes while it runs; {args.path} is "
                        f"{'an' if source.kind == 'analysis' else 'a'} {source.kind} result")
    from stalwart.report.watch import watch

    out = Path(args.output)
    print(f"watching {args.path} every {interval:g} s; writing {out} (Ctrl-C stops)",
          file=sys.stderr, flush=True)
    report = watch(source, out, interval)
    _said(out, report.state)
    return 0


def _said(out: Path, state: str) -> None:
    size = out.stat().st_size
    what = f" (study {state})" if state else ""
    print(f"wrote {out}: {size / 1e6:.2f} MB{what}", flush=True)
