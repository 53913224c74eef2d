"""``--watch``: rewrite a study's report every few seconds while the study runs.

Each round reads the store afresh, builds the page with a ``<meta http-equiv="refresh">``
of the same interval (an open browser tab follows the study by itself) and replaces the
output in one piece. The watch ends when the study is over: finished (the store's
``finished_at`` mark) or ended without a valid result and no driver running it. The last
page is written without the refresh, so that a finished report stays still. Ctrl-C ends
the watch too, after one last write of the same static page.

A study with no results yet is reported ("no results yet") and watched, not refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from stalwart.report.build import Report, build_report, write_report
from stalwart.report.load import Source


def watch(source: Source, output: str | Path, interval: float, *,
          on_write: Callable[[Report, int], None] | None = None,
          sleep: Callable[[float], None] = time.sleep, max_rounds: int | None = None) -> Report:
    """Report ``source`` (a study) every ``interval`` seconds until it is over.

    ``on_write(report, round)`` is called after each write; ``max_rounds`` bounds the
    rounds (tests). Returns the last report written. KeyboardInterrupt is caught: the
    static report is written once more and returned.
    """
    rounds = 0
    report: Report | None = None
    try:
        while True:
            report = build_report(source.path, refresh=interval, allow_empty=True, source=source)
            write_report(report.html, output)
            rounds += 1
            if on_write is not None:
                on_write(report, rounds)
            if report.over or (max_rounds is not None and rounds >= max_rounds):
                break
            sleep(interval)
    except KeyboardInterrupt:
        pass
    if report is None or not report.over:
        # The final page does not reload itself: the watch that refreshed it has ended.
        report = build_report(source.path, allow_empty=True, source=source)
        write_report(report.html, output)
        if on_write is not None:
            on_write(report, rounds + 1)
    return report
