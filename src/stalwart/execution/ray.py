"""Instances as Ray tasks: a study scaled out over a cluster.

Each instance is one Ray task that reserves ``cpus``/``gpus`` of a node and calls
:func:`~stalwart.execution.job.run_trial`. Ray decides where it runs, so a cluster of any
size is used without configuration beyond ``ray start`` on every machine.

How the dataset reaches the workers
-----------------------------------
Once per study, not once per task, and never through the driver's memory:

1. :meth:`RayExecutor.start` submits one *loader task* (:func:`_load_arrays`), placed on the
   driver's node when it can be. It builds the dataset from the job (loading is
   deterministic) and returns its tensors as numpy arrays, so the result lands in that
   node's shared-memory object store. The driver only holds the ObjectRef.
2. Every training task receives that ObjectRef as an argument. A node's raylet pulls the
   object into its own store the first time a task there needs it (one transfer per
   node); later tasks on the node read the same copy.
3. Numpy arrays come out of the object store zero-copy (read-only views of shared
   memory) and :func:`torch.from_numpy` wraps them without copying, so a worker process
   neither reloads nor copies the pool. Trainings must treat the tensors as read-only,
   which :func:`stalwart.data.load_dataset` already asks of them (it caches too). Torch
   tensors are not converted to numpy only for speed: Ray pickles them in-band, which
   would copy the pool into every task.

If the node that holds the dataset dies, Ray rebuilds it by rerunning the loader task
(lineage reconstruction), since the loader is retryable.

Faults
------
A task whose worker process or node dies is retried by Ray on any node with room, at most
``max_retries`` times; then :meth:`RayExecutor.wait` reports a ``failed`` result saying
why. Nothing of a study lives in Ray: the store holds every result, so a driver that dies
is resumed by running ``stalwart run`` again, on a new Ray session.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import warnings
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError

from stalwart.checks import first, integer
from stalwart.core import Config, InstanceResult, Trial
from stalwart.errors import UserError
from stalwart.execution.base import Executor
from stalwart.execution.job import TrainingJob, failed_result, run_trial

_TENSORS = "__tensor_fields__"


def dataset_to_arrays(dataset: Any) -> dict[str, Any]:
    """The fields of a :class:`~stalwart.data.Dataset`, tensors as numpy arrays.

    Numpy arrays are what Ray's object store shares zero-copy between processes.
    """
    import torch

    out: dict[str, Any] = {}
    tensor_fields = []
    for f in dataclasses.fields(dataset):
        value = getattr(dataset, f.name)
        if isinstance(value, torch.Tensor):
            out[f.name] = value.detach().cpu().numpy()
            tensor_fields.append(f.name)
        else:
            out[f.name] = value
    out[_TENSORS] = tuple(tensor_fields)
    return out


def dataset_from_arrays(arrays: dict[str, Any]) -> Any:
    """Inverse of :func:`dataset_to_arrays`; the tensors share the arrays' memory."""
    import torch

    from stalwart.data import Dataset

    fields = {k: v for k, v in arrays.items() if k != _TENSORS}
    with warnings.catch_warnings():
        # Arrays from the object store are read-only; so are a study's dataset tensors.
        warnings.filterwarnings("ignore", message=".*not writable.*")
        for name in arrays[_TENSORS]:
            fields[name] = torch.from_numpy(fields[name])
    return Dataset(**fields)


def _load_arrays(job: TrainingJob) -> dict[str, Any]:
    """The loader task: build the dataset once for the whole cluster."""
    return dataset_to_arrays(job.load_dataset())


def _train(job: TrainingJob, config_params: dict[str, Any], instance: int,
           arrays: dict[str, Any] | None) -> InstanceResult:
    """The training task. Ray resolves ``arrays`` from the node's object store; a user
    trainer brings its own data (``arrays`` None)."""
    dataset = None if arrays is None else dataset_from_arrays(arrays)
    return run_trial(job, config_params, instance, dataset=dataset)


