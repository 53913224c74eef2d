"""What a report is drawn from, told apart by what the path holds.

``stalwart report PATH`` takes five kinds of input:

* **study**: a directory holding a study store (``study.sqlite``, :mod:`stalwart.store`);
* **analysis**: ``analysis.json`` as ``stalwart analyze --out DIR`` writes it, or the
  directory holding it (any JSON object whose ``schema`` is ``stalwart.analyze/N``);
* **replay**: what ``stalwart replay ... --format json`` prints (an object with a
  ``summary`` and/or a single ``replay``), a JSON list of such objects or of replay
  summaries (:meth:`stalwart.analysis.outcome.ReplaySummary.to_dict`), or a directory of
  such JSON files, one per strategy;
* **landscape**: the catalogue of a network's minima as ``benchmarks/landscape.py --json``
  writes it (a JSON object whose ``schema`` is ``stalwart.landscape/N``,
  :meth:`stalwart.bilevel.landscape.Catalogue.to_dict`); its keys are checked when the
  page is laid out (:mod:`stalwart.report.landscape_page`);
* **benchmark**: the markdown table of the selection benchmark
  (``benchmarks/selection.py``: its standard output, or a file such as
  ``benchmarks/README.md`` that holds it).

Anything else (a missing path, an empty directory, a JSON file of another shape) is a
:class:`~stalwart.errors.UserError` on one line that says what was expected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from stalwart.errors import UserError
from stalwart.store import DB_NAME

ANALYSIS_FILE = "analysis.json"
ANALYSIS_SCHEMA = "stalwart.analyze/"
LANDSCAPE_SCHEMA = "stalwart.landscape/"
#: The selection benchmark's table starts with these columns (benchmarks/selection.py).
BENCHMARK_HEAD = ("table", "method", "params")

Kind = Literal["study", "analysis", "replay", "benchmark", "landscape"]

_EXPECTED = ("a study directory (with study.sqlite), an analysis result (analysis.json), "
             "a replay result (stalwart replay --format json), a landscape result "
             "(benchmarks/landscape.py --json) or the selection benchmark's markdown table")


@dataclass
class Source:
    """A report input: its ``kind``, where it is, and what was read from it.

    ``docs`` holds the replay documents as (label, object) pairs; ``data`` the analysis
    or landscape object or the benchmark's markdown text; a study is read later, from its store.
    """

    kind: Kind
    path: Path
    data: Any = None
    docs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def detect(path: str | Path) -> Source:
    """The :class:`Source` at ``path``; a one-line :class:`UserError` if it is none."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such file or directory (expected {_EXPECTED})")
    if p.is_dir():
        return _directory(p)
    return _file(p)


def _directory(p: Path) -> Source:
    if (p / DB_NAME).is_file():
        return Source("study", p)
    if (p / ANALYSIS_FILE).is_file():
        return Source("analysis", p / ANALYSIS_FILE, data=_analysis(p / ANALYSIS_FILE))
    docs: list[tuple[str, dict[str, Any]]] = []
    for f in sorted(p.glob("*.json")):
        value = _json(f)
        found = _replay_docs(value, f.stem)
        if found is None:
            raise UserError(f"{f}: not a replay result (stalwart replay --format json), so "
                            f"{p} is not a directory of replay results")
        docs += found
    if docs:
        return Source("replay", p, docs=docs)
    raise UserError(f"{p}: nothing to report here (no {DB_NAME}, no {ANALYSIS_FILE}, no replay "
                    f"*.json); expected {_EXPECTED}")


def _file(p: Path) -> Source:
    if p.name == DB_NAME:
        return Source("study", p.parent)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{p}: not a text file; expected {_EXPECTED}") from None
    except OSError as exc:
        raise UserError(f"{p}: cannot read ({exc.strerror or exc})") from None
    if p.name == ANALYSIS_FILE:
        return Source("analysis", p, data=_analysis(p, text))
    if text.lstrip().startswith(("{", "[")):
        value = _json(p, text)
        if is_analysis(value):
            return Source("analysis", p, data=value)
        if is_landscape(value):
            return Source("landscape", p, data=value)
        docs = _replay_docs(value, p.stem)
        if docs is None:
            raise UserError(f"{p}: a JSON file of unknown shape; expected {_EXPECTED}")
        return Source("replay", p, docs=docs)
    if benchmark_rows(text):
        return Source("benchmark", p, data=text)
    raise UserError(f"{p}: not a report input; expected {_EXPECTED}")


def _json(p: Path, text: str | None = None) -> Any:
    try:
        return json.loads(p.read_text(encoding="utf-8") if text is None else text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{p}: cannot read ({exc})") from None


def _analysis(p: Path, text: str | None = None) -> dict[str, Any]:
    value = _json(p, text)
    if not isinstance(value, dict):
        raise UserError(f"{p}: an analysis result must be a JSON object")
    return value


def is_analysis(value: Any) -> bool:
    """An analysis result: ``"schema": "stalwart.analyze/N"`` (or ``"kind": "analysis"``)."""
    return isinstance(value, dict) and (
        str(value.get("schema", "")).startswith(ANALYSIS_SCHEMA) or value.get("kind") == "analysis")


def is_landscape(value: Any) -> bool:
    """A landscape result: ``"schema": "stalwart.landscape/N"``."""
    return isinstance(value, dict) and str(value.get("schema", "")).startswith(LANDSCAPE_SCHEMA)


def is_summary(value: Any) -> bool:
    """A replay summary (``ReplaySummary.to_dict``): a strategy and its P(best)."""
    return isinstance(value, dict) and "strategy" in value and "p_best" in value


def is_replay_doc(value: Any) -> bool:
    """What ``stalwart replay --format json`` prints: a summary and/or one replay."""
    return isinstance(value, dict) and (
        is_summary(value.get("summary"))
        or (isinstance(value.get("replay"), dict) and "strategy" in value["replay"]))


def _replay_docs(value: Any, label: str) -> list[tuple[str, dict[str, Any]]] | None:
    """Replay documents in ``value`` as (label, doc), or None when it holds none."""
    if is_replay_doc(value):
        return [(label, value)]
    if is_summary(value):
        return [(label, {"summary": value})]
    if isinstance(value, list) and value:
        out: list[tuple[str, dict[str, Any]]] = []
        for i, item in enumerate(value):
            if is_replay_doc(item):
                out.append((f"{label}[{i}]", item))
            elif is_summary(item):
                out.append((f"{label}[{i}]", {"summary": item}))
            else:
                return None
        return out
    return None


def benchmark_rows(text: str) -> list[dict[str, str]]:
    """The rows of every selection-benchmark table in ``text`` (markdown), as
    {column: cell} with the cells' ``**`` emphasis removed; [] when there is none."""
    rows: list[dict[str, str]] = []
    head: list[str] | None = None
    for line in text.splitlines():
        line = line.strip()
        if not (line.startswith("|") and line.endswith("|")):
            head = None
            continue
        cells = [c.strip().strip("*").strip() for c in line[1:-1].split("|")]
        if head is None:
            if tuple(c.lower() for c in cells[:3]) == BENCHMARK_HEAD:
                head = cells
            continue
        if all(set(c) <= set("-: ") for c in cells):
            continue  # the separator line
        if len(cells) == len(head):
            rows.append(dict(zip(head, cells, strict=True)))
    return rows
