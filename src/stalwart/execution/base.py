"""The executor contract: run instances somewhere, report finished results.

Executors know nothing of strategies or stores: the study hands them trials and collects
:class:`~stalwart.core.InstanceResult` objects. A trial whose worker dies is retried up to
``max_retries`` times, then reported as ``failed`` with the reason.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from stalwart.core import Config, InstanceResult, Trial
from stalwart.execution.job import TrainingJob, run_trial


class Executor(ABC):
    """Runs trials of one study. ``slots`` is how many it runs at once."""

    slots: int = 1

    @abstractmethod
    def start(self, job: TrainingJob) -> None:
        """Prepare workers for a study (load nothing heavy in the driver)."""

    @abstractmethod
    def submit(self, trial: Trial, config: Config) -> None:
        """Queue one trial."""

    @abstractmethod
    def wait(self, timeout: float | None = None) -> list[tuple[Trial, InstanceResult]]:
        """Block until at least one trial finishes (or ``timeout`` s pass); return finished ones."""

    @property
    @abstractmethod
    def n_running(self) -> int:
        """Trials submitted and not yet returned by ``wait``."""

    @abstractmethod
    def shutdown(self) -> None:
        """Stop workers; trials still running are abandoned (their results are not reported)."""


class SerialExecutor(Executor):
    """Trains in the driver's own process, one trial at a time (tests, debugging)."""

    slots = 1

    def __init__(self) -> None:
        self._job: TrainingJob | None = None
        self._queue: list[tuple[Trial, Config]] = []

    def start(self, job: TrainingJob) -> None:
        self._job = job

    def submit(self, trial: Trial, config: Config) -> None:
        self._queue.append((trial, config))

    def wait(self, timeout: float | None = None) -> list[tuple[Trial, InstanceResult]]:
        assert self._job is not None, "start() first"
        if not self._queue:
            return []
        trial, config = self._queue.pop(0)
        return [(trial, run_trial(self._job, config.to_dict(), trial.instance))]

    @property
    def n_running(self) -> int:
        return len(self._queue)

    def shutdown(self) -> None:
        self._queue.clear()