def _ship_by_value(fn: Any) -> None:
    """Have Ray pickle a user trainer's own module by value, so that workers whose Python
    path lacks the user's directory (every node but this one, often) still run it.
    Installed packages (site-packages) are left to import by name."""
    import sys

    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    path = getattr(module, "__file__", None) or ""
    if module is None or module.__name__ == "__main__" or "site-packages" in path \
            or module.__name__.split(".")[0] == "stalwart":
        return  # __main__ already goes by value; packages import by name
    ray.cloudpickle.register_pickle_by_value(module)


_load_remote = ray.remote(_load_arrays)
_train_remote = ray.remote(_train)


class RayExecutor(Executor):
    """Runs each instance as a Ray task on a local Ray instance or a cluster.

    Parameters
    ----------
    address:
        ``None`` starts a private local Ray instance (stopped again by :meth:`shutdown`);
        ``"auto"`` joins the cluster running on this machine; ``"host:port"`` joins that
        cluster's head (its GCS address, as ``ray start --head`` prints it).
    max_retries:
        How many times an instance lost with its worker or node is rerun.
    num_cpus_per_task, num_gpus_per_task:
        Resources each instance reserves; None takes the spec's ``training.resources``
        (default one CPU, no GPU).
    num_cpus:
        CPUs of the local instance when ``address`` is None (default: all of them).

    Notes
    -----
    ``slots`` is known once :meth:`start` has connected: the cluster's CPUs (and GPUs, when
    instances need some) divided by what an instance needs, at least 1.
    """

    def __init__(self, address: str | None = None, max_retries: int = 1,
                 num_cpus_per_task: float | None = None, num_gpus_per_task: float | None = None,
                 *, num_cpus: int | None = None) -> None:
        first(integer("max_retries", max_retries, low=0))
        self.address = address
        self.max_retries = max_retries
        self.num_cpus_per_task = num_cpus_per_task
        self.num_gpus_per_task = num_gpus_per_task
        self.num_cpus = num_cpus
        self.slots = 1
        self._connected_here = False
        self._job: TrainingJob | None = None
        self._arrays: ray.ObjectRef | None = None
        self._refs: dict[ray.ObjectRef, tuple[Trial, Config]] = {}

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self, job: TrainingJob) -> None:
        self._connect()
        cpus = float(self.num_cpus_per_task if self.num_cpus_per_task is not None else job.cpus)
        gpus = float(self.num_gpus_per_task if self.num_gpus_per_task is not None else job.gpus)
        # Torch threads follow the CPUs reserved, as the local executor splits its cores.
        threads = job.threads or max(1, int(cpus))
        self._job = dataclasses.replace(job, threads=threads, cpus=cpus, gpus=gpus)
        self._check_feasible(cpus, gpus)
        self.slots = self._count_slots(cpus, gpus)
        if job.trainer is not None:
            _ship_by_value(job.trainer)
            self._arrays = None
            return
        self._arrays = _load_remote.options(
            num_cpus=min(1.0, cpus), max_retries=max(self.max_retries, 1),
            scheduling_strategy=_driver_node_strategy(),
        ).remote(self._job)

    def _connect(self) -> None:
        if ray.is_initialized():
            return  # the caller's own session: use it, and leave it to the caller
        # No usage reports from a study (clusters are often offline anyway).
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        common: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING,
                                  "configure_logging": True}
        if self.address is None:
            ray.init(num_cpus=self.num_cpus, include_dashboard=False, **common)
        else:
            _check_reachable(self.address)
            try:
                ray.init(address=self.address, **common)
            except (ConnectionError, RuntimeError, RayError) as exc:
                raise UserError(f"--address {self.address}: cannot join the Ray cluster "
                                f"({_first_line(exc)})") from None
        self._connected_here = True

    def _check_feasible(self, cpus: float, gpus: float) -> None:
        """Fail now rather than wait forever for a node that can run an instance."""
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        if not any(r.get("CPU", 0) >= cpus and r.get("GPU", 0) >= gpus for r in nodes):
            self.shutdown()
            raise UserError(f"no node of the Ray cluster offers what an instance needs "
                            f"({cpus:g} CPUs, {gpus:g} GPUs; training.resources in the spec)")

    def _count_slots(self, cpus: float, gpus: float) -> int:
        total = ray.cluster_resources()
        n = int(total.get("CPU", 0) // cpus)
        if gpus > 0:
            n = min(n, int(total.get("GPU", 0) // gpus))
        return max(1, n)

    def _task_options(self) -> dict[str, Any]:
        assert self._job is not None
        return {"num_cpus": self._job.cpus, "num_gpus": self._job.gpus,
                "max_retries": self.max_retries,
                # A trial never raises (run_trial reports its own errors as results); an
                # exception here is a setup problem that a rerun would only repeat.
                "retry_exceptions": False}

    # ---- trials ------------------------------------------------------------------------
    def submit(self, trial: Trial, config: Config) -> None:
        assert self._job is not None and (self._arrays is not None or not self._job.has_dataset), \
            "start() first"
        ref = _train_remote.options(**self._task_options()).remote(
            self._job, config.to_dict(), trial.instance, self._arrays)
        self._refs[ref] = (trial, config)

    def wait(self, timeout: float | None = None) -> list[tuple[Trial, InstanceResult]]:
        if not self._refs:
            return []
        ready, _ = ray.wait(list(self._refs), num_returns=1, timeout=timeout)
        if not ready:
            return []
        # Collect whatever else has finished too, without waiting any longer.
        more, _ = ray.wait([r for r in self._refs if r not in ready],
                           num_returns=len(self._refs) - len(ready), timeout=0)
        out: list[tuple[Trial, InstanceResult]] = []
        for ref in ready + more:
            trial, config = self._refs.pop(ref)
            out.append((trial, self._result(ref, trial, config)))
        return out

    def _result(self, ref: ray.ObjectRef, trial: Trial, config: Config) -> InstanceResult:
        seed = self._job.study_seed if self._job else 0
        try:
            return ray.get(ref)
        except RayTaskError as exc:  # raised in the task, outside run_trial's own guard
            cause = exc.cause if exc.cause is not None else exc
            return failed_result(config, trial.instance, seed,
                                 f"{type(cause).__name__}: {_first_line(cause)}")
        except RayError as exc:  # the worker or its node died on every attempt
            return failed_result(
                config, trial.instance, seed,
                f"WorkerLost: lost {self.max_retries + 1} times "
                f"({type(exc).__name__}: {_first_line(exc)})")

    @property
    def n_running(self) -> int:
        return len(self._refs)

    def shutdown(self) -> None:
        for ref in list(self._refs):
            try:
                # force: kill the worker, so an abandoned training stops using the cluster.
                ray.cancel(ref, force=True)
            except Exception:  # already finished, or its node is gone
                pass
        self._refs.clear()
        self._arrays = None  # lets Ray free the dataset's copies
        if self._connected_here and ray.is_initialized():
            # Disconnects the driver; it stops Ray only when we started a local instance.
            ray.shutdown()
            self._connected_here = False


def _driver_node_strategy() -> Any:
    """Prefer the driver's node for the loader task: the node a study cannot lose anyway."""
    try:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        node = ray.get_runtime_context().get_node_id()
        return NodeAffinitySchedulingStrategy(node_id=node, soft=True)
    except Exception:  # e.g. Ray Client, where the driver has no node: Ray picks one
        return "DEFAULT"


def _check_reachable(address: str) -> None:
    """Fail fast on a ``host:port`` nobody listens on: Ray would retry for minutes."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return  # "auto", "ray://...": Ray resolves these itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as exc:
        raise UserError(f"--address {address}: no Ray cluster answers there ({exc})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
