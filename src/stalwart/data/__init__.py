"""Dataset loaders: every dataset by name, with a fixed train pool / validation / test split.

>>> ds = load_dataset("iris", seed=0)
>>> ds.x_train.shape[1], ds.kind
(4, 'classification')

Loading is cached in-process: the same arguments return the **same** :class:`Dataset`
object, because worker processes call :func:`load_dataset` once per training. Treat the
returned tensors as read-only.

What a study's driver needs to know of a dataset, its tasks and each task's quality metric,
is in :data:`METRICS`, read by :func:`quality_metric` without loading anything:

>>> quality_metric("calorimeter", "position")
'rmse'
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stalwart.core import canonical_json
from stalwart.data import calorimeter
from stalwart.data.base import Dataset
from stalwart.data.calorimeter import baseline_energy_sum_fit, load_calorimeter
from stalwart.data.cifar import load_cifar10
from stalwart.data.mnist import load_fashion_mnist, load_mnist
from stalwart.data.options import resolve_task
from stalwart.data.tabular import load_breast_cancer, load_digits, load_iris, load_wine
from stalwart.errors import DataError

Loader = Callable[..., Dataset]
"""``loader(*, task=None, root=None, seed=0, **options) -> Dataset``."""

DATASETS: dict[str, Loader] = {
    "calorimeter": load_calorimeter,
    "fashion_mnist": load_fashion_mnist,
    "mnist": load_mnist,
    "cifar10": load_cifar10,
    "digits": load_digits,
    "iris": load_iris,
    "breast_cancer": load_breast_cancer,
    "wine": load_wine,
}

_CLASSIFICATION: dict[str, str] = {"classification": "accuracy"}

METRICS: dict[str, dict[str, str]] = {
    "calorimeter": dict(calorimeter.METRICS),
    "fashion_mnist": _CLASSIFICATION,
    "mnist": _CLASSIFICATION,
    "cifar10": _CLASSIFICATION,
    "digits": _CLASSIFICATION,
    "iris": _CLASSIFICATION,
    "breast_cancer": _CLASSIFICATION,
    "wine": _CLASSIFICATION,
}
"""Dataset name -> {task: name of its quality metric (``Dataset.metric``)}; the first task
is the default. The loaders report the same names (``tests/data/test_registry.py``)."""


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
    if name not in METRICS:
        raise DataError(f"unknown dataset {name!r}; valid datasets: {', '.join(sorted(DATASETS))}")
    metrics = METRICS[name]
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
    "METRICS",
    "Dataset",
    "Loader",
    "baseline_energy_sum_fit",
    "clear_cache",
    "load_dataset",
    "quality_metric",
]
