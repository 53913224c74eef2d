"""The executors by name, and :func:`make_executor` to build one.

The names are the choices of ``stalwart run --executor`` and of
:func:`stalwart.study.run`'s ``executor``. Each factory imports its executor when called,
so that ``import stalwart.execution`` stays light and a missing optional package (Ray) is
a one-line :class:`~stalwart.errors.UserError` only for the study that asks for it.
"""

from __future__ import annotations

import importlib.util
from typing import Protocol

from stalwart.checks import choice, first
from stalwart.errors import UserError
from stalwart.execution.base import Executor


class ExecutorFactory(Protocol):
    """Builds an executor for one study session.

    Parameters
    ----------
    workers:
        Parallel trainings; None leaves it to the executor (one per core, or the cluster's).
    max_retries:
        How many times an instance lost with its worker is rerun.
    address:
        The cluster to join; only executors that use a cluster read it.
    """

    def __call__(self, *, workers: int | None, max_retries: int, address: str | None) -> Executor: ...


def _local(*, workers: int | None, max_retries: int, address: str | None) -> Executor:
    from stalwart.execution.local import LocalExecutor

    del address  # one machine: nothing to join (check_executor refuses one)
    if workers is not None and workers < 1:
        raise UserError("--workers: must be >= 1")
    return LocalExecutor(workers, max_retries=max_retries)


def _serial(*, workers: int | None, max_retries: int, address: str | None) -> Executor:
    from stalwart.execution.base import SerialExecutor

    del workers, max_retries, address  # one trial at a time, in the driver: no workers to lose
    return SerialExecutor()


def _ray(*, workers: int | None, max_retries: int, address: str | None) -> Executor:
    try:
        from stalwart.execution.ray import RayExecutor
    except ImportError as exc:
        raise UserError(f"--executor ray: {exc} (install it with: pip install 'stalwart[ray]')") from None
    # Without an address a private Ray instance starts: workers sizes it. A cluster's size
    # is the cluster's own.
    return RayExecutor(address=address, max_retries=max_retries,
                       num_cpus=workers if address is None else None)


EXECUTORS: dict[str, ExecutorFactory] = {
    "local": _local,  # the default: worker processes on this machine
    "serial": _serial,
    "ray": _ray,
}
"""Executor name -> factory; the order is the order ``stalwart run --help`` lists them."""


def check_executor(name: str, *, workers: int | None = None, address: str | None = None) -> None:
    """Refuse, before a study starts, an executor setting that would be silently ignored.

    ``workers`` and ``address`` are what the user asked for explicitly (``--workers``,
    ``--address``), not the spec's default ``workers``, which any executor may run.
    Cheap: imports nothing but looks for Ray.

    Raises
    ------
    UserError
        An unknown executor; ``--workers`` below 1, with the serial executor (one trial at a
        time) or with a Ray cluster (its size is its own); ``--address`` with an executor
        other than Ray; Ray not installed.
    """
    first(choice("--executor", name, EXECUTORS, what="executor"), UserError)
    if workers is not None and workers < 1:
        raise UserError(f"--workers: must be >= 1, got {workers}")
    if address is not None and name != "ray":
        raise UserError(f"--address: only the ray executor joins a cluster; the {name} executor "
                        "runs on this machine (drop --address or use --executor ray)")
    if workers is not None and name == "serial":
        raise UserError("--workers: the serial executor trains one instance at a time in this "
                        "process (drop --workers or use --executor local)")
    if workers is not None and name == "ray" and address is not None:
        raise UserError("--workers: a Ray cluster joined with --address runs as many instances "
                        "as it has room for (drop --workers)")
    if name == "ray" and importlib.util.find_spec("ray") is None:
        raise UserError("--executor ray: Ray is not installed (install it with: "
                        "pip install 'stalwart[ray]')")


def make_executor(name: str, *, workers: int | None = None, max_retries: int = 1,
                  address: str | None = None) -> Executor:
    """Build the executor ``name`` (a key of :data:`EXECUTORS`).

    Parameters
    ----------
    name:
        ``"local"`` (worker processes on this machine), ``"serial"`` (in this process, one
        trial at a time) or ``"ray"`` (Ray tasks on a local instance or a cluster).
    workers, max_retries, address:
        See :class:`ExecutorFactory`.

    Raises
    ------
    UserError
        For an unknown name, a ``workers`` below 1 (local), or a missing Ray package.
    """
    first(choice("--executor", name, EXECUTORS, what="executor"), UserError)
    return EXECUTORS[name](workers=workers, max_retries=max_retries, address=address)
