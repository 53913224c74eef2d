"""The HTML report of the demo study: how long it takes to write and to open, and its size.

Requirements (measured and printed here, not asserted in the tests): the report opens in
a browser in under 2 s (headless Chromium: navigation to the ``load`` event) and is
under 5 MB.

Run ``make demo`` first (it writes ``studies/calorimeter-demo``), then::

    .venv/bin/python benchmarks/report_demo.py [--study studies/calorimeter-demo] \
        [--out /tmp/calorimeter-demo.html] [--repeats 3]

Prints one line per measurement: building the page (reading the store, drawing the
figures, assembling the HTML), writing it, its size, and for each of ``--repeats``
Chromium runs the load time and the whole run (start, load, screenshot, close).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
try:
    import stalwart  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))

from stalwart.report.browser import find_chromium, render  # noqa: E402
from stalwart.report.build import build_report, write_report  # noqa: E402

OPEN_LIMIT_S = 2.0
SIZE_LIMIT_MB = 5.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--study", default=str(ROOT / "studies" / "calorimeter-demo"))
    p.add_argument("--out", default="/tmp/calorimeter-demo-report.html")
    p.add_argument("--repeats", type=int, default=3, help="Chromium loads to time")
    args = p.parse_args(argv)
    if not (Path(args.study) / "study.sqlite").is_file():
        print(f"report_demo: no study at {args.study}; run `make demo` first", file=sys.stderr)
        return 2
    start = time.perf_counter()
    report = build_report(args.study)
    built = time.perf_counter() - start
    start = time.perf_counter()
    out = write_report(report.html, args.out)
    written = time.perf_counter() - start
    size_mb = out.stat().st_size / 1e6
    print(f"study {args.study} ({report.state}); report {out}")
    print(f"build: {built:.2f} s; write: {written * 1000:.0f} ms")
    print(f"size: {size_mb:.2f} MB (limit {SIZE_LIMIT_MB:g} MB: "
          f"{'ok' if size_mb < SIZE_LIMIT_MB else 'OVER'})")
    if find_chromium() is None:
        print("chromium: not installed; opening time not measured")
        return 0
    loads, runs = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        page = render(out)
        runs.append(time.perf_counter() - start)
        loads.append(page.load_seconds)
        if page.errors:
            print(f"console errors: {page.errors}")
    load = statistics.median(loads)
    print(f"chromium load (navigation to load event), median of {len(loads)}: {load:.3f} s "
          f"(limit {OPEN_LIMIT_S:g} s: {'ok' if load < OPEN_LIMIT_S else 'OVER'}); "
          f"whole run with start, screenshot and close: {statistics.median(runs):.2f} s; "
          f"{len(page.images)} images decoded: "
          f"{all(i['complete'] and i['width'] > 0 for i in page.images)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
