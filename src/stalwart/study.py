"""The study: ask the strategy, run instances, commit results, tell the strategy.

The store is the study's memory. :func:`run_study` first replays every stored result
into a fresh strategy (strategies are deterministic given their results), so a study
resumed after any crash reaches the same state as an uninterrupted one, then trains only
what is missing. Every result is committed before the strategy hears of it.

:func:`run` is a whole session, what ``stalwart run`` does and what a Python user calls::

    from stalwart.study import run

    done = run("examples/calorimeter.yaml", executor="serial")
    if done.valid:
        print(done.outcome.selection, done.summary.n_trainings)
    else:
        print(done.problem)  # e.g. every instance of the selected config failed

It validates the spec (every check before training: :func:`stalwart.validation.check_runnable`),
opens (or resumes) the study's store, takes the driver lock, builds the executor, runs
:func:`run_study` and summarizes what the store holds. :func:`plan` makes the same checks
and reports what :func:`run` would do, creating nothing (``stalwart run --dry-run``).

A study *ends without a valid result* when the selected config has no successful instance
or nothing was selected: :attr:`StudyRun.valid` is False, :attr:`StudyRun.problem` says
why, and ``stalwart run`` exits 1. Such a study is not marked finished: a rerun retrains
its ``failed`` instances (not the ``diverged`` ones, which are results) and either finds a
valid result or reports the problem again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stalwart.core import Config, Decision, InstanceResult, Trial
from stalwart.errors import SpecError, UserError
from stalwart.execution import Executor, make_executor
from stalwart.execution.job import TrainingJob
from stalwart.execution.registry import check_executor
from stalwart.selection import StrategySetup, get_criterion, make_strategy
from stalwart.selection.base import Strategy
from stalwart.space import expand
from stalwart.spec import StudySpec, parse_structure
from stalwart.store import DB_NAME, Store
from stalwart.summary import NO_RESULT_META, StudySummary, no_result_reason, summarize
from stalwart.trainers import check_for_processes, trainer_name
from stalwart.validation import check_settings, load_runnable_spec, parse_spec, spec_trainer


@dataclass
class Progress:
    """Callbacks a front end (the CLI's progress bar) may implement; all optional."""

    # configs, trainings of an exhaustive search, trainings already done, trainings the
    # strategy plans for the whole study (None: it depends on the results)
    on_start: Callable[[int, int, int, int | None], None] | None = None
    on_result: Callable[[InstanceResult, Strategy], None] | None = None
    # new decisions, and the trainings the strategy had been told of when it took them
    # (stored ones replayed on resume included: the count is the whole study's)
    on_decisions: Callable[[list[Decision], int], None] | None = None


@dataclass
class StudyOutcome:
    """Where :func:`run_study` left a study: its selection (None without a valid result),
    the trainings it holds and those an exhaustive search needs, their summed wall time, every
    decision, whether the ``max_hours`` budget stopped it early, and why it has no valid
    result (``problem``; None when it has one)."""

    selection: Config | None
    n_trainings: int
    n_exhaustive: int
    training_time: float
    decisions: list[Decision] = field(default_factory=list)
    stopped_early: bool = False
    problem: str | None = None

    @property
    def valid(self) -> bool:
        """True when a config was selected and has at least one successful instance."""
        return self.selection is not None and self.problem is None


def build_strategy(spec: StudySpec, configs: list[Config]) -> Strategy:
    criterion = get_criterion(spec.criterion.name, **spec.criterion.params)
    return make_strategy(
        spec.strategy.name,
        StrategySetup(
            tuple(c.id for c in configs),
            n_instances=spec.instances.n,
            criterion=criterion,
            direction=spec.metric.direction,
            budget=spec.budget.max_trainings,
            failures=spec.strategy.failures,
            params=tuple(c.to_dict() for c in configs),
        ),
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
        raise _other_spec(directory)
    return store


def _other_spec(directory: str | Path) -> UserError:
    return UserError(
        f"{directory}: this study was created from a different spec; "
        "resume it with its own spec (stalwart status shows it) or choose another --study-dir"
    )


def stored_spec(store: Store, *, check_names: bool = True) -> StudySpec:
    """The study's spec from its store.

    ``check_names=False`` checks its structure only (:func:`stalwart.spec.parse_structure`):
    the names were checked against every registry when the study was made, and checking
    them again loads the model registry, and torch with it (the report reads it so).
    """
    text = store.get_meta("spec_yaml")
    if text is None:
        raise UserError(f"{store.directory}: the store holds no spec")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise UserError(f"{store.path}: the stored spec is not valid YAML; the store is damaged") from None
    parse = parse_spec if check_names else parse_structure
    return parse(data, source=str(store.directory))


def run_study(
    spec: StudySpec,
    store: Store,
    executor: Executor,
    *,
    progress: Progress | None = None,
    weights_dir: str | None = None,
    trainer: Callable[..., Any] | None = None,
    artifacts_dir: str | None = None,
) -> StudyOutcome:
    """Run (or resume) a study to its selection. The caller holds the driver lock.

    ``trainer`` is the function a spec's ``trainer`` names (None: the built-in trainer);
    its instances keep artifacts under ``artifacts_dir``.
    """
    progress = progress or Progress()
    configs = store.configs()
    by_id = {c.id: c for c in configs}
    strategy = build_strategy(spec, configs)
    stored = store.results()
    # A study that ended without a valid result retrains its failed instances (a dead
    # worker, missing data since fixed), so that a rerun can recover; diverged instances
    # are results and stay. Its decisions are taken again from the new results.
    if store.get_meta(NO_RESULT_META) is not None:
        failed = [r for r in stored.values() if r.status == "failed"]
        if failed:
            store.retry(failed)  # kept in the event log
            stored = store.results()
    n_decisions = 0
    n_told = 0  # results the strategy has heard of, stored and new: the whole study's count
    deadline = math.inf
    if spec.budget.max_hours is not None:
        used = float(store.get_meta("elapsed_s") or 0.0)
        deadline = time.monotonic() + spec.budget.max_hours * 3600 - used
    session_start = time.monotonic()
    elapsed_before = float(store.get_meta("elapsed_s") or 0.0)

    if progress.on_start:
        progress.on_start(len(configs), len(configs) * spec.instances.n, len(stored),
                          strategy.planned_trainings())

    def flush_decisions() -> None:
        nonlocal n_decisions
        new = strategy.decisions[n_decisions:]
        if new:
            store.record_decisions(new)
            n_decisions = len(strategy.decisions)
            if progress.on_decisions:
                progress.on_decisions(list(new), n_told)

    inflight: set[Trial] = set()
    stopped_early = False
    executor.start(TrainingJob.from_spec(spec, weights_dir=weights_dir, trainer=trainer,
                                         artifacts_dir=artifacts_dir))
    try:
        while not strategy.done:
            trials = [] if stopped_early else strategy.ask()
            for t in trials:
                if (t.config_id, t.instance) in stored:
                    # A resumed study tells what it told before, costs and training losses
                    # included, so that a cost-aware strategy or a near-optimal criterion
                    # reaches the same state.
                    done = stored[(t.config_id, t.instance)]
                    strategy.observe_cost(t, done.wall_time)
                    strategy.observe_train_loss(t, done.train_loss)
                    strategy.tell(t, done.value(spec.metric.name))
                    n_told += 1
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
                key = (trial.config_id, trial.instance)
                if not store.record(result):  # committed before anyone hears of it
                    store.log_event("duplicate_result", [trial.config_id, trial.instance])
                stored[key] = result
                inflight.discard(trial)
                strategy.observe_cost(trial, result.wall_time)
                strategy.observe_train_loss(trial, result.train_loss)
                strategy.tell(trial, result.value(spec.metric.name))
                n_told += 1
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
    results = store.results()
    problem = (no_result_reason(strategy.selection, results, spec.metric.name)
               if strategy.done else None)
    selection = by_id.get(strategy.selection) if strategy.selection and problem is None else None
    if selection is not None:
        store.set_meta(selection=selection.id, finished_at=repr(time.time()))
        store.delete_meta(NO_RESULT_META)
    elif problem is not None:
        # Not finished: a rerun retrains the failed instances (see above) and decides again.
        store.delete_meta("selection", "finished_at")
        store.set_meta(**{NO_RESULT_META: problem})
    return StudyOutcome(
        selection=selection,
        n_trainings=len(results),
        n_exhaustive=len(configs) * spec.instances.n,
        training_time=sum(r.wall_time for r in results.values()),
        decisions=store.decisions(),
        stopped_early=stopped_early,
        problem=problem,
    )


@dataclass
class StudyRun:
    """What :func:`run` returns.

    Attributes
    ----------
    outcome:
        The selection and the cost, as :func:`run_study` reports them.
    summary:
        What the store holds once the session ends (what ``stalwart show`` prints).
    study_dir:
        Where the study's store lives.
    wall_time:
        Seconds the session trained and summarized (spec checks and start-up excluded).
    """

    outcome: StudyOutcome
    summary: StudySummary
    study_dir: Path
    wall_time: float

    @property
    def valid(self) -> bool:
        """True when the study selected a config with at least one successful instance."""
        return self.outcome.valid

    @property
    def problem(self) -> str | None:
        """Why the study has no valid result (one line), or None when :attr:`valid`."""
        return self.outcome.problem


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped :func:`run`; the ``n_results`` finished trainings are safe in ``study_dir``.

    A :class:`KeyboardInterrupt`, so that code that stops on Ctrl-C still does; running the
    same session again resumes the study.
    """

    def __init__(self, study_dir: Path, n_results: int) -> None:
        super().__init__(f"{n_results} finished trainings are safe in {study_dir}")
        self.study_dir = study_dir
        self.n_results = n_results


def default_study_dir(spec: StudySpec) -> Path:
    """Where a study lives unless told otherwise: ``studies/<name>``."""
    return Path("studies") / spec.name


def run(
    spec: StudySpec | str | Path,
    study_dir: str | Path | None = None,
    *,
    executor: str | Executor = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: Progress | None = None,
    trainer: Callable[..., Any] | None = None,
) -> StudyRun:
    """Run a study, or resume it, to its selection: what ``stalwart run`` does.

    Parameters
    ----------
    spec:
        A spec file, checked with :func:`stalwart.validation.check_runnable`, or a spec,
        checked with :func:`stalwart.validation.check_settings` (its names are the caller's:
        :func:`stalwart.validation.parse_spec` checks a spec built in Python).
    study_dir:
        Where the study's store lives; None means :func:`default_study_dir`. A store made
        from the same spec is resumed.
    executor:
        A name of :data:`stalwart.execution.EXECUTORS` (``"local"``, ``"serial"``,
        ``"ray"``), or an executor to use as is (``workers`` and ``address`` then unused).
    workers:
        Parallel trainings; None takes the spec's ``workers``, else the executor's default.
    address:
        The Ray cluster to join (``"auto"``, ``"host:port"``); None starts a private one.
    progress:
        Callbacks told of the start, each result and each decision.
    trainer:
        The function that trains one instance (:mod:`stalwart.trainers`) when the spec
        names one; None imports what the spec's ``trainer`` names (from next to the spec
        file, then the Python path). A function given here must be the one the spec
        names (``package.module:function``), so that a resumed study trains the same.

    Returns
    -------
    StudyRun
        Check :attr:`StudyRun.valid`: when the study ended without a valid result (the
        selected config has no successful instance, or nothing was selected),
        ``outcome.selection`` is None and :attr:`StudyRun.problem` says why in one line.
        This is not an exception, because what finished is stored and worth reading.

    Raises
    ------
    UserError
        Bad input, each on one line, before anything is created: a spec problem or a setting
        that cannot work (:class:`~stalwart.errors.SpecError`, see
        :func:`stalwart.validation.check_runnable`), an executor setting that would be
        ignored (:func:`stalwart.execution.registry.check_executor`), a store made from
        another spec, a study another driver runs
        (:class:`~stalwart.errors.StudyLockedError`), a missing Ray.
    StudyInterrupted
        On Ctrl-C while the study trains; what has finished is committed.
    """
    spec, trainer = _checked(spec, executor, workers, address, trainer)
    directory = Path(study_dir or default_study_dir(spec))
    workers = workers if workers is not None else spec.workers
    store = open_study(spec, directory)
    try:
        store.acquire_driver()
        if isinstance(executor, str):
            executor = make_executor(executor, workers=workers,
                                     max_retries=spec.training.max_retries, address=address)
        started = time.monotonic()
        weights_dir = str(directory / "weights") if spec.training.save_weights else None
        try:
            outcome = run_study(spec, store, executor, progress=progress, weights_dir=weights_dir,
                                trainer=trainer, artifacts_dir=str(directory / "artifacts"))
        except KeyboardInterrupt:
            # Counted while the store is still open; the executor has stopped its workers.
            raise StudyInterrupted(directory, store.n_results()) from None
        summary = summarize(store, spec)
    finally:
        store.close()
    return StudyRun(outcome, summary, directory, time.monotonic() - started)


def _checked(spec: StudySpec | str | Path, executor: str | Executor, workers: int | None,
             address: str | None, trainer: Callable[..., Any] | None = None,
             ) -> tuple[StudySpec, Callable[..., Any] | None]:
    """Every check before training, cheapest first: flags, then the spec, then the
    trainer; returns the spec and the trainer function (None: the built-in trainer)."""
    if isinstance(executor, str):
        check_executor(executor, workers=workers, address=address)
    if isinstance(spec, StudySpec):
        check_settings(spec)  # its names are the caller's (parse_spec checks them)
        spec_dir = None
    else:
        spec_dir = Path(spec).parent
        spec = load_runnable_spec(spec)
    if trainer is None:
        trainer = spec_trainer(spec, spec_dir)
    elif spec.trainer is None:
        raise SpecError("trainer: a function was given but the spec names no trainer "
                        f"(set trainer: {trainer_name(trainer)})")
    elif spec.trainer != trainer_name(trainer):
        raise SpecError(f"trainer: the spec names {spec.trainer} but the function given is "
                        f"{trainer_name(trainer)}")
    if trainer is not None:
        check_for_processes(trainer, executor if isinstance(executor, str) else "local")
    return spec, trainer


@dataclass
class StudyPlan:
    """What :func:`run` would do, as :func:`plan` reports it.

    Attributes
    ----------
    spec:
        The validated spec.
    study_dir:
        Where the study's store would live.
    n_configs, n_exhaustive:
        Configs, and the trainings of an exhaustive search (``n_configs * instances.n``).
    planned:
        The trainings the strategy plans for the whole study
        (:meth:`~stalwart.selection.base.Strategy.planned_trainings`), None when that
        depends on the results (racing).
    n_stored:
        Trainings already in an existing store of the same spec (0 for a new study).
    resumes:
        Whether ``study_dir`` already holds this study.
    """

    spec: StudySpec
    study_dir: Path
    n_configs: int
    n_exhaustive: int
    planned: int | None
    n_stored: int
    resumes: bool


def plan(
    spec: StudySpec | str | Path,
    study_dir: str | Path | None = None,
    *,
    executor: str | Executor = "local",
    workers: int | None = None,
    address: str | None = None,
) -> StudyPlan:
    """Check a study as :func:`run` does and say what it would train; create nothing.

    Parameters are those of :func:`run`. An existing store in ``study_dir`` is read (to
    count what it holds and to check it was made from the same spec), never written.

    Raises
    ------
    UserError
        Whatever :func:`run` refuses before it trains.
    """
    spec, _ = _checked(spec, executor, workers, address)
    directory = Path(study_dir or default_study_dir(spec))
    if directory.exists() and not directory.is_dir():
        raise UserError(f"{directory}: not a directory; choose another --study-dir")
    configs = expand(spec)
    n_stored, resumes = 0, (directory / DB_NAME).exists()
    if resumes:
        with Store(directory) as store:
            if store.get_meta("identity") not in (None, spec.identity()):
                raise _other_spec(directory)
            n_stored = store.n_results()
    return StudyPlan(spec, directory, len(configs), len(configs) * spec.instances.n,
                     build_strategy(spec, configs).planned_trainings(), n_stored, resumes)
