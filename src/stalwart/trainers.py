"""A trainer is a function: ``train(config: dict, instance: Instance) -> float | dict``.

Stalwart's strategies, store, executors and reports work on any training function; the
built-in trainer (:func:`stalwart.training.train_instance`, chosen when a spec names no
``trainer``) is one trainer among others. A user's trainer receives the config's
hyperparameters as a plain ``dict`` and an :class:`Instance` that says which instance it
is training and with what randomness, and returns the study's metric (a number) or a
mapping of metrics that includes it. All returned metrics are stored; a ``train_loss``
among them is also the instance's training loss (what a ``near_optimal`` criterion reads).

What comes back decides the instance's status:

* a finite metric: ``ok``;
* NaN or infinite: ``diverged`` (recorded, the study goes on);
* an exception, a wrong type, or a mapping without the study's metric: ``failed``, with the
  reason (the traceback, for an exception) stored and shown by ``stalwart show``.

A trainer is named in a spec as ``trainer: package.module:function``; the module is
looked for next to the spec first, then on the Python path. Process-based executors
(local, Ray) import it by that name in every worker, so it must be a module-level
function: a lambda or a function defined inside another one is refused before training.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import random
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stalwart.core import Config, InstanceResult, derive_seed, instance_seed
from stalwart.errors import SpecError

TrainerFn = Callable[[dict[str, Any], "Instance"], Any]


@dataclass(frozen=True)
class Instance:
    """Which instance a trainer trains, and the randomness it should use.

    Attributes
    ----------
    index:
        0, 1, 2, ... within the config.
    seed:
        ``instance_seed(study_seed, config_id, index)``: a 63-bit seed for this instance.
        Derive everything random from it (or call :meth:`seed_everything`), so that the
        same study gives the same results.
    config_id:
        the config's stable id.
    variation:
        what the study varies between instances: ``both`` (initialisation, data order and
        training subsample), ``init`` (the subsample is the same for every instance) or
        ``sampling`` (initialisation and order fixed per config, the subsample varies).
    subsample:
        the rows of the training pool this instance trains on (sorted ``int`` indices),
        when the spec asks for subsampling (``instances.train_size`` with
        ``instances.pool_size``); None: train on the whole pool.
    directory:
        a directory for this instance's artifacts (checkpoints, logs), created on first
        use of :attr:`artifacts`; None when the study keeps none.
    randomness_seed:
        the seed for initialisation and data order: ``seed``, except under
        ``variation: sampling`` where it is the same for every instance of the config.
    """

    index: int
    seed: int
    config_id: str
    variation: str = "both"
    subsample: tuple[int, ...] | None = None
    directory: str | None = None
    randomness_seed: int = 0

    @property
    def artifacts(self) -> Path:
        """The instance's artifact directory, created if needed."""
        if self.directory is None:
            raise RuntimeError("this study keeps no artifacts (no study directory)")
        path = Path(self.directory)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def seed_everything(self) -> int:
        """Seed Python's ``random``, numpy and torch (when installed) from
        :attr:`randomness_seed`; returns the 32-bit seed used."""
        s = self.randomness_seed % (2**32)
        random.seed(s)
        try:
            import numpy as np

            np.random.seed(s)
        except ImportError:  # pragma: no cover - numpy is a dependency
            pass
        if "torch" in sys.modules or importlib.util.find_spec("torch") is not None:
            import torch

            torch.manual_seed(s)
        return s


def make_instance(config: Config, index: int, study_seed: int, *, variation: str = "both",
                  pool_size: int | None = None, train_size: int | None = None,
                  directory: str | Path | None = None) -> Instance:
    """The :class:`Instance` of ``config``'s ``index``-th instance in a study.

    The seeds follow :mod:`stalwart.training.seeding`, so a user trainer and the built-in
    one draw the same subsample for the same instance.
    """
    from stalwart.training.seeding import seed_plan, subsample_indices

    plan = seed_plan(config.id, index, study_seed, variation)  # type: ignore[arg-type]
    rows = None
    if train_size is not None and pool_size is not None:
        rows = tuple(int(i) for i in subsample_indices(pool_size, train_size, plan.subsample))
    randomness = derive_seed("init", int(study_seed), config.id) if variation == "sampling" \
        else plan.instance
    return Instance(
        index=index,
        seed=instance_seed(study_seed, config.id, index),
        config_id=config.id,
        variation=variation,
        subsample=rows,
        directory=None if directory is None else str(Path(directory) / config.id / str(index)),
        randomness_seed=randomness,
    )


# ---- naming and loading a trainer ------------------------------------------------------
def trainer_name(fn: Callable[..., Any]) -> str:
    """``package.module:function`` for a module-level function."""
    return f"{fn.__module__}:{fn.__qualname__}"


