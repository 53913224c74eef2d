"""Robustness metrics as evaluators the instance trainer calls after training.

>>> evaluate = make_evaluator("pgd_linf_acc", eps=2 / 255, steps=10)
>>> # evaluate(model, dataset) -> {"pgd_linf_acc": 0.43}

Each evaluator takes ``(model, dataset)``, works on the dataset's *test* split (the first
``n_samples`` rows when given), runs the model in eval mode (restoring every module's mode
after) and returns ``{key: value}`` with ``key`` the metric name unless ``key=`` renames it
(useful for the same metric at two budgets). ``eps`` is in input units, and attacks and
corruptions clip to ``dataset.input_range``.

Models with extra scalar features: when ``dataset.features_test`` is not ``None`` and the
model declares ``uses_features = True`` (or its ``forward`` has a ``features`` parameter),
it is called as ``model(x, features=f)`` with the matching rows, held fixed under attack.
For interval metrics such a model must implement ``interval_forward(lower, upper,
features)`` (see :mod:`stalwart.models.interval`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from stalwart.checks import choice, first, integer
from stalwart.data.base import Dataset

from ._utils import accepts_features, model_device
from .attacks import make_attack, robust_accuracy
from .bounds import log_sensitivity, verified_accuracy
from .corruptions import CORRUPTIONS, corruption_accuracy

Evaluator = Callable[[nn.Module, Dataset], dict[str, float]]


def _test_split(
    model: nn.Module, dataset: Dataset, n_samples: int | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    x, y, f = dataset.x_test, dataset.y_test, dataset.features_test
    if n_samples is not None:
        first(integer("n_samples", n_samples, low=1))
        x, y = x[:n_samples], y[:n_samples]
        f = None if f is None else f[:n_samples]
    if f is not None and not accepts_features(model):
        f = None
    return x, y, f


def _require_classification(dataset: Dataset, metric: str) -> None:
    if dataset.kind != "classification":
        raise ValueError(
            f"metric {metric!r} needs a classification dataset; {dataset.name!r} is "
            f"{dataset.kind!r} (log_sensitivity works for regression)"
        )


def _attack_metric(attack_name: str, metric: str, **attack_params: Any) -> Callable[..., float]:
    def evaluate(model: nn.Module, dataset: Dataset, n_samples: int | None,
                 batch_size: int, **params: Any) -> float:
        _require_classification(dataset, metric)
        x, y, f = _test_split(model, dataset, n_samples)
        attack = make_attack(attack_name, input_range=dataset.input_range, **params)
        return robust_accuracy(model, attack, x, y, batch_size=batch_size, features=f)

    evaluate.__name__ = metric
    return evaluate


def pgd_linf_acc(model: nn.Module, dataset: Dataset, *, eps: float = 8 / 255, steps: int = 10,
                 alpha: float | None = None, seed: int = 0, n_samples: int | None = None,
                 batch_size: int = 256) -> float:
    """Robust accuracy under PGD-l_inf (``alpha`` default ``2.5 eps / steps``)."""
    return _attack_metric("pgd_linf", "pgd_linf_acc")(
        model, dataset, n_samples, batch_size, eps=eps, steps=steps, alpha=alpha, seed=seed)


def pgd_l2_acc(model: nn.Module, dataset: Dataset, *, eps: float = 0.5, steps: int = 10,
               alpha: float | None = None, seed: int = 0, n_samples: int | None = None,
               batch_size: int = 256) -> float:
    """Robust accuracy under PGD-l2."""
    return _attack_metric("pgd_l2", "pgd_l2_acc")(
        model, dataset, n_samples, batch_size, eps=eps, steps=steps, alpha=alpha, seed=seed)


def fgsm_acc(model: nn.Module, dataset: Dataset, *, eps: float = 8 / 255,
             n_samples: int | None = None, batch_size: int = 256) -> float:
    """Robust accuracy under FGSM."""
    return _attack_metric("fgsm", "fgsm_acc")(model, dataset, n_samples, batch_size, eps=eps)


def apgd_ce_acc(model: nn.Module, dataset: Dataset, *, eps: float = 8 / 255, steps: int = 100,
                norm: str = "linf", n_restarts: int = 1, seed: int = 0,
                n_samples: int | None = None, batch_size: int = 256) -> float:
    """Robust accuracy under APGD-CE (``norm`` linf, l2 or l1: the l1 variant is the
    sparse APGD of Croce & Hein, 2021, ``apgd_l1``)."""
    first(choice("norm", norm, ("linf", "l2", "l1"), what="apgd_ce_acc norm"))
    attack = "apgd_l1" if norm == "l1" else f"apgd_ce_{norm}"
    return _attack_metric(attack, "apgd_ce_acc")(
        model, dataset, n_samples, batch_size, eps=eps, steps=steps, n_restarts=n_restarts,
        seed=seed)


def autoattack_acc(model: nn.Module, dataset: Dataset, *, eps: float = 8 / 255,
                   steps: int = 100, norm: str = "linf", n_target_classes: int = 9,
                   seed: int = 0, n_samples: int | None = None,
                   batch_size: int = 256) -> float:
    """Robust accuracy under APGD-CE followed by APGD-T (per-sample worst case)."""
    first(choice("norm", norm, ("linf", "l2"), what="autoattack_acc norm"))
    return _attack_metric(f"autoattack_{norm}", "autoattack_acc")(
        model, dataset, n_samples, batch_size, eps=eps, steps=steps,
        n_target_classes=n_target_classes, seed=seed)


def corruption_acc(model: nn.Module, dataset: Dataset, *,
                   corruptions: tuple[str, ...] | list[str] = tuple(CORRUPTIONS),
                   severity: int = 3, seed: int = 0, n_samples: int | None = None,
                   batch_size: int = 256) -> dict[str, float]:
    """Mean accuracy over ``corruptions`` at ``severity``, plus one entry per corruption."""
    _require_classification(dataset, "corruption_acc")
    unknown = sorted(set(corruptions) - set(CORRUPTIONS))
    if unknown or not corruptions:
        raise ValueError(f"unknown or no corruptions {unknown}; known: {sorted(CORRUPTIONS)}")
    x, y, f = _test_split(model, dataset, n_samples)
    per = corruption_accuracy(model, x, y, list(corruptions), severity, seed=seed,
                              batch_size=batch_size, input_range=dataset.input_range,
                              features=f)
    return {"": sum(per.values()) / len(per), **{f"/{k}": v for k, v in per.items()}}


def log_sensitivity_metric(model: nn.Module, dataset: Dataset, *, eps: float = 8 / 255,
                           n_samples: int | None = None, batch_size: int = 256) -> float:
    """Mean over test samples of the IBP output-box log-volume (classification or regression)."""
    x, _, f = _test_split(model, dataset, n_samples)
    device = model_device(model)
    values = log_sensitivity(model, x.to(device), eps, input_range=dataset.input_range,
                             features=None if f is None else f.to(device),
                             batch_size=batch_size)
    return float(values.mean())


def verified_acc(model: nn.Module, dataset: Dataset, *, eps: float = 8 / 255,
                 n_samples: int | None = None, batch_size: int = 256) -> float:
    """IBP-verified accuracy under l_inf perturbations of size ``eps``."""
    _require_classification(dataset, "verified_acc")
    x, y, f = _test_split(model, dataset, n_samples)
    device = model_device(model)
    return verified_accuracy(model, x.to(device), y.to(device), eps,
                             input_range=dataset.input_range,
                             features=None if f is None else f.to(device),
                             batch_size=batch_size)


#: metric name -> function ``(model, dataset, **params) -> float | dict``.
EVALUATORS: dict[str, Callable[..., Any]] = {
    "pgd_linf_acc": pgd_linf_acc,
    "pgd_l2_acc": pgd_l2_acc,
    "fgsm_acc": fgsm_acc,
    "apgd_ce_acc": apgd_ce_acc,
    "autoattack_acc": autoattack_acc,
    "corruption_acc": corruption_acc,
    "log_sensitivity": log_sensitivity_metric,
    "verified_acc": verified_acc,
}


def evaluator_params(name: str) -> dict[str, Any]:
    """Parameters of metric ``name`` with their defaults (``key`` included, default ``name``)."""
    fn = _lookup(name)
    params = {
        p.name: p.default
        for p in inspect.signature(fn).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    params["key"] = name
    return params


def make_evaluator(name: str, **params: Any) -> Evaluator:
    """Validate ``params`` for metric ``name`` and return ``evaluate(model, dataset)``.

    Parameters
    ----------
    name:
        a key of :data:`EVALUATORS`.
    **params:
        the metric's parameters (see :func:`evaluator_params`), e.g. ``eps``, ``steps``,
        ``n_samples`` (default: the whole test split), ``batch_size``, and ``key`` (the
        result's name; default ``name``).

    Returns
    -------
    Callable
        ``(model, dataset) -> {key: value}``; ``corruption_acc`` also returns
        ``{key + "/" + corruption: accuracy}`` for each corruption.

    Raises
    ------
    ValueError
        unknown metric or parameter.
    """
    fn = _lookup(name)
    allowed = evaluator_params(name)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown} for metric {name!r}; allowed: {sorted(allowed)}"
        )
    key = str(params.pop("key", name))

    def evaluate(model: nn.Module, dataset: Dataset) -> dict[str, float]:
        value = fn(model, dataset, **params)
        if isinstance(value, dict):
            return {key + suffix: float(v) for suffix, v in value.items()}
        return {key: float(value)}

    evaluate.__name__ = f"evaluate_{name}"
    evaluate.__doc__ = f"Compute {key!r} ({name}) on the test split."
    return evaluate


def _lookup(name: str) -> Callable[..., Any]:
    try:
        return EVALUATORS[name]
    except KeyError:
        raise ValueError(
            f"unknown robustness metric {name!r}; known metrics: {', '.join(sorted(EVALUATORS))}"
        ) from None


__all__ = ["EVALUATORS", "Evaluator", "evaluator_params", "make_evaluator"]
