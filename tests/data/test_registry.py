"""The registry: names, caching and one-line errors for unknown names, tasks and options."""

from __future__ import annotations

import pytest

from stalwart.data import DATASETS, clear_cache, load_dataset
from stalwart.errors import DataError, UserError


def test_registry_names() -> None:
    assert set(DATASETS) == {
        "calorimeter",
        "fashion_mnist",
        "mnist",
        "cifar10",
        "digits",
        "iris",
        "breast_cancer",
        "wine",
    }
    assert all(callable(loader) for loader in DATASETS.values())


def test_same_arguments_give_same_object() -> None:
    a = load_dataset("calorimeter", n_pool=50, n_val=10, n_test=10, seed=4)
    b = load_dataset("calorimeter", n_test=10, seed=4, n_val=10, n_pool=50)
    c = load_dataset("calorimeter", n_pool=50, n_val=10, n_test=10, seed=5)
    assert a is b and a is not c
    clear_cache()
    assert load_dataset("calorimeter", n_pool=50, n_val=10, n_test=10, seed=4) is not a


def test_root_spellings_share_a_cache_entry(tmp_path) -> None:
    assert load_dataset("iris", root=tmp_path) is load_dataset("iris", root=str(tmp_path))


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: load_dataset("imagenet"), ["'imagenet'", "calorimeter", "wine"]),
        (
            lambda: load_dataset("calorimeter", task="momentum"),
            ["'momentum'", "energy", "position"],
        ),
        (lambda: load_dataset("iris", task="regression"), ["'regression'", "classification"]),
        (lambda: load_dataset("iris", n_pool=3), ["'n_pool'", "val_fraction"]),
        (lambda: load_dataset("mnist", batch=3), ["'batch'", "n_val", "download"]),
        (lambda: load_dataset("iris", weird=object()), ["JSON"]),
    ],
)
def test_unknown_choices_are_named_on_one_line(call, words: list[str]) -> None:
    with pytest.raises(DataError) as err:
        call()
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message
    assert isinstance(err.value, UserError)
