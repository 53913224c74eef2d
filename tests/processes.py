"""What the tests with real ``stalwart run`` processes share.

A small calorimeter study (``SPEC``), its progress and outcome read from the store
(:func:`n_results`, :func:`snapshot`), and the machine's processes read from ``/proc``
(:func:`processes`). Test modules import it by bare name, as they import each other.
"""

from __future__ import annotations

import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path

from stalwart.store import Store

SPEC = textwrap.dedent("""
    name: kill-resume
    seed: 11
    dataset: {name: calorimeter, task: energy, options: {n_pool: 1500, n_val: 300, n_test: 300}}
    model: small_cnn
    search_space:
      fixed: {epochs: 1, conv_channels: [4], pool_sizes: [2], pool_strides: [2], fc_sizes: [8]}
      product: {lr: [0.0005, 0.002, 0.008, 0.03], batch_size: [32, 64]}
    instances: {n: 4, train_size: 300}
    metric: {name: val_rmse_rel, direction: minimize}
    strategy: {name: halving, warmup: 2}
    training: {threads: 1}
    workers: 2
""")


def _query(study_dir: Path, sql: str) -> list[tuple]:
    """The rows of ``sql`` on the study's store, read while a driver may be writing it
    (none while there is no store to read)."""
    try:
        con = sqlite3.connect(study_dir / "study.sqlite", timeout=5)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return []


def n_results(study_dir: Path) -> int:
    """Results in the study's store so far (0 while there is no store to read)."""
    rows = _query(study_dir, "SELECT COUNT(*) FROM results")
    return rows[0][0] if rows else 0


def finished(study_dir: Path, keys: set[str]) -> bool:
    """Whether every trial in ``keys`` (``config_id:instance``) has a result in the store."""
    done = {f"{c}:{i}" for c, i in _query(study_dir, "SELECT config_id, instance FROM results")}
    return keys <= done


def snapshot(study_dir: Path):
    """(results, decisions, selection, event kinds) of a study, to compare two runs."""
    with Store(study_dir) as s:
        results = {k: (r.status, r.metrics, r.seed) for k, r in s.results().items()}
        decisions = [(d.step, d.config_id, d.action) for d in s.decisions()]
        events = [kind for _, kind, _ in s.events()]
        return results, decisions, s.get_meta("selection"), events


def processes() -> Iterator[tuple[int, int, int, str, str]]:
    """(pid, parent pid, session id, state, command line) of every process, from /proc."""
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # it exited meanwhile
        fields = stat.rsplit(")", 1)[1].split()
        yield int(d.name), int(fields[1]), int(fields[3]), fields[0], cmd.strip()


def run_and_show(tmp_path: Path, spec_text: str, capsys) -> dict:
    """Run a spec in this process (serial executor) and return ``stalwart show``'s JSON."""
    import json

    from stalwart.cli import main

    (tmp_path / "s.yaml").write_text(spec_text)
    assert main(["run", str(tmp_path / "s.yaml"), "--study-dir", str(tmp_path / "st"),
                 "--executor", "serial", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["show", str(tmp_path / "st"), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)
