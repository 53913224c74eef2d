"""The layering of docs/architecture.md holds: no import cycles, at most one import up."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import import_graph as graph  # noqa: E402

SRC = ROOT / "src" / "stalwart"


def test_every_unit_has_a_layer() -> None:
    for unit in graph.units(SRC):
        graph.layer_of(unit)  # raises KeyError naming the unit


def test_no_import_cycles() -> None:
    assert graph.cycles(graph.edges(SRC)) == []


def test_at_most_one_import_up_the_layers() -> None:
    assert len(graph.upward(graph.edges(SRC))) <= 1


def test_the_checker_sees_a_cycle_and_an_upward_import(tmp_path: Path) -> None:
    pkg = tmp_path / "stalwart"
    (pkg / "selection").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "selection" / "__init__.py").write_text("from stalwart.study import run\n")
    (pkg / "study.py").write_text("def run():\n    from stalwart.selection import x\n")
    (pkg / "core.py").write_text("from . import study\n")
    counts = graph.edges(pkg)
    assert graph.cycles(counts) == [["selection", "study"]]
    assert graph.upward(counts) == [("core", "study"), ("selection", "study")]
