"""The Python API: robust selection over your own training function.

A :class:`Study` is a YAML spec written in Python: a search space, how many instances,
the metric and its direction, the robustness criterion and the strategy (the same names
and parameters as the spec's keys, so the two are interchangeable). Run it with a trainer
(``train(config, instance) -> float | dict``, see :mod:`stalwart.trainers`)::

    import stalwart as sw

    study = sw.Study("digits", space={"lr": [1e-3, 1e-2], "hidden": [32, 128]},
                     instances=8, metric="val_accuracy", direction="maximize",
                     criterion="q1", strategy={"name": "halving", "warmup": 2})
    result = study.run(train, executor="local", workers=2)
    result.selection, result.decisions, result.results()   # a pandas DataFrame

or drive it yourself, one instance at a time, as with Optuna's ask-and-tell::

    with study.ask_tell() as session:
        while (trial := session.ask()) is not None:
            session.tell(trial, my_training(trial.config, trial.instance.seed))
    session.result.selection

Every result is committed to the study's store (``directory``, default
``studies/<name>``) before the strategy hears of it, so a study run again with the same
settings resumes where it stopped and trains nothing twice.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stalwart.core import Config, Decision, InstanceResult, Trial
from stalwart.execution.base import Executor
from stalwart.execution.job import TrainingJob
from stalwart.spec import StudySpec
from stalwart.store import Store
from stalwart.study import (
    Progress,
    StudyOutcome,
    default_study_dir,
    open_study,
    run,
    run_study,
    stored_spec,
)
from stalwart.summary import StudySummary, summarize
from stalwart.trainers import Instance, make_instance, result_of, trainer_name
from stalwart.validation import check_settings, parse_spec

ASK_TELL = "ask-tell"
"""The ``trainer`` a spec records for a study whose instances the user trains and tells."""


def _space(space: Any) -> Any:
    """A search space as the spec's ``search_space``: a mapping of lists is a grid
    (``product``), a list of mappings is explicit configs, and a mapping with ``fixed``,
    ``product`` or ``configs`` keys (or a list of those) is passed as is."""
    blocks = ("fixed", "product", "configs")
    if isinstance(space, Mapping):
        if space and set(space) <= set(blocks):
            return dict(space)
        return {"product": {k: list(v) if isinstance(v, list | tuple) else [v]
                            for k, v in space.items()}}
    if isinstance(space, Sequence) and not isinstance(space, str):
        if all(isinstance(b, Mapping) and b and set(b) <= set(blocks) for b in space):
            return [dict(b) for b in space]
        return {"configs": [dict(c) for c in space]}
    return space  # let the spec's validation name the problem


class Study:
    """A study of your own trainer, defined in Python (see the module docstring).

    Parameters
    ----------
    name:
        The study's name; its store defaults to ``studies/<name>``.
    space:
        The hyperparameters to select among: ``{"lr": [1e-3, 1e-2], "depth": [2, 4]}`` (a
        grid), a list of config mappings, or the spec's ``search_space`` blocks.
    instances:
        Instances per config (an int), or the spec's ``instances`` mapping: ``n``,
        ``train_size`` and ``pool_size`` (each instance then gets ``train_size`` subsample
        indices out of ``pool_size`` rows, :attr:`stalwart.trainers.Instance.subsample`),
        ``variation``.
    metric, direction:
        What the trainer returns that selection ranks, and whether higher is better
        (``maximize``) or lower (``minimize``).
    criterion, strategy:
        A name (``"q3"``, ``"halving"``) or the spec's mapping with parameters
        (``{"name": "racing", "test": "welch", "alpha": 0.05}``).
    seed:
        Every instance's seed derives from (seed, config, instance index).
    budget:
        The spec's ``budget``: ``{"max_trainings": 500, "max_hours": 2}``.
    directory:
        Where the study's store lives (default ``studies/<name>``).
    training:
        The spec's ``training`` mapping (``threads``, ``max_retries``, ``resources``).

    Raises
    ------
    SpecError
        For a problem of these settings, on one line naming the spec key.
    """

    def __init__(self, name: str = "study", *, space: Any, instances: int | Mapping[str, Any] = 10,
                 metric: str, direction: str = "minimize", criterion: str | Mapping[str, Any] = "mean",
                 strategy: str | Mapping[str, Any] = "halving", seed: int = 0,
                 budget: Mapping[str, Any] | None = None, directory: str | Path | None = None,
                 training: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = {
            "name": name,
            "seed": seed,
            "search_space": _space(space),
            "instances": {"n": instances} if isinstance(instances, int) else dict(instances),
            "metric": {"name": metric, "direction": direction},
            "criterion": criterion if isinstance(criterion, str) else dict(criterion),
            "strategy": strategy if isinstance(strategy, str) else dict(strategy),
            "budget": dict(budget or {}),
            "training": dict(training or {}),
        }
        self.spec(ASK_TELL)  # refuse bad settings now, not when the study runs
        self.directory = Path(directory) if directory is not None else \
            default_study_dir(self.spec(ASK_TELL))

    def spec(self, trainer: Callable[..., Any] | str) -> StudySpec:
        """The study's spec with ``trainer`` (a function, or its ``module:function`` name)."""
        name = trainer if isinstance(trainer, str) else trainer_name(trainer)
        spec = parse_spec({**self._data, "trainer": name}, source="Study")
        check_settings(spec)
        return spec

    def run(self, trainer: Callable[..., Any], *, executor: str | Executor = "local",
            workers: int | None = None, address: str | None = None,
            progress: Progress | None = None) -> StudyResult:
        """Run (or resume) the study with ``trainer`` to its selection.

        ``executor`` is ``"local"`` (worker processes: ``trainer`` must be a module-level
        function of a file), ``"serial"`` (in this process: anything callable) or ``"ray"``
        (``address`` of the cluster; the function is shipped by value).

        Raises
        ------
        UserError
            Bad settings or a trainer the executor cannot run, on one line, before
            anything is trained.
        StudyInterrupted
            On Ctrl-C; what finished is committed and a second call resumes.
        """
        done = run(self.spec(trainer), self.directory, executor=executor, workers=workers,
                   address=address, progress=progress, trainer=trainer)
        return StudyResult(done.summary, self.directory, done.outcome)

    @contextmanager
    def ask_tell(self) -> Iterator[AskTellSession]:
        """A session in which you train each asked instance yourself and tell its value.

        The study's store is locked for the session (another driver is refused) and every
        told result is committed before the strategy hears of it; leaving the ``with``
        block early keeps what was told, and a later session resumes from it.
        """
        session = AskTellSession(self.spec(ASK_TELL), self.directory)
        try:
            yield session
        finally:
            session.close()

    def result(self) -> StudyResult:
        """What the study's store holds now (a finished, interrupted or running study)."""
        return StudyResult.load(self.directory)


