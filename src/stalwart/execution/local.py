"""Worker processes on this machine.

Each worker is a spawned process (spawn, not fork: forking a process that has started
torch's thread pools can deadlock) that ignores SIGINT, so Ctrl-C reaches only the
driver, which then stops the workers cleanly. On Linux a worker also asks the kernel to
kill it when the driver dies, so ``kill -9`` of the driver leaves no orphans training on.

When one worker dies (the OOM killer, a segfault, ``kill -9``), Python's process pool
breaks: every queued future fails and the other workers are terminated. Only the trial
that was *on the dead worker* is charged an attempt; the trials that were queued or
running on the healthy workers are resubmitted for free, so two deaths seconds apart
never fail a training that was not there. The charged trial is resubmitted first (it has
waited longest), the others in their first submission order. To know which trial a worker runs, each worker
writes the trial's key to ``<track_dir>/<pid>`` (an atomic rename) before training it.
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import multiprocessing as mp
import os
import shutil
import signal
import tempfile
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from stalwart.core import Config, InstanceResult, Trial
from stalwart.execution.base import Executor
from stalwart.execution.job import TrainingJob, failed_result, run_trial

_PR_SET_PDEATHSIG = 1
_TRACK_DIR: Path | None = None  # set in each worker by _init_worker


def _trial_key(trial: Trial) -> str:
    return f"{trial.config_id}:{trial.instance}"


def _init_worker(threads: int, track_dir: str | None = None) -> None:
    global _TRACK_DIR
    _TRACK_DIR = Path(track_dir) if track_dir else None
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(os, "sched_getaffinity"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import torch

    torch.set_num_threads(threads)


def _run_tracked(key: str, job: TrainingJob, config: dict[str, Any], instance: int) -> InstanceResult:
    """Note which trial this worker runs (for the driver, should this worker die), then run it."""
    if _TRACK_DIR is not None:
        tmp = _TRACK_DIR / f"{os.getpid()}.tmp"
        tmp.write_text(key)
        os.replace(tmp, _TRACK_DIR / str(os.getpid()))
    return run_trial(job, config, instance)


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
        #: worker deaths charged to each trial (the trial was on the worker that died)
        self._deaths: dict[Trial, int] = {}
        #: submission order of every trial, to resubmit lost ones in it
        self._order: dict[Trial, int] = {}
        self._track_dir: str | None = None

    def start(self, job: TrainingJob) -> None:
        threads = job.threads or threads_per_worker(self.slots)
        self._job = TrainingJob(**{**job.__dict__, "threads": threads})
        self._new_pool()

    def _new_pool(self) -> None:
        assert self._job is not None
        if self._track_dir is None:
            self._track_dir = tempfile.mkdtemp(prefix="stalwart-workers-")
        self._pool = cf.ProcessPoolExecutor(
            max_workers=self.slots,
            mp_context=mp.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self._job.threads or 1, self._track_dir),
        )

    def submit(self, trial: Trial, config: Config) -> None:
        assert self._pool is not None and self._job is not None, "start() first"
        fut = self._pool.submit(_run_tracked, _trial_key(trial), self._job, config.to_dict(),
                                trial.instance)
        self._futures[fut] = (trial, config)
        self._order.setdefault(trial, len(self._order))

    def wait(self, timeout: float | None = None) -> list[tuple[Trial, InstanceResult]]:
        if not self._futures:
            return []
        done, _ = cf.wait(list(self._futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        out: list[tuple[Trial, InstanceResult]] = []
        broken: list[tuple[Trial, Config]] = []
        for fut in [f for f in self._futures if f in done]:  # in submission order
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
        """A worker died: the pool is unusable. Start a new one and resubmit what it took
        with it; only the trial on the dead worker is charged, up to ``max_retries``."""
        # Every future of a broken pool fails; collect the others too.
        lost = lost + list(self._futures.values())
        self._futures.clear()
        culprits = self._dead_workers_trials()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._new_pool()
        lost.sort(key=lambda tc: (_trial_key(tc[0]) not in culprits, self._order[tc[0]]))
        failed: list[tuple[Trial, InstanceResult]] = []
        for trial, config in lost:
            if _trial_key(trial) in culprits:
                self._deaths[trial] = self._deaths.get(trial, 0) + 1
            if self._deaths.get(trial, 0) > self.max_retries:
                failed.append((trial, failed_result(
                    config, trial.instance, self._study_seed,
                    f"WorkerLost: worker process died {self._deaths[trial]} times "
                    f"while training this instance ({culprits[_trial_key(trial)]})")))
            else:
                self.submit(trial, config)
        return failed

    def _dead_workers_trials(self) -> dict[str, str]:
        """Trial key -> how its worker ended, for the workers that died on their own.

        The pool terminates its healthy workers (SIGTERM) once one dies, so a worker that
        ended any other way is the one that died. If every worker ended by SIGTERM (someone
        sent it from outside), the culprit cannot be told apart: every trial that was
        running is charged, queued ones never are.
        """
        procs = dict(getattr(self._pool, "_processes", None) or {})
        for p in procs.values():
            p.join(timeout=10)
        ended = {pid: p.exitcode for pid, p in procs.items() if p.exitcode is not None}
        dead = {pid: code for pid, code in ended.items() if code != -signal.SIGTERM}
        if not dead:
            dead = ended
        out: dict[str, str] = {}
        for pid, code in dead.items():
            marker = Path(self._track_dir or "") / str(pid)
            try:
                key = marker.read_text()
            except OSError:
                continue  # the worker was idle
            out[key] = _describe_exit(code)
        for pid in procs:  # the next pool's workers have new pids
            (Path(self._track_dir or "") / str(pid)).unlink(missing_ok=True)
        return out

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
        if self._track_dir is not None:
            shutil.rmtree(self._track_dir, ignore_errors=True)
            self._track_dir = None


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
