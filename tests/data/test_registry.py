"""The registry: names, caching and one-line errors for unknown names, tasks and options."""

from __future__ import annotations

import pytest

from stalwart.data import DATASETS, METRICS, clear_cache, load_dataset, quality_metric
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


def test_every_dataset_has_its_metrics() -> None:
    assert set(METRICS) == set(DATASETS)
    assert all(METRICS[name] for name in METRICS)


@pytest.mark.parametrize(
    ("name", "task", "options"),
    [
        ("calorimeter", "energy", {"n_pool": 20, "n_val": 10, "n_test": 10}),
        ("calorimeter", "position", {"n_pool": 20, "n_val": 10, "n_test": 10}),
        ("digits", None, {}),
        ("iris", None, {}),
        ("breast_cancer", None, {}),
        ("wine", None, {}),
    ],
)
def test_quality_metric_is_what_the_loader_reports(name: str, task: str | None, options) -> None:
    ds = load_dataset(name, task=task, **options)
    assert quality_metric(name, task) == ds.metric
    assert quality_metric(name, ds.task) == ds.metric
    assert next(iter(METRICS[name])) == load_dataset(name, **options).task, "default task first"


@pytest.mark.parametrize(
    ("name", "task"), [("imagenet", None), ("calorimeter", "momentum"), ("mnist", "regression")]
)
def test_quality_metric_names_unknown_choices_as_load_dataset_does(name: str, task) -> None:
    with pytest.raises(DataError) as by_registry:
        quality_metric(name, task)
    with pytest.raises(DataError) as by_loading:
        load_dataset(name, task=task, download=False)
    assert str(by_registry.value) == str(by_loading.value)
    assert "\n" not in str(by_registry.value)