@dataclass
class StudyResult:
    """A study's selection, decisions and per-instance results.

    Attributes
    ----------
    summary:
        What ``stalwart show`` prints (configs, criterion values, statistics).
    directory:
        The study's store.
    outcome:
        The last run's outcome (None when loaded from a store).
    """

    summary: StudySummary
    directory: Path
    outcome: StudyOutcome | None = None

    @classmethod
    def load(cls, directory: str | Path) -> StudyResult:
        with Store(directory) as store:
            return cls(summarize(store, stored_spec(store)), Path(directory))

    @property
    def valid(self) -> bool:
        """The study selected a config with at least one successful instance."""
        return self.summary.selection is not None and self.summary.problem is None

    @property
    def problem(self) -> str | None:
        """Why there is no valid selection (one line), or None."""
        return self.summary.problem

    @property
    def selection(self) -> dict[str, Any] | None:
        """The selected config's hyperparameters (None before a valid selection)."""
        s = self.summary.selection
        return s.config.to_dict() if s is not None and self.problem is None else None

    @property
    def selection_id(self) -> str | None:
        s = self.summary.selection
        return s.config.id if s is not None and self.problem is None else None

    @property
    def decisions(self) -> list[Decision]:
        """Why each config was removed, and the selection, in order."""
        return list(self.summary.decisions)

    def results(self) -> Any:
        """Every stored instance as a pandas DataFrame, one row per instance: ``config_id``,
        ``instance``, ``seed``, ``status``, the hyperparameters, every metric the trainer
        returned, ``wall_time`` and ``error``."""
        import pandas as pd

        with Store(self.directory) as store:
            configs = {c.id: c for c in store.configs()}
            rows = []
            for (cid, index), r in sorted(store.results().items()):
                rows.append({"config_id": cid, "instance": index, "seed": r.seed,
                             "status": r.status, **configs[cid].to_dict(), **r.metrics,
                             "wall_time": r.wall_time, "error": r.error})
        return pd.DataFrame(rows)


# ---- ask and tell ----------------------------------------------------------------------
@dataclass(frozen=True)
class AskedTrial:
    """One instance to train: its ``config`` (plain hyperparameters) and its
    :class:`~stalwart.trainers.Instance` (index, seed, subsample indices)."""

    config: dict[str, Any]
    instance: Instance
    trial: Trial
    asked_at: float


class _Closed(Exception):
    """The user closed the session: the study loop stops where it is."""


