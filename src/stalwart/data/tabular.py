"""Small classification sets shipped with scikit-learn: digits, iris, breast_cancer, wine.

No download: the data come inside the scikit-learn package (``sklearn.datasets.load_*``).

Split: stratified by class, ``test_fraction`` (0.2) of the samples for test, then
``val_fraction`` (0.2, of the whole) for validation, the rest (60%) the pool; the shuffle is
drawn from ``derive_seed(<name>, seed, "split")``, so a seed fixes the split.

Normalisation: features standardised with the **pool's** mean and standard deviation
(features constant on the pool, such as digits' border pixels, keep std 1), so no statistic
leaks from validation or test. ``input_range`` is the smallest and largest standardised value
over all splits, so clipping to it never changes a clean input. Inputs float32 ``(N, D)``.

``digits`` also takes ``as_image=True``: inputs ``(N, 1, 8, 8)`` as ``pixel / 16`` in
``[0, 1]`` (the images' grey levels are 0..16), for convolutional models.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn import datasets as skdatasets
from sklearn.model_selection import train_test_split

from stalwart.core import derive_seed
from stalwart.data.base import Dataset
from stalwart.data.catalog import CATALOG
from stalwart.data.options import resolve_task
from stalwart.errors import DataError

_SKLEARN: dict[str, Callable[..., Any]] = {
    "digits": skdatasets.load_digits,
    "iris": skdatasets.load_iris,
    "breast_cancer": skdatasets.load_breast_cancer,
    "wine": skdatasets.load_wine,
}


def split_indices(
    labels: np.ndarray, *, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified pool / validation / test indices, each sorted, from one seed.

    Parameters
    ----------
    labels:
        Class of each sample, shape ``(N,)``.
    val_fraction, test_fraction:
        Shares of all ``N`` samples; their sum must be below 1.
    seed:
        Any int; reduced to 32 bits for scikit-learn.
    """
    idx = np.arange(labels.shape[0])
    rest, test = train_test_split(
        idx, test_size=test_fraction, stratify=labels, random_state=seed % 2**32
    )
    # val_fraction is a share of the whole set; rescale to the share of what is left.
    pool, val = train_test_split(
        rest,
        test_size=val_fraction / (1 - test_fraction),
        stratify=labels[rest],
        random_state=(seed + 1) % 2**32,
    )
    return np.sort(pool), np.sort(val), np.sort(test)


def load_tabular(
    name: str, *, task: str | None = None, seed: int = 0, options: dict[str, Any]
) -> Dataset:
    """Load scikit-learn's ``name`` set; see the module docstring for the options."""
    task = resolve_task(name, task, ("classification",))
    opts = CATALOG[name].resolve(options)
    val_fraction, test_fraction = float(opts["val_fraction"]), float(opts["test_fraction"])

    bunch = _SKLEARN[name]()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    try:
        pool, val, test = split_indices(
            y,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            seed=derive_seed(name, int(seed), "split"),
        )
    except ValueError as exc:  # a split too small to hold every class
        raise DataError(
            f"dataset {name!r}: cannot split {len(y)} samples that way ({exc})"
        ) from exc

    if opts.get("as_image"):
        x = (x / 16.0).reshape(-1, 1, 8, 8)
        normalisation = "pixel / 16"
        input_range = (0.0, 1.0)
    else:
        mean = x[pool].mean(axis=0)
        std = x[pool].std(axis=0)
        std[std == 0] = 1.0
        x = ((x - mean) / std).astype(np.float32)
        normalisation = "standardised with the pool's per-feature mean and std"
        input_range = (float(x.min()), float(x.max()))

    def tensors(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(x[rows].astype(np.float32)), torch.from_numpy(y[rows])

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = map(tensors, (pool, val, test))
    return Dataset(
        name=name,
        task=task,
        kind="classification",
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        x_test=x_test,
        y_test=y_test,
        n_classes=int(y.max()) + 1,
        input_range=input_range,
        metric="accuracy",
        normalisation=normalisation,
        extras={
            "classes": tuple(str(c) for c in bunch.target_names),
            "feature_names": tuple(str(f) for f in getattr(bunch, "feature_names", ())),
        },
    )


def _loader(name: str) -> Callable[..., Dataset]:
    def load(
        *, task: str | None = None, root: str | Path | None = None, seed: int = 0, **options: Any
    ) -> Dataset:
        del root  # the data ship with scikit-learn
        return load_tabular(name, task=task, seed=seed, options=options)

    load.__name__ = f"load_{name}"
    load.__doc__ = f"scikit-learn's {name} set; see :mod:`stalwart.data.tabular`."
    return load


load_digits = _loader("digits")
load_iris = _loader("iris")
load_breast_cancer = _loader("breast_cancer")
load_wine = _loader("wine")
