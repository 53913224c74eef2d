"""A study as the report reads it: its summary, every stored instance and its state.

The report only reads the store (:mod:`stalwart.store`), as ``stalwart show`` does,
and may do so while a driver writes to it (SQLite's WAL lets readers in). The store marks
a study **finished** by the ``finished_at`` meta key, written with the ``selection`` when
the study ends with a valid result; a study that ended *without* one carries the
``no_valid_result`` key instead (:data:`stalwart.summary.NO_RESULT_META`) and is over
unless a driver runs it again.

Whether a driver is running is read without touching its lock: taking the lock, even for
an instant, could make a driver that starts at that moment refuse to run. On Linux,
``/proc/locks`` lists the held ``flock`` locks by device and inode; elsewhere the state
is "unknown" and only the store's marks count.

The stored spec is read for its structure only (:func:`stalwart.study.stored_spec` with
``check_names=False``): it was checked against every registry when the study was made, and
checking it again would load the model registry, and torch with it, for nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from stalwart.core import InstanceResult
from stalwart.store import LOCK_NAME, Store
from stalwart.study import stored_spec
from stalwart.summary import NO_RESULT_META, StudySummary, summarize


@dataclass
class StudyData:
    """What the report draws a study from.

    ``state`` is one of ``finished``, ``running``, ``stopped`` (not finished, no driver:
    ``stalwart run`` resumes it), ``ended without a valid result`` or ``unknown`` (no
    driver information on this system and not finished).
    """

    directory: Path
    summary: StudySummary
    results: list[InstanceResult]
    state: str
    elapsed_s: float | None = None

    @property
    def over(self) -> bool:
        """Nothing more will happen to the study unless someone runs it again."""
        return self.state in ("finished", "ended without a valid result")

    def by_config(self) -> dict[str, list[InstanceResult]]:
        """Each config's results in instance order (every config present)."""
        out: dict[str, list[InstanceResult]] = {c.config.id: [] for c in self.summary.configs}
        for r in self.results:
            out.setdefault(r.config_id, []).append(r)
        for rs in out.values():
            rs.sort(key=lambda r: r.instance)
        return out


def read_study(directory: str | Path) -> StudyData:
    """Read the study in ``directory`` (a one-line UserError if there is none)."""
    d = Path(directory)
    with Store(d) as store:
        spec = stored_spec(store, check_names=False)
        summary = summarize(store, spec)
        results = list(store.results().values())
        finished_at = store.get_meta("finished_at")
        no_result = store.get_meta(NO_RESULT_META)
        elapsed = store.get_meta("elapsed_s")
    running = driver_running(d)
    if finished_at is not None and summary.selection is not None:
        state = "finished"
    elif running:
        state = "running"
    elif no_result is not None:
        state = "ended without a valid result"
    elif running is None:
        state = "unknown"
    else:
        state = "stopped"
    try:
        elapsed_s = None if elapsed is None else float(elapsed)
    except ValueError:
        elapsed_s = None
    return StudyData(d, summary, results, state, elapsed_s)


def driver_running(directory: Path) -> bool | None:
    """Whether a process holds the study's driver lock; None when this system cannot tell."""
    try:
        st = (directory / LOCK_NAME).stat()
    except FileNotFoundError:
        return False
    except OSError:
        return None
    try:
        text = Path("/proc/locks").read_text()
    except OSError:
        return None
    want = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    for line in text.splitlines():
        parts = line.split()
        if "FLOCK" not in parts or "->" in parts:  # "->": a process waiting, not holding
            continue
        for part in parts:
            pieces = part.split(":")
            if len(pieces) == 3 and pieces[2].isdigit():
                try:
                    found = (int(pieces[0], 16), int(pieces[1], 16), int(pieces[2]))
                except ValueError:
                    continue
                if found == want:
                    return True
    return False

