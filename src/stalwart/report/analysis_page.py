"""The page of an analysis result (``analysis.json`` from ``stalwart analyze --out DIR``).

What an analysis shows is decided by :mod:`stalwart.report.analysis_figures`
(``analysis_figures(result) -> [(title, Figure)]`` and ``analysis_tables(result) ->
[(title, DataFrame)]``); this module only lays them out: a header with what the result
names itself, each figure in its own section, then each table (escaped like every text of
a report). The figures module is imported when an analysis is reported, not before, so
that the rest of the report works in a build without it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from stalwart.errors import UserError
from stalwart.report import html as h

_HEADER_KEYS = ("name", "schema", "source", "n_runs", "study", "table", "metric", "direction",
                "criterion", "n_configs", "n_instances", "created_at", "version")


def _functions() -> tuple[Callable[[dict[str, Any]], list], Callable[[dict[str, Any]], list]]:
    try:
        from stalwart.report.analysis_figures import analysis_figures, analysis_tables
    except ModuleNotFoundError as exc:
        if exc.name == "stalwart.report.analysis_figures":
            raise UserError("this build of stalwart cannot draw analysis results "
                            "(stalwart.report.analysis_figures is missing)") from None
        raise
    return analysis_figures, analysis_tables


def analysis_page(result: dict[str, Any], path: Path, *,
                  figures: Callable[[dict[str, Any]], list] | None = None,
                  tables: Callable[[dict[str, Any]], list] | None = None) -> h.Page:
    """Lay out an analysis result. ``figures`` and ``tables`` default to
    :mod:`stalwart.report.analysis_figures`' functions (given here in tests)."""
    if figures is None or tables is None:
        f, t = _functions()
        figures, tables = figures or f, tables or t
    name = (result.get("name") or result.get("study") or
            (Path(str(result["source"])).name if result.get("source") else path.parent.name))
    page = h.Page(f"stalwart analysis {name}")
    page.header.append(h.facts([("file", str(path))] + [
        (k, v) for k, v in result.items()
        if k in _HEADER_KEYS and isinstance(v, str | int | float | bool)]))
    roles = result.get("roles")
    if isinstance(roles, dict):
        page.header.append(h.facts([(f"role: {k}", ", ".join(map(str, v)) if isinstance(v, list)
                                     else v) for k, v in roles.items()]))
    for note in result.get("notes") or []:
        page.header.append(h.box(str(note)))
    for k, (title, fig) in enumerate(figures(result)):
        page.section(f"figure-{k}", str(title)).figure(fig, str(title))
    for k, (title, frame) in enumerate(tables(result)):
        page.section(f"table-{k}", str(title)).add(dataframe_table(frame))
    if not page.sections:
        page.header.append(h.box("the analysis result holds nothing to draw"))
    return page


def dataframe_table(frame: Any) -> str:
    """A pandas DataFrame as an escaped HTML table (a named or non-default index kept)."""
    import pandas as pd

    df = frame
    if not isinstance(df.index, pd.RangeIndex) or df.index.name is not None:
        df = df.reset_index()
    cols = [str(c) for c in df.columns]
    rows = [[_cell(v) for v in row] for row in df.itertuples(index=False, name=None)]
    return h.table(cols, rows)


def _cell(value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            return value.item()
        except (ValueError, AttributeError):
            return value
    return value
