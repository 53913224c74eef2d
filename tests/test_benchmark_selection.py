"""benchmarks/selection.py: every strategy and baseline, one row each, into the marked section."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "benchmarks" / "data" / "calorimeter_exhaustive.csv"


def test_selection_benchmark_writes_every_row_between_the_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# before\n<!-- selection:begin -->\nold\n<!-- selection:end -->\nafter\n")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "selection.py"), "--no-cct", "--table",
         str(TABLE), "--direction", "minimize", "--repeats", "3", "--jobs", "1",
         "--write-readme", str(readme)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    text = readme.read_text()
    assert text.startswith("# before\n<!-- selection:begin -->\n")
    assert text.endswith("<!-- selection:end -->\nafter\n")
    assert "\nold\n" not in text  # the stale section is gone
    rows = [line for line in text.splitlines() if line.startswith("| calorimeter_exhaustive")]
    methods = [row.split("|")[2].strip() for row in rows]
    assert methods == ["halving"] * 4 + ["racing"] * 2 + ["random", "tpe", "tpe_wilcoxon",
                                                          "tpe_racing"]
    # Each row states its repeats; the baselines get halving (warmup 5)'s budget.
    assert all(row.split("|")[4].strip() == "3" for row in rows)
    halving5 = next(r for r in rows if r.split("|")[3].strip() == "warmup=5")
    budget = halving5.split("|")[5].split("(")[0].strip()
    assert all(f"budget={budget}" in r for r in rows[-4:])
    assert "Command: `python benchmarks/selection.py --no-cct" in text
