"""Worker processes on this machine.

Each worker is a spawned process (spawn, not fork: forking a process that has started
torch's thread pools can deadlock) that ignores SIGINT, so Ctrl-C reaches only the
driver, which then stops the workers cleanly. On Linux a worker also asks the kernel to
kill it when the driver dies, so ``kill -9`` of the driver leaves no orphans training on.
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import multiprocessing as mp
import os
import signal
from concurrent.futures.process import BrokenProcessPool

from stalwart.core import Config, InstanceResult, Trial
from stalwart.execution.base import Executor
from stalwart.execution.job import TrainingJob, failed_result, run_trial

_PR_SET_PDEATHSIG = 1


def _init_worker(threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(os, "sched_getaffinity"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import torch

    torch.set_num_threads(threads)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def threads_per_worker(workers: int) -> int:
    """Split the cores between workers; every worker gets at least one thread."""
    return max(1, default_workers() // max(1, workers))


class LocalExecutor(Executor):
    """A pool of ``workers`` processes (default: one per core)."""

    def __init__(self, workers: int | None = None, *, max_retries: int = 1) -> None:
        self.slots = workers or default_workers()
        self.max_retries = max_retries
        self._job: TrainingJob | None = None
        self._pool: cf.ProcessPoolExecutor | None = None
        self._futures: dict[cf.Future[InstanceResult], tuple[Trial, Config]] = {}
        self._attempts: dict[Trial, int] = {}

    def start(self, job: TrainingJob) -> None:
        threads = job.threads or threads_per_worker(self.slots)
        self._job = TrainingJob(**{**job.__dict__, "threads": threads})
        self._new_pool()

    def _new_pool(self) -> None:
        assert self._job is not None
        self._pool = cf.ProcessPoolExecutor(
            max_workers=self.slots,
            mp_context=mp.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self._job.threads or 1,),
        )

    def submit(self, trial: Trial, config: Config) -> None:
        assert self._pool is not None and self._job is not None, "start() first"
        self._attempts[trial] = self._attempts.get(trial, 0) + 1
        fut = self._pool.submit(run_trial, self._job, config.to_dict(), trial.instance)
        self._futures[fut] = (trial, config)

    def wait(self, timeout: float | None = None) -> list[tuple[Trial, InstanceResult]]:
        if not self._futures:
            return []
        done, _ = cf.wait(list(self._futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        out: list[tuple[Trial, InstanceResult]] = []
        broken: list[tuple[Trial, Config]] = []
        for fut in done:
            trial, config = self._futures.pop(fut)
            try:
                out.append((trial, fut.result()))
            except BrokenProcessPool:
                broken.append((trial, config))
            except Exception as exc:  # pickling problems and the like: the trial failed
                out.append((trial, failed_result(config, trial.instance, self._study_seed,
                                                 f"{type(exc).__name__}: {exc}")))
        if broken:
            out.extend(self._recover(broken))
        return out

    @property
    def _study_seed(self) -> int:
        return self._job.study_seed if self._job else 0

    def _recover(self, lost: list[tuple[Trial, Config]]) -> list[tuple[Trial, InstanceResult]]:
        """A worker died (OOM killer, segfault): the pool is unusable. Start a new one and
        resubmit what it took with it, up to ``max_retries`` times per trial."""
        # Every future of a broken pool fails; collect the others too.
        lost = lost + list(self._futures.values())
        self._futures.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._new_pool()
        failed: list[tuple[Trial, InstanceResult]] = []
        for trial, config in lost:
            if self._attempts.get(trial, 0) > self.max_retries:
                failed.append((trial, failed_result(
                    config, trial.instance, self._study_seed,
                    f"WorkerLost: worker process died {self._attempts[trial]} times")))
            else:
                self.submit(trial, config)
        return failed

    @property
    def n_running(self) -> int:
        return len(self._futures)

    def shutdown(self) -> None:
        if self._pool is None:
            return
        procs = list(getattr(self._pool, "_processes", {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        # Abandon trials in flight: their workers are terminated, nothing is reported.
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)
        self._futures.clear()
        self._pool = None
