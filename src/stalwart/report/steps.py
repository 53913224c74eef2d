"""The steps of a selection, read back from a study's decisions and results.

A strategy records every removal and its selection as a :class:`~stalwart.core.Decision`
with the step it was taken at and the instances per config it rested on
(``n_instances``). A **step** of the report is one such decision step: the configs in
the race when it was taken (``alive``), those it removed and, at the last one, the
selection. Each config is judged there on its first ``n`` instances, ``n`` the step's
instance count (for halving exactly what the strategy saw; for racing and adaptive,
whose configs may hold different counts, each config's instances up to that count; a
step that only skipped untrained configs, as adaptive's surrogate does during the first
round, counts one instance, the most the trained configs held then).

The **cost** up to a step counts the trainings the race had used by then: the instances
below the step's count of the configs still in it, and those below their removal count
of the configs already out. A study still running gets a last step, ``now``, with the
configs in the race and every instance stored so far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from stalwart.core import Decision, InstanceResult

NOW = -1
"""The step index of the live snapshot of a study that has not finished."""


@dataclass
class Step:
    """One decision step (or the live ``now`` snapshot, ``index == NOW``)."""

    index: int
    n_instances: int
    alive: list[str]
    removed: list[str] = field(default_factory=list)
    selected: str | None = None
    trainings: int = 0
    seconds: float = 0.0

    @property
    def label(self) -> str:
        return "now" if self.index == NOW else f"step {self.index}"


def steps(config_ids: list[str], decisions: list[Decision],
          results: dict[str, list[InstanceResult]], *, over: bool) -> list[Step]:
    """The study's steps in order (see the module docstring).

    Parameters
    ----------
    config_ids:
        Every config of the study, in the study's order.
    decisions:
        The stored decisions.
    results:
        Each config's results in instance order.
    over:
        The study will not go on: no ``now`` step is added (unless it took no decision).
    """
    by_step: dict[int, list[Decision]] = {}
    for d in decisions:
        by_step.setdefault(d.step, []).append(d)
    out: list[Step] = []
    gone: dict[str, int] = {}  # config -> instance count at its removal
    alive = list(config_ids)
    for index in sorted(by_step):
        ds = by_step[index]
        counts = [d.n_instances for d in ds if d.n_instances is not None]
        n = max(counts) if counts else _most(results, alive)
        if n == 0 and any(results.get(c) for c in alive):
            n = 1  # configs skipped untrained (adaptive's surrogate): the others held one
        removed = [d.config_id for d in ds if d.action == "removed" and d.config_id in alive]
        selected = next((d.config_id for d in ds if d.action == "selected"), None)
        step = Step(index, n, list(alive), removed, selected)
        for d in ds:
            if d.action == "removed" and d.config_id in alive:
                gone[d.config_id] = d.n_instances if d.n_instances is not None else n
        step.trainings, step.seconds = _cost(results, alive, gone, n)
        out.append(step)
        alive = [c for c in alive if c not in gone]
    decided = any(s.selected for s in out)
    if (not over or not out) and not decided and any(results.values()):
        n = _most(results, alive)
        step = Step(NOW, n, list(alive))
        step.trainings = sum(len(rs) for rs in results.values())
        step.seconds = float(sum(r.wall_time for rs in results.values() for r in rs))
        out.append(step)
    return out


def _most(results: dict[str, list[InstanceResult]], configs: list[str]) -> int:
    return max((len(results.get(c, [])) for c in configs), default=0)


def _cost(results: dict[str, list[InstanceResult]], alive: list[str], gone: dict[str, int],
          n: int) -> tuple[int, float]:
    count, seconds = 0, 0.0
    for cid, rs in results.items():
        cap = gone.get(cid, n if cid in alive else 0)
        for r in rs:
            if r.instance < cap:
                count += 1
                seconds += r.wall_time
    return count, seconds


def values_at(rs: list[InstanceResult], metric: str, n: int) -> np.ndarray:
    """The finite metric values of a config's first ``n`` instances."""
    vals = [r.value(metric) for r in rs if r.instance < n]
    return np.asarray([v for v in vals if math.isfinite(v)], dtype=float)


def mean_std(values: np.ndarray) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value, NaN for none)."""
    if values.size == 0:
        return math.nan, math.nan
    std = float(np.std(values, ddof=1)) if values.size > 1 else 0.0
    return float(np.mean(values)), std
