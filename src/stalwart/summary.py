"""What a study has found so far, computed from its store alone (for show/status/report).

A study *has a valid result* when its strategy selected a config with at least one
successful (``ok``) instance. A study that ended otherwise (every instance of its pick
failed, or nothing was selected) has a :attr:`StudySummary.problem` instead, and the CLI
exits 1: a selection resting on no result is not an answer.

With a criterion's ``near_optimal`` option, each config's criterion value is computed on
its near-optimal instances, from the training losses the store holds (the rule of
:func:`stalwart.selection.criteria.near_optimal_mask`, the one the strategy applied), so
the summary agrees with the selection; :attr:`ConfigSummary.kept` says which instances
those are, and the selected config's statistics are computed on them too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stalwart.core import Config, Decision, InstanceResult
from stalwart.selection import get_criterion
from stalwart.spec import StudySpec
from stalwart.store import Store

# Statistics shown for the selected config, whatever criterion the study used.
SHOWN_STATISTICS = ("mean", "std", "median", "pd", "worst")


@dataclass
class ConfigSummary:
    config: Config
    values: list[float]  # the metric of each finished instance, in instance order
    n_failed: int
    criterion_value: float
    removed_at: int | None = None
    kept: list[bool] | None = None
    """Which instances (aligned with ``values``) the criterion scored: its near-optimal
    ones; None when the criterion has no ``near_optimal`` option (it scored all)."""

    @property
    def n_ok(self) -> int:
        """Finished instances with a finite value of the metric (not failed, not diverged)."""
        return sum(math.isfinite(v) for v in self.values)

    @property
    def scored_values(self) -> list[float]:
        """The values the criterion scored: all of them, or the ``kept`` ones."""
        if self.kept is None:
            return list(self.values)
        return [v for v, k in zip(self.values, self.kept, strict=True) if k]


@dataclass
class StudySummary:
    name: str
    spec: StudySpec
    n_configs: int
    n_instances: int
    n_trainings: int
    n_failed: int
    training_time: float
    mean_time_per_training: float
    selection: ConfigSummary | None
    configs: list[ConfigSummary]
    decisions: list[Decision]
    finished: bool
    statistics: dict[str, float] = field(default_factory=dict)
    """The :data:`SHOWN_STATISTICS` of the selected config, over the instances its
    criterion scored (:attr:`ConfigSummary.scored_values`)."""
    problem: str | None = None
    """Why the study ended without a valid result (see the module docstring); None while
    it has one or has not ended."""
    unsuccessful: list[InstanceResult] = field(default_factory=list)
    """The failed and diverged instances, in (config, instance) order, with their errors
    (a user trainer's traceback, for an exception)."""

    @property
    def n_exhaustive(self) -> int:
        return self.n_configs * self.n_instances

    @property
    def exhaustive_time_estimate(self) -> float:
        return self.mean_time_per_training * self.n_exhaustive

    @property
    def n_survivors(self) -> int:
        return sum(1 for c in self.configs if c.removed_at is None)

    def to_dict(self) -> dict[str, Any]:
        def cfg(c: ConfigSummary) -> dict[str, Any]:
            out = {"config_id": c.config.id, "params": c.config.to_dict(), "values": c.values,
                   "n_failed": c.n_failed, "criterion": _finite_or_none(c.criterion_value),
                   "removed_at_step": c.removed_at}
            if c.kept is not None:
                out["near_optimal"] = c.kept
            return out

        return {
            "name": self.name,
            "finished": self.finished,
            "problem": self.problem,
            "metric": self.spec.metric.name,
            "direction": self.spec.metric.direction,
            "criterion": self.spec.criterion.name,
            "strategy": self.spec.strategy.name,
            "n_configs": self.n_configs,
            "n_instances": self.n_instances,
            "trainings": self.n_trainings,
            "trainings_exhaustive": self.n_exhaustive,
            "failed": self.n_failed,
            "training_time_s": self.training_time,
            "training_time_exhaustive_estimate_s": self.exhaustive_time_estimate,
            "selection": cfg(self.selection) if self.selection else None,
            "selection_statistics": {k: _finite_or_none(v) for k, v in self.statistics.items()},
            "decisions": [d.to_dict() for d in self.decisions],
            "configs": [cfg(c) for c in self.configs],
            "unsuccessful": [{"config_id": r.config_id, "instance": r.instance,
                              "status": r.status, "error": r.error}
                             for r in self.unsuccessful],
        }


def why_removed(d: Decision, strategy: str, fmt: Callable[[Any], str],
                value_label: str | None = None) -> str:
    """Why one config left the race, with the numbers its strategy recorded.

    ``d.threshold`` is halving's median (shown as ``threshold``) or, for racing, the
    criterion value of the best config it tests against (``best``). With ``value_label``
    (the criterion's name) the config's own value comes second; ``fmt`` writes numbers
    (``-`` for a missing or non-finite one). Read by ``stalwart show`` and the report.
    """
    versus = "best" if strategy == "racing" else "threshold"
    parts = [d.reason]
    if value_label is not None:
        parts.append(f"{value_label} {fmt(d.value)}")
    if d.threshold is not None:
        parts.append(f"{versus} {fmt(d.threshold)}")
    if d.statistic is not None:
        parts.append(f"statistic {fmt(d.statistic)}")
    if d.p_value is not None:
        parts.append(f"p = {fmt(d.p_value)}")
    return "; ".join(parts)


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


NO_RESULT_META = "no_valid_result"
"""Store meta key: why the study's last session ended without a valid result."""


def no_result_reason(selection: str | None, results: Mapping[tuple[str, int], InstanceResult],
                     metric: str) -> str | None:
    """Why ``selection`` is not a valid result given the study's ``results``, or None if it is.

    A valid result is an instance of the selected config with a finite value of ``metric``.

    Parameters
    ----------
    selection:
        The config id the strategy selected, or None when it selected nothing.
    results:
        Every stored result of the study.
    metric:
        The study's metric.

    Returns
    -------
    str or None
        One line that says what is missing and how many trainings failed, with the first
        error (usually the cause), e.g. ``no valid result: the selected config 3ea4... has
        no successful instance (24 of 24 trainings failed; first error: ...)``.
    """
    def good(r: InstanceResult) -> bool:
        return r.status == "ok" and math.isfinite(r.value(metric))

    if selection is not None and any(good(r) for r in results.values() if r.config_id == selection):
        return None
    failed = [r for r in results.values() if not good(r)]
    errors = [r.error for r in failed if r.error]
    cost = f"{len(failed)} of {len(results)} trainings failed, diverged or lack {metric}"
    if errors:
        cost += f"; first error: {errors[0]}"
    what = ("the study selected no config" if selection is None
            else f"the selected config {selection} has no successful instance")
    return f"no valid result: {what} ({cost})"


def summarize(store: Store, spec: StudySpec) -> StudySummary:
    configs = store.configs()
    results = store.results()
    decisions = store.decisions()
    metric, direction = spec.metric.name, spec.metric.direction
    criterion = get_criterion(spec.criterion.name, **spec.criterion.params)
    by_config: dict[str, list[InstanceResult]] = {c.id: [] for c in configs}
    for r in results.values():
        by_config.setdefault(r.config_id, []).append(r)
    removed = {d.config_id: d.step for d in decisions if d.action == "removed"}
    summaries: list[ConfigSummary] = []
    for c in configs:
        rs = sorted(by_config[c.id], key=lambda r: r.instance)
        values = [r.value(metric) for r in rs]
        kept: list[bool] | None = None
        if criterion.near_optimal is not None:
            losses = [math.nan if r.train_loss is None else float(r.train_loss) for r in rs]
            kept = [bool(k) for k in criterion.near_optimal.mask(losses, values)]
        summary = ConfigSummary(c, values, sum(r.status != "ok" for r in rs), math.nan,
                                removed.get(c.id), kept)
        arr = np.asarray(summary.scored_values, dtype=float)
        summary.criterion_value = criterion.value(arr, direction) if len(arr) else math.nan
        summaries.append(summary)
    selection_id = store.get_meta("selection")
    selection = next((s for s in summaries if s.config.id == selection_id), None)
    problem = store.get_meta(NO_RESULT_META)
    if selection is not None and selection.n_ok == 0:
        # A store written before selections were checked may name a config without results.
        problem = no_result_reason(selection.config.id, results, metric)
        selection = None
    stats: dict[str, float] = {}
    if selection is not None and selection.values:
        arr = np.asarray(selection.scored_values, dtype=float)
        for name in SHOWN_STATISTICS:
            stats[name] = get_criterion(name).value(arr, direction)
    times = [r.wall_time for r in results.values()]
    return StudySummary(
        name=spec.name,
        spec=spec,
        n_configs=len(configs),
        n_instances=spec.instances.n,
        n_trainings=len(results),
        n_failed=sum(r.status != "ok" for r in results.values()),
        training_time=float(sum(times)),
        mean_time_per_training=float(np.mean(times)) if times else 0.0,
        selection=selection,
        configs=summaries,
        decisions=decisions,
        finished=selection is not None,
        statistics=stats,
        problem=None if selection is not None else problem,
        unsuccessful=[r for _, r in sorted(results.items()) if r.status != "ok"],
    )
