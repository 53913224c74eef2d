"""Build a report from any input and write it in one piece.

:func:`build_report` detects what the path holds (:mod:`stalwart.report.load`) and lays
out the matching page. :func:`write_report` writes it to a temporary file next to the
output and renames it over the output, so that a browser (or a watching reload) never
sees half a report.

A study without any stored result is an error for a single report (there is nothing to
show, and a script should hear it: exit status 2, nothing written); a watched study is
reported with a page that says "no results yet" and refreshed until it has results.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from stalwart.errors import UserError
from stalwart.report.load import Source, detect


@dataclass
class Report:
    """A built report: the HTML, what it was built from, and whether the input is over
    (a finished study, or any input that is not a study)."""

    html: str
    source: Source
    over: bool = True
    state: str = ""


def build_report(path: str | Path, *, refresh: float | None = None,
                 allow_empty: bool = False, source: Source | None = None) -> Report:
    """The report of ``path``.

    Parameters
    ----------
    path:
        A study directory, an analysis result, replay results, a landscape result or the
        selection benchmark's table.
    refresh:
        Seconds after which the page reloads itself (while watching); None: never. A study
        that is over is written without it.
    allow_empty:
        Report a study with no results yet (a page that says so) rather than raise.
    source:
        The already detected input (a watch detects once).

    Raises
    ------
    UserError
        A path that is no report input, or (without ``allow_empty``) a study with no
        results yet.
    """
    src = source or detect(path)
    if src.kind == "study":
        from stalwart.report.study_data import read_study
        from stalwart.report.study_page import NO_RESULTS, study_page

        data = read_study(src.path)
        if not data.results and not allow_empty:
            raise UserError(f"{src.path}: {NO_RESULTS} (the study has stored no training; "
                            "stalwart report --watch waits for them)")
        page = study_page(data)
        return Report(page.render(refresh=None if data.over else refresh), src, data.over,
                      data.state)
    if src.kind == "analysis":
        from stalwart.report.analysis_page import analysis_page

        return Report(analysis_page(src.data, src.path).render(), src)
    if src.kind == "landscape":
        from stalwart.report.landscape_page import landscape_page

        return Report(landscape_page(src.data, src.path).render(), src)
    from stalwart.report.replay_views import replay_page, strategy_rows

    if not strategy_rows(src) and not any("replay" in d for _, d in src.docs):
        raise UserError(f"{src.path}: holds no replay summary or replay to draw")
    return Report(replay_page(src).render(), src)


def check_output(output: str | Path) -> Path:
    """``output`` if a report can be written there (checked before anything is built)."""
    out = Path(output)
    if out.is_dir():
        raise UserError(f"--output: {out} is a directory; give a file name")
    if not out.parent.is_dir():
        raise UserError(f"--output: {out.parent} does not exist")
    return out


def write_report(text: str, output: str | Path) -> Path:
    """Write ``text`` to ``output`` atomically; a one-line UserError if it cannot be."""
    out = check_output(output)
    parent = out.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise UserError(f"--output: cannot write in {parent} ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, out)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"--output: cannot write {out} ({exc.strerror or exc})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