def _unimportable_reason(fn: Callable[..., Any]) -> str | None:
    """Why spawned worker processes could not import ``fn`` by name, or None if they can."""
    qual = getattr(fn, "__qualname__", "")
    if "<lambda>" in qual:
        return "a lambda"
    if "<locals>" in qual:
        return "a function defined inside another function"
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    if module is None:
        return "not in an imported module"
    if module.__name__ == "__main__" and not getattr(module, "__file__", None):
        # A script's __main__ is re-run by spawned workers; a notebook's has no file.
        return "defined in an interactive session"
    return None


def load_trainer(name: str, *, search_path: str | Path | None = None,
                 key: str = "trainer") -> TrainerFn:
    """Import ``package.module:function``; one-line :class:`SpecError` naming ``key`` if not.

    ``search_path`` (the spec's directory) is tried before the Python path.
    """
    module_name, sep, attr = name.partition(":")
    if not sep or not module_name or not attr:
        raise SpecError(f"{key}: must look like package.module:function, got {name!r}")
    if search_path is not None:
        directory = str(Path(search_path).resolve())
        if directory not in sys.path:
            sys.path.insert(0, directory)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise SpecError(f"{key}: no module named {module_name!r} (looked next to the spec "
                            "and on the Python path)") from None
        raise SpecError(f"{key}: importing {module_name!r} failed: {exc}") from None
    except Exception as exc:  # the user's module raised while importing
        raise SpecError(f"{key}: importing {module_name!r} failed: "
                        f"{type(exc).__name__}: {exc}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise SpecError(f"{key}: module {module_name!r} has no {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise SpecError(f"{key}: {name!r} is a {type(obj).__name__}, not a function")
    return obj


def check_for_processes(fn: Callable[..., Any], executor: str) -> None:
    """Refuse a trainer that the executor's worker processes cannot import.

    ``serial`` runs it in this process and ``ray`` ships it by value (cloudpickle), so only
    ``local``'s spawned workers need a function they can import by name: a module-level
    function of a file (a script's own functions are fine: workers re-run the script's
    module, guarded by ``if __name__ == "__main__":``).
    """
    if executor != "local":
        return
    reason = _unimportable_reason(fn)
    if reason is not None:
        raise SpecError(
            f"trainer: {getattr(fn, '__qualname__', fn)!r} is {reason}, which the local "
            "executor's worker processes cannot import: define it at module level in a "
            "file, or use the 'serial' or 'ray' executor")


# ---- calling a trainer -----------------------------------------------------------------
def _metrics(value: Any, metric: str) -> tuple[dict[str, float] | None, str | None]:
    """The stored metrics of a trainer's return value, or the reason it is unusable."""
    if isinstance(value, bool):
        return None, f"trainer returned a bool ({value!r}), expected a number or a dict"
    if isinstance(value, int | float) or (hasattr(value, "item") and not isinstance(value, Mapping)):
        try:
            return {metric: float(value)}, None
        except (TypeError, ValueError):
            return None, f"trainer returned {type(value).__name__}, expected a number or a dict"
    if isinstance(value, Mapping):
        out: dict[str, float] = {}
        for k, v in value.items():
            if isinstance(v, bool) or not (isinstance(v, int | float) or hasattr(v, "item")):
                return None, (f"trainer returned a non-numeric value for {k!r}: "
                              f"{type(v).__name__}")
            try:
                out[str(k)] = float(v)
            except (TypeError, ValueError):
                return None, f"trainer returned a non-numeric value for {k!r}"
        if metric not in out:
            have = ", ".join(sorted(out)) or "nothing"
            return None, f"trainer's result lacks the study's metric {metric!r} (has: {have})"
        return out, None
    return None, f"trainer returned {type(value).__name__}, expected a number or a dict"


def call_trainer(fn: TrainerFn, config: Config, instance: Instance, metric: str) -> InstanceResult:
    """Run one instance with a user trainer; never raises for a problem of the instance."""
    start = time.perf_counter()
    try:
        value = fn(config.to_dict(), instance)
    except Exception:
        return result_of(config, instance, None, metric, time.perf_counter() - start,
                         error=traceback.format_exc(limit=-20).strip())
    return result_of(config, instance, value, metric, time.perf_counter() - start)


def result_of(config: Config, instance: Instance, value: Any, metric: str, wall_time: float,
              *, error: str | None = None) -> InstanceResult:
    """The :class:`~stalwart.core.InstanceResult` of what a trainer returned (``value``) or
    the error it ended with (see the module docstring for the status rules)."""
    result = InstanceResult(config_id=config.id, instance=instance.index, seed=instance.seed,
                            wall_time=wall_time)
    if error is not None:
        result.status = "failed"
        result.error = error
        return result
    metrics, problem = _metrics(value, metric)
    if metrics is None:
        result.status = "failed"
        result.error = problem
        return result
    result.metrics = metrics
    # a reported training loss is the instance's, as the built-in trainer's is (a
    # near-optimal criterion reads it, see stalwart.selection.criteria)
    result.train_loss = metrics.get("train_loss")
    if not all(math.isfinite(v) for v in metrics.values()):
        result.status = "diverged"
        bad = ", ".join(k for k, v in metrics.items() if not math.isfinite(v))
        result.error = f"non-finite metric(s): {bad}"
    return result
