"""benchmarks/selection.py: every strategy and baseline, one row each, into the marked section."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from stalwart.selection import STRATEGIES

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "benchmarks" / "data" / "calorimeter_exhaustive.csv"


def test_selection_benchmark_writes_every_row_between_the_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# before\n<!-- selection:begin -->\nold\n<!-- selection:end -->\nafter\n")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "selection.py"), "--no-cct", "--table",
         str(TABLE), "--direction", "minimize", "--tolerance", "0.001", "--no-digits",
         "--repeats", "3", "--jobs", "1", "--write-readme", str(readme)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    text = readme.read_text()
    assert text.startswith("# before\n<!-- selection:begin -->\n")
    assert text.endswith("<!-- selection:end -->\nafter\n")
    assert "\nold\n" not in text  # the stale section is gone
    rows = [line for line in text.splitlines() if line.startswith("| calorimeter_exhaustive")]
    cells = [[c.strip() for c in row.split("|")] for row in rows]
    methods = [c[2] for c in cells]
    # Every other registered strategy (adaptive, ...) gets a row with its defaults, and
    # adaptive one more at its default tolerance (the near-best band) and five more told
    # the table's tolerance: per correction, and with the surrogate.
    others = [n for n in STRATEGIES if n not in ("exhaustive", "halving", "racing")]
    baselines = ["random", "tpe", "tpe_wilcoxon", "tpe_racing"]
    assert methods == ["halving"] * 4 + ["racing"] * 3 + others + ["adaptive"] * 6 + (
        baselines * 2)
    assert [c[3] for c in cells if c[2] == "adaptive"][-6:] == [
        "correction=none, confidence=0.99, surrogate=0.25",
        "tolerance=0.001", "tolerance=0.001, correction=looks, confidence=0.95",
        "tolerance=0.001, correction=none, confidence=0.95",
        "tolerance=0.001, correction=looks, confidence=0.95, surrogate=0.25",
        "tolerance=0.001, correction=none, confidence=0.95, surrogate=0.25"]
    assert [c[3] for c in cells if c[2] == "racing"] == [
        "test=welch", "test=mannwhitney", "test=welch, sided=two"]
    header = [c.strip() for c in text.split("\n")[2].split("|")]
    # The headline: training time first after method/params, then P(regret <= tol).
    assert header[1:8] == ["table", "method", "params", "time %", "P(regret <= tol)",
                           "P(best)", "P(near-best)"]
    for c in cells:
        assert c[4].startswith("**") and c[4].endswith("**")  # a time fraction, in bold
        assert c[5].endswith("%")  # the tolerance was given, so P(regret <= tol) is known
    assert "calorimeter_exhaustive.csv 0.001" in text
    # Each row states its repeats; the baselines get halving (warmup 5)'s budget.
    assert all(c[9] == "3" for c in cells)
    halving5 = next(c for c in cells if c[3] == "warmup=5")
    budget = halving5[8].split("(")[0].strip()
    assert all(c[3] == f"budget={budget}" for c in cells[-8:-4])
    cheapest = next(c for c in cells if c[3].endswith("correction=none, confidence=0.95, "
                                                      "surrogate=0.25"))
    small = cheapest[8].split("(")[0].strip()
    assert all(c[3] == f"budget={small}" for c in cells[-4:]), "equal budgets"
    assert "Command: `python benchmarks/selection.py --no-cct" in text
