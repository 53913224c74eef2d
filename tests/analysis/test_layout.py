"""Inside stalwart.analysis imports go one way: table <- outcome <- baselines <- replay."""

from __future__ import annotations

import ast
from pathlib import Path

import stalwart.analysis

PACKAGE = Path(stalwart.analysis.__file__).parent

# module (relative to the package) -> the analysis modules it may import
ALLOWED: dict[str, set[str]] = {
    "table": set(),
    "outcome": {"table"},
    "baselines": {"table", "outcome", "baselines"},
    "replay": {"table", "outcome", "baselines"},
    "benchmark": {"benchmark"},  # the statistics of a benchmark table: on their own
}


def _analysis_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = (
            [a.name for a in node.names] if isinstance(node, ast.Import)
            else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        )
        for name in names:
            parts = name.split(".")
            if parts[:2] == ["stalwart", "analysis"] and len(parts) > 2:
                found.add(parts[2])
    return found


def test_imports_inside_analysis_go_one_way() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        top = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if top == "__init__":
            continue
        assert _analysis_imports(path) <= ALLOWED[top], path.relative_to(PACKAGE)
