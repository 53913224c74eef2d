"""The study store: one SQLite database per study directory, the only writer of its state.

Every instance result is committed (WAL mode, ``synchronous=FULL``) before the study
reports it, so a driver killed at any moment loses nothing it has reported; a study
reopens from its store and replays the stored results into a fresh strategy.

A driver holds an exclusive ``flock`` on ``DIR/driver.lock`` for as long as it runs; the
kernel releases it when the process dies (``kill -9`` included), so a crashed study can
be resumed at once, while a second live driver is refused.
"""

from __future__ import annotations

import fcntl
import functools
import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from stalwart.core import Config, Decision, InstanceResult
from stalwart.errors import StudyLockedError, UserError

DB_NAME = "study.sqlite"
LOCK_NAME = "driver.lock"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS configs (
    config_id TEXT PRIMARY KEY, position INTEGER NOT NULL, params TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    config_id TEXT NOT NULL REFERENCES configs(config_id),
    instance INTEGER NOT NULL,
    seed TEXT NOT NULL,
    status TEXT NOT NULL,
    metrics TEXT NOT NULL,
    train_loss REAL,
    epochs INTEGER NOT NULL,
    wall_time REAL NOT NULL,
    n_params INTEGER,
    error TEXT,
    weights_path TEXT,
    recorded_at REAL NOT NULL,
    PRIMARY KEY (config_id, instance));
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    step INTEGER NOT NULL, config_id TEXT NOT NULL, action TEXT NOT NULL, reason TEXT NOT NULL,
    value REAL, threshold REAL, statistic REAL, p_value REAL, n_instances INTEGER,
    UNIQUE (step, config_id, action));
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, kind TEXT NOT NULL, detail TEXT);
"""


def _num(x: float | None) -> float | None:
    """SQLite stores NaN as NULL; keep None for missing and store inf as is."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return float(x)


def _metrics_json(metrics: dict[str, float]) -> str:
    # JSON has no NaN; failed metrics are written as null and read back as NaN.
    return json.dumps({k: (None if v is None or math.isnan(v) else v) for k, v in metrics.items()})


_F = TypeVar("_F", bound=Callable[..., Any])


