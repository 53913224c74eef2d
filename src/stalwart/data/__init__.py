"""Dataset loaders: every dataset by name, with a fixed train pool / validation / test split.

>>> ds = load_dataset("iris", seed=0)
>>> ds.x_train.shape[1], ds.kind
(4, 'classification')

Loading is cached in-process: the same arguments return the **same** :class:`Dataset`
object, because worker processes call :func:`load_dataset` once per training. Treat the
returned tensors as read-only.

What a study's driver needs to know of a dataset (its tasks and their quality metrics, its
options, the size of its training pool) is in :data:`CATALOG`
(:mod:`stalwart.data.catalog`), read without loading anything or importing torch:

>>> quality_metric("calorimeter", "position")
'rmse'
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stalwart.core import canonical_json
from stalwart.data.catalog import CATALOG, DatasetInfo
from stalwart.data.options import resolve_task
from stalwart.errors import DataError

if TYPE_CHECKING:
    from stalwart.data.base import Dataset

Loader = Callable[..., "Dataset"]
"""``loader(*, task=None, root=None, seed=0, **options) -> Dataset``."""


def _deferred(module: str, function: str) -> Loader:
    """A loader that imports its module (numpy, torch, scikit-learn) on its first call.

    Keeps ``import stalwart.data`` light: a driver checks a spec against :data:`CATALOG`
    without importing torch.
    """

    def load(**kwargs: Any) -> Dataset:
        return getattr(importlib.import_module(module), function)(**kwargs)

    load.__name__ = load.__qualname__ = function
    load.__doc__ = f"``{module}.{function}``, imported when first called."
    return load


DATASETS: dict[str, Loader] = {
    "calorimeter": _deferred("stalwart.data.calorimeter", "load_calorimeter"),
    "fashion_mnist": _deferred("stalwart.data.mnist", "load_fashion_mnist"),
    "mnist": _deferred("stalwart.data.mnist", "load_mnist"),
    "cifar10": _deferred("stalwart.data.cifar", "load_cifar10"),
    "digits": _deferred("stalwart.data.tabular", "load_digits"),
    "iris": _deferred("stalwart.data.tabular", "load_iris"),
    "breast_cancer": _deferred("stalwart.data.tabular", "load_breast_cancer"),
    "wine": _deferred("stalwart.data.tabular", "load_wine"),
}

METRICS: dict[str, dict[str, str]] = {name: dict(info.metrics) for name, info in CATALOG.items()}
"""Dataset name -> {task: name of its quality metric (``Dataset.metric``)}; the first task
is the default. The loaders report the same names (``tests/data/test_registry.py``)."""

_DEFERRED_NAMES = {"Dataset": "stalwart.data.base",
                   "baseline_energy_sum_fit": "stalwart.data.calorimeter"}


def __getattr__(name: str) -> Any:
    # The torch-side names, imported on first use (PEP 562).
    if name in _DEFERRED_NAMES:
        return getattr(importlib.import_module(_DEFERRED_NAMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def dataset_info(name: str) -> DatasetInfo:
    """The metadata of dataset ``name`` (:class:`~stalwart.data.catalog.DatasetInfo`).

    Raises
    ------
    DataError
        Unknown name, with the same one-line message :func:`load_dataset` gives.
    """
    if name not in CATALOG:
        raise DataError(f"unknown dataset {name!r}; valid datasets: {', '.join(sorted(DATASETS))}")
    return CATALOG[name]


def quality_metric(name: str, task: str | None = None) -> str:
    """The quality metric a dataset's task reports (e.g. ``"rmse_rel"``), without loading it.

    The trainer reports it as ``val_<metric>`` and ``test_<metric>``.

    Parameters
    ----------
    name:
        A key of :data:`DATASETS`.
    task:
        One of the dataset's tasks; None means its default.

    Raises
    ------
    DataError
        Unknown name or task, with the same one-line message :func:`load_dataset` gives.
    """
    metrics = dataset_info(name).metrics
    return metrics[resolve_task(name, task, tuple(metrics))]


_CACHE_SIZE = 8
"""Datasets kept in memory per process; Fashion-MNIST alone is ~220 MB as float32."""


def load_dataset(
    name: str,
    *,
    task: str | None = None,
    root: str | Path | None = None,
    seed: int = 0,
    **options: Any,
) -> Dataset:
    """Load dataset ``name``, from the in-process cache when already loaded.

    Parameters
    ----------
    name:
        A key of :data:`DATASETS`.
    task:
        The dataset's task (e.g. ``"energy"`` or ``"position"`` for ``calorimeter``); None
        means its default.
    root:
        Directory to look for the dataset's files first (file-based datasets only).
    seed:
        Seeds generated data and random splits; file datasets with an official split
        ignore it.
    **options:
        Loader-specific options (JSON-like values), e.g. ``n_pool=10000``.

    Returns
    -------
    Dataset
        The same object for the same arguments within a process.

    Raises
    ------
    DataError
        Unknown name, task or option (the message lists the valid ones), or missing/corrupt
        files (the message says where it looked and how to get them).
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; valid datasets: {', '.join(sorted(DATASETS))}")
    root_key = str(Path(root).expanduser().resolve()) if root is not None else None
    try:
        options_key = canonical_json(options)
    except (TypeError, ValueError) as exc:
        raise DataError(f"options of dataset {name!r} must be JSON-like values: {exc}") from exc
    return _load_cached(name, task, root_key, int(seed), options_key)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _load_cached(
    name: str, task: str | None, root: str | None, seed: int, options_json: str
) -> Dataset:
    # Keyed on canonical JSON so that option order does not matter and keys stay hashable.
    return DATASETS[name](task=task, root=root, seed=seed, **json.loads(options_json))


def clear_cache() -> None:
    """Forget every cached dataset (tests, or to free memory)."""
    _load_cached.cache_clear()


__all__ = [
    "DATASETS",
    "CATALOG",
    "METRICS",
    "Dataset",
    "DatasetInfo",
    "Loader",
    "baseline_energy_sum_fit",
    "clear_cache",
    "dataset_info",
    "load_dataset",
    "quality_metric",
]
