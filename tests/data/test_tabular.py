"""scikit-learn's small sets: stratified, seeded splits and pool standardisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stalwart.data import load_dataset
from stalwart.data.tabular import split_indices
from stalwart.errors import DataError

SIZES = {
    "iris": (150, 4, 3),
    "wine": (178, 13, 3),
    "breast_cancer": (569, 30, 2),
    "digits": (1797, 64, 10),
}


@pytest.mark.parametrize("name", sorted(SIZES))
def test_layout_and_standardisation(name: str) -> None:
    n, d, k = SIZES[name]
    ds = load_dataset(name, seed=0)
    assert (ds.kind, ds.task, ds.metric, ds.n_classes) == (
        "classification",
        "classification",
        "accuracy",
        k,
    )
    splits = [(ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)]
    assert sum(x.shape[0] for x, _ in splits) == n
    for x, y in splits:
        assert x.dtype == torch.float32 and x.shape[1:] == (d,)
        assert y.dtype == torch.int64 and y.shape == (x.shape[0],)
        assert set(y.tolist()) == set(range(k))  # stratified: every class everywhere
    assert abs(ds.x_train.shape[0] / n - 0.6) < 0.02
    mean, std = ds.x_train.double().mean(0), ds.x_train.double().std(0, unbiased=False)
    assert torch.allclose(mean, torch.zeros(d, dtype=torch.float64), atol=1e-5)
    assert torch.all((torch.abs(std - 1) < 1e-4) | (std < 1e-6))  # constant features stay 0
    low, high = ds.input_range
    for x, _ in splits:
        assert low <= x.min().item() and x.max().item() <= high


def test_split_is_seeded() -> None:
    a, b, c = (load_dataset("wine", seed=s) for s in (0, 0, 1))
    assert torch.equal(a.x_test, b.x_test)
    assert not torch.equal(a.y_test, c.y_test) or not torch.equal(a.x_test, c.x_test)


def test_split_indices_partition_the_samples() -> None:
    labels = np.repeat(np.arange(3), 20)
    pool, val, test = split_indices(labels, val_fraction=0.25, test_fraction=0.25, seed=2**40)
    assert (len(pool), len(val), len(test)) == (30, 15, 15)
    assert sorted(np.concatenate([pool, val, test]).tolist()) == list(range(60))
    for part in (pool, val, test):
        assert np.bincount(labels[part]).min() == np.bincount(labels[part]).max()


def test_digits_as_image() -> None:
    ds = load_dataset("digits", as_image=True)
    assert ds.x_train.shape[1:] == (1, 8, 8) and ds.input_shape == (1, 8, 8)
    assert ds.input_range == (0.0, 1.0)
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    flat = load_dataset("digits")
    assert torch.equal(ds.y_test, flat.y_test)  # same split either way


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("iris", {"as_image": True}),
        ("wine", {"val_fraction": 0.0}),
        ("wine", {"val_fraction": 0.5, "test_fraction": 0.5}),
        ("iris", {"test_fraction": 0.01}),
    ],
)
def test_bad_options(name: str, options: dict) -> None:
    with pytest.raises(DataError) as err:
        load_dataset(name, **options)
    assert "\n" not in str(err.value)