class _UserExecutor(Executor):
    """An executor whose worker is the user: submitted trials wait in a queue for
    :meth:`AskTellSession.ask`, results come back through :meth:`AskTellSession.tell`.

    The handshake is by counts: ``sent`` results told so far, and ``idle_after``, how many
    of them the study loop had taken in when it last handed out all it could and began to
    wait. Once ``idle_after >= sent``, every instance the strategy wants for what it was
    told is in ``asked``.
    """

    slots = 1_000_000  # the user decides how many run at once

    def __init__(self) -> None:
        self.asked: queue.Queue[tuple[Trial, Config]] = queue.Queue()
        self._told: queue.Queue[tuple[Trial, InstanceResult] | None] = queue.Queue()
        self.cond = threading.Condition()
        self.sent = 0
        self.consumed = 0
        self.idle_after = -1
        self._running = 0

    def start(self, job: TrainingJob) -> None:
        pass

    def submit(self, trial: Trial, config: Config) -> None:
        self._running += 1
        self.asked.put((trial, config))

    def tell(self, item: tuple[Trial, InstanceResult] | None) -> int:
        with self.cond:
            self.sent += 1
            self._told.put(item)
            return self.sent

    def wait(self, timeout: float | None = None) -> list[tuple[Trial, InstanceResult]]:
        with self.cond:
            self.idle_after = self.consumed
            self.cond.notify_all()
        try:
            items = [self._told.get(timeout=timeout)]
        except queue.Empty:
            return []
        while not self._told.empty():
            items.append(self._told.get_nowait())
        with self.cond:
            self.consumed += len(items)
        if any(i is None for i in items):
            raise _Closed
        self._running -= len(items)
        return [i for i in items if i is not None]

    @property
    def n_running(self) -> int:
        return self._running

    def shutdown(self) -> None:
        pass


def _told_by_the_user(config: dict[str, Any], instance: Instance) -> None:  # pragma: no cover
    raise RuntimeError("an ask-tell study trains nothing itself")


class AskTellSession:
    """Train each asked instance yourself and tell its value (see :meth:`Study.ask_tell`).

    The study's own loop (:func:`stalwart.study.run_study`: resume, commit before tell,
    decisions) runs on a background thread with you as its executor.
    """

    def __init__(self, spec: StudySpec, directory: Path) -> None:
        self.spec = spec
        self.directory = directory
        self._executor = _UserExecutor()
        self._outcome: StudyOutcome | None = None
        self._error: BaseException | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name=f"stalwart-ask-tell-{spec.name}")
        self._thread.start()
        self._ready.wait()
        self._raise_error()

    def _loop(self) -> None:
        try:
            store = open_study(self.spec, self.directory)  # this thread's SQLite connection
            try:
                store.acquire_driver()
                self._ready.set()
                self._outcome = run_study(self.spec, store, self._executor,
                                          trainer=_told_by_the_user)
            finally:
                store.close()
        except _Closed:
            pass
        except BaseException as exc:  # re-raised in the user's thread
            self._error = exc
        finally:
            self._ready.set()
            with self._executor.cond:
                self._executor.cond.notify_all()  # wake an ask() or tell() waiting on us

    def _raise_error(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def _settled(self, n: int) -> bool:
        """The loop has taken in the first ``n`` told results and handed out what followed."""
        return self._executor.idle_after >= n or not self._thread.is_alive()

    @property
    def done(self) -> bool:
        """The study has selected (or stopped); :meth:`ask` returns None from now on."""
        return not self._thread.is_alive()

    def ask(self) -> AskedTrial | None:
        """The next instance to train, or None: the study is done, or it needs the values
        of the instances you were asked before (tell them, then ask again)."""
        ex = self._executor
        # A short timeout: the loop's thread notifies as it ends, maybe just before
        # is_alive() turns False.
        with ex.cond:
            while not ex.cond.wait_for(lambda: not ex.asked.empty() or self._settled(ex.sent),
                                       timeout=0.1):
                pass
        try:
            trial, config = ex.asked.get_nowait()
        except queue.Empty:
            self._raise_error()
            return None
        inst = make_instance(config, trial.instance, self.spec.seed,
                             variation=self.spec.instances.variation,
                             pool_size=self.spec.instances.pool_size,
                             train_size=self.spec.instances.train_size,
                             directory=self.directory / "artifacts")
        return AskedTrial(config.to_dict(), inst, trial, time.perf_counter())

    def tell(self, asked: AskedTrial, value: Any = None, *, error: str | None = None,
             train_loss: float | None = None) -> None:
        """Report an asked instance: its value (a number, or a mapping of metrics with the
        study's metric), NaN/inf for a diverged training, or ``error=`` text for a failed
        one. ``train_loss`` is the training loss of the weights you evaluated (a criterion
        with ``near_optimal`` keeps the instances whose training loss is near the
        config's best; None: unknown, the instance is kept). Committed to the store before
        the strategy hears of it."""
        result = result_of(Config(asked.config), asked.instance, value, self.spec.metric.name,
                           time.perf_counter() - asked.asked_at, error=error)
        if train_loss is not None and error is None:
            result.train_loss = float(train_loss)
        ex = self._executor
        n = ex.tell((asked.trial, result))
        with ex.cond:  # until the strategy has decided on it: ask() then sees what follows
            while not ex.cond.wait_for(lambda: self._settled(n), timeout=0.1):
                pass
        self._raise_error()

    @property
    def result(self) -> StudyResult:
        """The study's selection and results as the store holds them now."""
        return dataclasses.replace(StudyResult.load(self.directory), outcome=self._outcome)

    def close(self) -> None:
        """Stop the loop (what was told stays committed) and release the study."""
        if self._thread.is_alive():
            self._executor.tell(None)
            self._thread.join(timeout=30)
        self._raise_error()