def _readable(method: _F) -> _F:
    """Turn SQLite's errors on a corrupt, truncated or unreadable file into one line.

    A damaged ``study.sqlite`` is bad input like any other file: the user gets its path and
    what SQLite said (exit status 2), not a traceback. ``database is locked`` past the
    timeout is reported the same way.
    """

    @functools.wraps(method)
    def guarded(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise UserError(f"{self.path}: cannot use the study store ({exc}); if the file is "
                            "damaged, restore it from a copy or start the study afresh") from None

    return guarded  # type: ignore[return-value]


class Store:
    """Open (or create) the study database in ``directory``.

    Use :meth:`acquire_driver` before writing results: it takes the driver lock.

    Raises
    ------
    UserError
        No study in ``directory`` (without ``create``), a directory that cannot be
        created, or a file SQLite cannot read as a study store.
    """

    def __init__(self, directory: str | Path, *, create: bool = False) -> None:
        self.directory = Path(directory)
        self.path = self.directory / DB_NAME
        self._lock_fd: int | None = None
        if not self.path.is_file():
            if self.path.exists():
                raise UserError(f"{self.path}: not a file")
            if not create:
                raise UserError(f"{self.directory}: no study here (missing {DB_NAME})")
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"{self.directory}: cannot create study directory ({exc.strerror})") from None
        self._open()

    @_readable
    def _open(self) -> None:
        self._conn: sqlite3.Connection = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.executescript(_SCHEMA)
            # A truncated file can pass the lines above; a full check reads every page.
            row = self._conn.execute("PRAGMA quick_check").fetchone()
        except BaseException:
            self._conn.close()
            raise
        if row is None or row[0] != "ok":
            self._conn.close()
            raise sqlite3.DatabaseError(f"integrity check failed: {row[0] if row else 'no answer'}")

    # ---- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        self.release_driver()
        if hasattr(self, "_conn"):  # absent when opening failed
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def acquire_driver(self) -> None:
        """Become the study's only driver, or raise StudyLockedError."""
        try:
            fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UserError(f"{self.directory / LOCK_NAME}: cannot open the driver lock "
                            f"({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise StudyLockedError(
                f"{self.directory}: study is being run by another driver (pid {holder}); "
                "wait for it to finish or stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def release_driver(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # ---- meta ------------------------------------------------------------------------
    @_readable
    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else row[0]

    @_readable
    def set_meta(self, **items: str) -> None:
        with self._tx() as c:
            c.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", list(items.items()))

    @_readable
    def delete_meta(self, *keys: str) -> None:
        with self._tx() as c:
            c.executemany("DELETE FROM meta WHERE key=?", [(k,) for k in keys])

    @_readable
    def initialise(self, spec_yaml: str, identity: str, configs: Iterable[Config]) -> None:
        """Write the spec and configs of a new study (one transaction)."""
        with self._tx() as c:
            c.executemany(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                [
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("spec_yaml", spec_yaml),
                    ("identity", identity),
                    ("created_at", repr(time.time())),
                ],
            )
            c.executemany(
                "INSERT OR IGNORE INTO configs(config_id, position, params) VALUES (?, ?, ?)",
                [(cfg.id, i, cfg.to_json()) for i, cfg in enumerate(configs)],
            )

    # ---- configs ---------------------------------------------------------------------
    @_readable
    def configs(self) -> list[Config]:
        rows = self._conn.execute("SELECT params FROM configs ORDER BY position").fetchall()
        return [Config.from_json(r[0]) for r in rows]

    # ---- results ---------------------------------------------------------------------
    @_readable
    def record(self, result: InstanceResult) -> bool:
        """Commit one result. Returns False (and writes nothing) if it was already stored."""
        with self._tx() as c:
            cur = c.execute(
                "INSERT OR IGNORE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    result.config_id,
                    result.instance,
                    str(result.seed),
                    result.status,
                    _metrics_json(result.metrics),
                    _num(result.train_loss),
                    int(result.epochs),
                    float(result.wall_time),
                    result.n_params,
                    result.error,
                    result.weights_path,
                    time.time(),
                ),
            )
            return cur.rowcount == 1

    @_readable
    def results(self) -> dict[tuple[str, int], InstanceResult]:
        rows = self._conn.execute(
            "SELECT config_id, instance, seed, status, metrics, train_loss, epochs, wall_time,"
            " n_params, error, weights_path FROM results ORDER BY recorded_at, config_id, instance"
        ).fetchall()
        out: dict[tuple[str, int], InstanceResult] = {}
        for r in rows:
            metrics = {k: (math.nan if v is None else float(v)) for k, v in json.loads(r[4]).items()}
            out[(r[0], r[1])] = InstanceResult(
                config_id=r[0],
                instance=r[1],
                seed=int(r[2]),
                status=r[3],
                metrics=metrics,
                train_loss=math.nan if r[5] is None else r[5],
                epochs=r[6],
                wall_time=r[7],
                n_params=r[8],
                error=r[9],
                weights_path=r[10],
            )
        return out

    @_readable
    def retry(self, results: Iterable[InstanceResult]) -> None:
        """Remove ``results`` so that their instances are trained again, and forget every
        decision (a strategy replayed from new results takes them again).

        One transaction; each removed result is kept in the event log (``retried``), so
        nothing recorded is lost.
        """
        rows = list(results)
        with self._tx() as c:
            c.executemany("DELETE FROM results WHERE config_id=? AND instance=?",
                          [(r.config_id, r.instance) for r in rows])
            c.execute("DELETE FROM decisions")
            c.executemany("INSERT INTO events(at, kind, detail) VALUES (?, ?, ?)",
                          [(time.time(), "retried", json.dumps(r.to_dict(), default=str)) for r in rows])

    @_readable
    def n_results(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    # ---- decisions and events --------------------------------------------------------
    @_readable
    def record_decisions(self, decisions: Iterable[Decision]) -> None:
        """Store decisions; one already stored (same step, config, action) is left as is."""
        rows = [
            (d.step, d.config_id, d.action, d.reason, _num(d.value), _num(d.threshold),
             _num(d.statistic), _num(d.p_value), d.n_instances)
            for d in decisions
        ]
        if rows:
            with self._tx() as c:
                c.executemany(
                    "INSERT OR IGNORE INTO decisions(step, config_id, action, reason, value,"
                    " threshold, statistic, p_value, n_instances) VALUES (?,?,?,?,?,?,?,?,?)",
                    rows,
                )

    @_readable
    def decisions(self) -> list[Decision]:
        rows = self._conn.execute(
            "SELECT step, config_id, action, reason, value, threshold, statistic, p_value,"
            " n_instances FROM decisions ORDER BY seq"
        ).fetchall()
        return [Decision(*r) for r in rows]

    @_readable
    def log_event(self, kind: str, detail: Any = None) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT INTO events(at, kind, detail) VALUES (?, ?, ?)",
                (time.time(), kind, None if detail is None else json.dumps(detail)),
            )

    @_readable
    def events(self) -> list[tuple[float, str, Any]]:
        rows = self._conn.execute("SELECT at, kind, detail FROM events ORDER BY seq").fetchall()
        return [(r[0], r[1], None if r[2] is None else json.loads(r[2])) for r in rows]
