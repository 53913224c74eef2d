"""What a driver knows of each dataset without loading it: tasks, options, pool size.

Nothing here imports numpy, torch or scikit-learn, so a study spec is checked in well under
a second: a typo in ``dataset.options`` or a ``train_size`` larger than the training pool
is refused before any worker starts. The loaders resolve their options through the same
:class:`DatasetInfo` (:meth:`DatasetInfo.resolve`), so the spec check and the loader cannot
disagree on names, defaults or bounds.

>>> CATALOG["mnist"].pool_size({"n_val": 5000})
55000
>>> CATALOG["calorimeter"].problems({"n_pool": 0})
['dataset.options.n_pool: must be an integer >= 1, got 0']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stalwart.checks import boolean, choice, first, integer, is_int, is_number
from stalwart.data.shower import SHOWER_DEFAULTS, shower_problems
from stalwart.errors import DataError

Key = Callable[[str], str]
"""Names an option in a message: ``spec_key`` for a spec, :func:`loader_key` for a call."""


def spec_key(option: str) -> str:
    """``n_pool`` -> ``dataset.options.n_pool``: the key path in a study spec."""
    return f"dataset.options.{option}"


def loader_key(dataset: str) -> Key:
    """How :func:`stalwart.data.load_dataset` names an option: ``option 'n_val' of dataset 'mnist'``."""
    return lambda option: f"option {option!r} of dataset {dataset!r}"


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset's metadata, readable without loading it.

    Attributes
    ----------
    name:
        The key of :data:`stalwart.data.DATASETS`.
    metrics:
        Task -> the name of its quality metric; the first task is the default.
    defaults:
        Option -> default value; no other option is accepted.
    check:
        ``check(options, key)``: the problems of resolved option values (all present).
    pool:
        ``pool(options)``: rows in the training pool for resolved, valid options (may be
        < 1 when the options leave none).
    pool_option:
        The option a too-small pool is blamed on.
    pool_rule:
        How the pool follows from the options, for messages.
    """

    name: str
    metrics: Mapping[str, str]
    defaults: Mapping[str, Any]
    check: Callable[[Mapping[str, Any], Key], list[str]]
    pool: Callable[[Mapping[str, Any]], int]
    pool_option: str
    pool_rule: str
    find_local: str | None = None
    """``"module:function"``, ``function(name, root)`` raising DataError unless the dataset's
    files are on disk; None for a dataset that needs none. Imported when called (the loader
    module imports torch)."""

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.metrics)

    def problems(self, options: Mapping[str, Any], key: Key = spec_key) -> list[str]:
        """Every problem of ``options`` as given by a user (unknown names first), or []."""
        unknown = sorted(set(options) - set(self.defaults), key=str)
        if unknown:
            valid = ", ".join(sorted(self.defaults)) or "(none)"
            return [f"{key(str(unknown[0]))}: unknown option for dataset {self.name!r}; "
                    f"valid options: {valid}"]
        merged = {**self.defaults, **options}
        found = self.check(merged, key)
        if not found and self.pool(merged) < 1:
            found = [f"{key(self.pool_option)}: leaves no training pool "
                     f"({self.pool_rule}), got {merged[self.pool_option]!r}"]
        return found

    def resolve(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The defaults updated with ``options``, for a loader.

        Raises
        ------
        DataError
            For the first problem; an unknown name keeps the message loaders always gave
            (``unknown option 'x' for dataset 'y'; valid options: ...``).
        """
        unknown = sorted(set(options) - set(self.defaults), key=str)
        if unknown:
            valid = ", ".join(sorted(self.defaults)) or "(none)"
            raise DataError(f"unknown option {unknown[0]!r} for dataset {self.name!r}; "
                            f"valid options: {valid}")
        first(self.problems(options, loader_key(self.name)), DataError)
        return {**self.defaults, **options}

    def pool_size(self, options: Mapping[str, Any]) -> int:
        """Rows in the training pool for valid ``options`` (as given; defaults fill in)."""
        return self.pool({**self.defaults, **options})


# ---- calorimeter: generated, the pool is n_pool events (validation and test are extra) -------
def _calorimeter_check(o: Mapping[str, Any], key: Key) -> list[str]:
    sizes = [p for n in ("n_pool", "n_val", "n_test") for p in integer(key(n), o[n], low=1)]
    return sizes[:1] or shower_problems(o, key)


_CALORIMETER = DatasetInfo(
    name="calorimeter",
    metrics={"energy": "rmse_rel", "position": "rmse"},
    defaults={"n_pool": 30000, "n_val": 5000, "n_test": 5000, **SHOWER_DEFAULTS},
    check=_calorimeter_check,
    pool=lambda o: int(o["n_pool"]),
    pool_option="n_pool",
    pool_rule="the pool is n_pool events",
)


# ---- files with an official training set: the pool is its first (size - n_val) rows ---------
# Images per class of each official training set (MNIST is not balanced), so that the pool
# of a class subset is known before loading.
_CLASS_COUNTS: dict[str, tuple[int, ...]] = {
    "mnist": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    "fashion_mnist": (6000,) * 10,
    "cifar10": (5000,) * 10,
}
PRETEXTS: tuple[str, ...] = ("none", "rotation")
"""Self-supervised pretext tasks an image set can be loaded as (see
:func:`stalwart.data.base.rotation_pretext`)."""


def _classes_check(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if (not isinstance(value, list | tuple) or not value
            or not all(is_int(c) and 0 <= c <= 9 for c in value)):
        return [f"{key}: must be a list of class indices 0-9, got {value!r}"]
    if len(set(value)) != len(value):
        return [f"{key}: lists a class twice, got {list(value)}"]
    return []


def _files_check(o: Mapping[str, Any], key: Key) -> list[str]:
    found = [*integer(key("n_val"), o["n_val"], low=1), *boolean(key("download"), o["download"]),
             *_classes_check(o["classes"], key("classes")),
             *choice(key("pretext"), o["pretext"], PRETEXTS, what="pretext task")]
    if not found and o["classes"] is not None and len(o["classes"]) < 2 and o["pretext"] == "none":
        found.append(f"{key('classes')}: a classification task needs at least 2 classes, "
                     f"got {list(o['classes'])}")
    return found


def _official_pool(name: str, o: Mapping[str, Any]) -> int:
    counts = _CLASS_COUNTS[name]
    kept = sum(counts) if o["classes"] is None else sum(counts[c] for c in o["classes"])
    return (kept - int(o["n_val"])) * (4 if o["pretext"] == "rotation" else 1)


def _official(name: str, n_val: int, module: str) -> DatasetInfo:
    n_train = sum(_CLASS_COUNTS[name])
    return DatasetInfo(
        name=name,
        metrics={"classification": "accuracy"},
        defaults={"n_val": n_val, "download": True, "classes": None, "pretext": "none"},
        check=_files_check,
        pool=lambda o: _official_pool(name, o),
        pool_option="n_val",
        pool_rule=(f"the pool is the {n_train:,} training images of the kept classes minus "
                   "n_val, four rotations each with pretext 'rotation'"),
        find_local=f"{module}:find_local",
    )


# ---- scikit-learn's sets: stratified test, then validation, split; the rest is the pool ------
_SKLEARN_SIZES = {"digits": (1797, 10), "iris": (150, 3), "breast_cancer": (569, 2), "wine": (178, 3)}
"""Samples and classes of each set as scikit-learn ships it."""


def tabular_split_sizes(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """(pool, validation, test) sizes of :func:`stalwart.data.tabular.split_indices`.

    The same arithmetic as scikit-learn's ``train_test_split`` with a float ``test_size``:
    ``ceil(test_size * n)`` rows go to the test side.
    """
    n_test = math.ceil(test_fraction * n)
    rest = n - n_test
    n_val = math.ceil(val_fraction / (1 - test_fraction) * rest)
    return rest - n_val, n_val, n_test


def _fraction(key: str, value: Any) -> list[str]:
    if is_number(value) and 0 < value < 1:
        return []
    return [f"{key}: must be a number in (0, 1), got {value!r}"]


def _tabular(name: str) -> DatasetInfo:
    n, n_classes = _SKLEARN_SIZES[name]

    def check(o: Mapping[str, Any], key: Key) -> list[str]:
        found = [*_fraction(key("val_fraction"), o["val_fraction"]),
                 *_fraction(key("test_fraction"), o["test_fraction"])]
        if "as_image" in o:
            found += boolean(key("as_image"), o["as_image"])
        if found:
            return found
        if o["val_fraction"] + o["test_fraction"] >= 1:
            return [f"{key('val_fraction')}: val_fraction + test_fraction must be < 1, got "
                    f"{o['val_fraction']!r} + {o['test_fraction']!r}"]
        sizes = dict(zip(("pool", "val", "test"),
                         tabular_split_sizes(n, o["val_fraction"], o["test_fraction"]), strict=True))
        small = [split for split, size in sizes.items() if size < n_classes]
        if small:  # a stratified split needs every class on each side
            blamed = "test_fraction" if small[0] == "test" else "val_fraction"
            return [f"{key(blamed)}: leaves {sizes[small[0]]} {small[0]} samples of {n}, fewer "
                    f"than its {n_classes} classes, got {o[blamed]!r}"]
        return []

    defaults: dict[str, Any] = {"val_fraction": 0.2, "test_fraction": 0.2}
    if name == "digits":
        defaults["as_image"] = False
    return DatasetInfo(
        name=name,
        metrics={"classification": "accuracy"},
        defaults=defaults,
        check=check,
        pool=lambda o: tabular_split_sizes(n, o["val_fraction"], o["test_fraction"])[0],
        pool_option="val_fraction",
        pool_rule=f"the pool is what validation and test leave of {n} samples",
    )


CATALOG: dict[str, DatasetInfo] = {
    "calorimeter": _CALORIMETER,
    "fashion_mnist": _official("fashion_mnist", 10000, "stalwart.data.mnist"),
    "mnist": _official("mnist", 10000, "stalwart.data.mnist"),
    "cifar10": _official("cifar10", 5000, "stalwart.data.cifar"),
    **{name: _tabular(name) for name in _SKLEARN_SIZES},
}
"""Dataset name -> :class:`DatasetInfo`, in the order of :data:`stalwart.data.DATASETS`."""
