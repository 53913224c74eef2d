"""The import graph between stalwart's top-level modules and packages, against its layers.

Every ``import stalwart.x`` / ``from stalwart.x import ...`` in ``src/stalwart`` counts,
including the deferred ones inside functions (a deferred import is still a dependency;
it only moves the cost). A *unit* is a top-level module (``spec``) or package
(``selection``); imports inside one unit are not counted. ``docs/architecture.md``
explains the layers; :data:`LAYERS` is their single source, read by
``tests/test_architecture.py``.

Usage::

    python tools/import_graph.py [SRC_DIR]     # prints the figures, the upward imports, the cycles
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

#: lowest first; a unit may import its own layer and those below.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "core", "checks"),           # vocabulary: no stalwart imports but each other
    ("spec", "data"),                       # the YAML spec; datasets
    ("models",),                            # model families and their interval bounds
    ("training", "space"),                  # one instance's training; spec -> configs
    ("robustness", "selection", "trainers", "bilevel"),  # attacks, metrics; strategies; user trainers; near-optimal sets
    ("validation", "store", "execution"),   # spec vs registries; SQLite journal; executors
    ("study", "summary", "pretrain"),       # the ask/run/record/tell loop; what it found; backbones
    ("analysis", "report", "integrations", "api"),  # offline side; Optuna bridge; Python API
    ("cli", "__main__"),                    # the command line
]


def unit_of(module: str) -> str | None:
    """``stalwart.selection.base`` -> ``selection``; None outside stalwart."""
    parts = module.split(".")
    if parts[0] != "stalwart":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path, package: str) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod == "stalwart":
                # `from stalwart import x` or `from . import x`: x may be a submodule
                found += [f"stalwart.{a.name}" for a in node.names]
            else:
                found.append(mod)
    return found


def edges(src: Path) -> Counter[tuple[str, str]]:
    """(importing unit, imported unit) -> number of import statements."""
    counts: Counter[tuple[str, str]] = Counter()
    known = set(units(src))
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src.parent).with_suffix("")
        parts = list(rel.parts)
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = ".".join(parts[:-1])
        me = unit_of(module)
        for target in _imports(path, package):
            other = unit_of(target)
            if other in known and me in known and other != me:
                counts[(me, other)] += 1
    return counts


def layer_of(unit: str) -> int:
    for i, layer in enumerate(LAYERS):
        if unit in layer:
            return i
    raise KeyError(f"unit {unit!r} is in no layer: add it to LAYERS in tools/import_graph.py")


def units(src: Path) -> list[str]:
    out = []
    for p in sorted(src.iterdir()):
        if p.is_dir() and (p / "__init__.py").exists():
            out.append(p.name)
        elif p.suffix == ".py" and p.stem != "__init__":
            out.append(p.stem)
    return out


def upward(counts: Counter[tuple[str, str]]) -> list[tuple[str, str]]:
    """Imports from a lower layer up to a higher one."""
    return sorted(e for e in counts if layer_of(e[0]) < layer_of(e[1]))


def cycles(counts: Counter[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components of more than one unit (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for a, b in counts:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main(argv: list[str]) -> int:
    src = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[1] / "src/stalwart"
    counts = edges(src)
    names = units(src)
    print(f"units: {len(names)} ({', '.join(names)})")
    print(f"imports between units: {sum(counts.values())} statements, {len(counts)} distinct pairs")
    try:
        up = upward(counts)
        print(f"layers: {len(LAYERS)}; upward imports: {len(up)}"
              + "".join(f"\n  {a} -> {b}" for a, b in up))
    except KeyError as exc:
        print(f"layers: not applicable ({exc})")
    cyc = cycles(counts)
    print(f"import cycles: {len(cyc)}" + "".join(f"\n  {' <-> '.join(c)}" for c in cyc))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
