"""The study: ask the strategy, run instances, commit results, tell the strategy.

The store is the study's memory. :func:`run_study` first replays every stored result
into a fresh strategy (strategies are deterministic given their results), so a study
resumed after any crash reaches the same state as an uninterrupted one, then trains only
what is missing. Every result is committed before the strategy hears of it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from stalwart.core import Config, Decision, InstanceResult, Trial
from stalwart.errors import SpecError, UserError
from stalwart.execution.base import Executor
from stalwart.execution.job import TrainingJob
from stalwart.selection import get_criterion, make_strategy
from stalwart.selection.base import Strategy
from stalwart.space import expand
from stalwart.spec import StudySpec, parse_spec
from stalwart.store import Store


@dataclass
class Progress:
    """Callbacks a front end (the CLI's progress bar) may implement; all optional."""

    on_start: Callable[[int, int, int], None] | None = None  # configs, exhaustive, already done
    on_result: Callable[[InstanceResult, Strategy], None] | None = None
    on_decisions: Callable[[list[Decision]], None] | None = None


@dataclass
class StudyOutcome:
    selection: Config | None
    n_trainings: int
    n_exhaustive: int
    training_time: float
    decisions: list[Decision] = field(default_factory=list)
    stopped_early: bool = False


def build_strategy(spec: StudySpec, configs: list[Config]) -> Strategy:
    criterion = get_criterion(spec.criterion.name, **spec.criterion.params)
    return make_strategy(
        spec.strategy.name,
        [c.id for c in configs],
        n_instances=spec.instances.n,
        criterion=criterion,
        direction=spec.metric.direction,
        budget=spec.budget.max_trainings,
        failures=spec.strategy.failures,
        **spec.strategy.params,
    )


def open_study(spec: StudySpec, directory: str | Path) -> Store:
    """Create the study in ``directory``, or reopen it if it was made from the same spec."""
    store = Store(directory, create=True)
    existing = store.get_meta("identity")
    if existing is None:
        store.initialise(spec.to_yaml(), spec.identity(), expand(spec))
    elif existing != spec.identity():
        store.close()
        raise UserError(
            f"{directory}: this study was created from a different spec; "
            "resume it with its own spec (stalwart status shows it) or choose another --study-dir"
        )
    return store


def stored_spec(store: Store) -> StudySpec:
    text = store.get_meta("spec_yaml")
    if text is None:
        raise UserError(f"{store.directory}: the store holds no spec")
    return parse_spec(yaml.safe_load(text), source=str(store.directory))


def check_metric(spec: StudySpec) -> None:
    """The metric must be one the trainer or an evaluator reports for this dataset."""
    from stalwart.data import load_dataset

    ds = load_dataset(spec.dataset.name, task=spec.dataset.task, root=spec.dataset.root,
                      seed=spec.dataset.seed, **spec.dataset.options)
    known = {"val_loss", "test_loss", f"val_{ds.metric}", f"test_{ds.metric}"}
    known |= {e.name for e in spec.metric.evaluators}
    if spec.metric.name not in known:
        raise SpecError(f"metric.name: {spec.metric.name!r} is not reported for dataset "
                        f"{ds.name!r} (choose from {', '.join(sorted(known))})")


def run_study(
    spec: StudySpec,
    store: Store,
    executor: Executor,
    *,
    progress: Progress | None = None,
    weights_dir: str | None = None,
) -> StudyOutcome:
    """Run (or resume) a study to its selection. The caller holds the driver lock."""
    progress = progress or Progress()
    configs = store.configs()
    by_id = {c.id: c for c in configs}
    strategy = build_strategy(spec, configs)
    stored = store.results()
    n_decisions = 0
    deadline = math.inf
    if spec.budget.max_hours is not None:
        used = float(store.get_meta("elapsed_s") or 0.0)
        deadline = time.monotonic() + spec.budget.max_hours * 3600 - used
    session_start = time.monotonic()
    elapsed_before = float(store.get_meta("elapsed_s") or 0.0)

    if progress.on_start:
        progress.on_start(len(configs), len(configs) * spec.instances.n, len(stored))

    def flush_decisions() -> None:
        nonlocal n_decisions
        new = strategy.decisions[n_decisions:]
        if new:
            store.record_decisions(new)
            n_decisions = len(strategy.decisions)
            if progress.on_decisions:
                progress.on_decisions(list(new))

    inflight: set[Trial] = set()
    stopped_early = False
    executor.start(TrainingJob.from_spec(spec, weights_dir=weights_dir))
    try:
        while not strategy.done:
            trials = [] if stopped_early else strategy.ask()
            for t in trials:
                if (t.config_id, t.instance) in stored:
                    strategy.tell(t, stored[(t.config_id, t.instance)].value(spec.metric.name))
                else:
                    executor.submit(t, by_id[t.config_id])
                    inflight.add(t)
            flush_decisions()
            if trials:
                continue  # the strategy may have more to hand out right away
            if not inflight:
                if not strategy.done:
                    strategy.finish()
                    flush_decisions()
                break
            for trial, result in executor.wait(timeout=1.0):
                if trial not in inflight:
                    continue  # a duplicate of a retried trial: its twin was already told
                if not store.record(result):  # committed before anyone hears of it
                    store.log_event("duplicate_result", [trial.config_id, trial.instance])
                stored[(trial.config_id, trial.instance)] = result
                inflight.discard(trial)
                strategy.tell(trial, result.value(spec.metric.name))
                if progress.on_result:
                    progress.on_result(result, strategy)
            store.set_meta(elapsed_s=repr(elapsed_before + time.monotonic() - session_start))
            if time.monotonic() > deadline and not stopped_early:
                stopped_early = True  # let what runs finish, hand out nothing new
            flush_decisions()
    finally:
        executor.shutdown()
        store.set_meta(elapsed_s=repr(elapsed_before + time.monotonic() - session_start))

    flush_decisions()
    selection = by_id.get(strategy.selection) if strategy.selection else None
    if selection is not None:
        store.set_meta(selection=selection.id, finished_at=repr(time.time()))
    results = store.results()
    return StudyOutcome(
        selection=selection,
        n_trainings=len(results),
        n_exhaustive=len(configs) * spec.instances.n,
        training_time=sum(r.wall_time for r in results.values()),
        decisions=store.decisions(),
        stopped_early=stopped_early,
    )
