"""The engine of ``stalwart eval``: every robustness number for one trained model.

Independent of files: the CLI rebuilds the model (``stalwart.models.build_model``), loads
the state dict saved next to the config and calls :func:`evaluate_checkpoint`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from stalwart.data.base import Dataset
from stalwart.models.modes import eval_mode

from ._utils import (
    accepts_features,
    batches,
    fast_memory_format,
    logits_fn,
    model_device,
    weights_laid_out,
)
from .attacks import ATTACKS, DEFAULT_EPS, attack_params, make_attack, robust_accuracy
from .bounds import log_sensitivity, verified_accuracy
from .corruptions import CORRUPTIONS, corruption_accuracy

#: What the ``log_sensitivity`` row of ``stalwart eval`` measures.
SENSITIVITY_DEFINITION = (
    "mean over the samples of sum_k ln(upper_k - lower_k): the log-volume of the interval "
    "(IBP) box that holds the model's K outputs for every input within l_inf distance eps "
    "(clipped to the input range); each width floored at 1e-12; larger = less robust")
#: Its units.
SENSITIVITY_UNITS = "nats of (output units)^K: K = outputs; a classifier's outputs are logits"


def _clean_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                    f: torch.Tensor | None, batch_size: int) -> float:
    device = model_device(model)
    correct = 0
    fmt = fast_memory_format(model, x)
    with eval_mode(model), torch.no_grad(), weights_laid_out(model, fmt):
        for sl in batches(int(x.shape[0]), batch_size):
            fb = None if f is None else f[sl].to(device)
            pred = logits_fn(model, fb, fmt)(x[sl].to(device)).argmax(dim=1)
            correct += int((pred == y[sl].to(device)).sum())
    return correct / int(x.shape[0])


def evaluate_checkpoint(
    model: nn.Module,
    dataset: Dataset,
    attacks: Sequence[str] = ("pgd_linf",),
    corruptions: Sequence[str] = (),
    severity: int = 3,
    eps: float | None = None,
    steps: int | None = None,
    sensitivity_eps: float | None = None,
    n_samples: int | None = None,
    batch_size: int = 256,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Clean, robust (per attack), corruption (each and mean) and verified accuracy, sensitivity.

    Parameters
    ----------
    model:
        the trained model (eval mode is used; modes are restored).
    dataset:
        its test split is evaluated (first ``n_samples`` rows when given).
    attacks:
        names from :data:`~stalwart.robustness.attacks.ATTACKS`.
    corruptions:
        names from :data:`~stalwart.robustness.corruptions.CORRUPTIONS`.
    severity:
        corruption severity 1-5.
    eps:
        attack radius in input units; ``None`` uses each attack's default for its norm.
    steps:
        overrides the iteration count of iterative attacks.
    sensitivity_eps:
        l_inf radius of the log-sensitivity; ``None`` uses ``eps`` if the attacks are all
        l_inf (else 8/255); the row is skipped for models IBP does not support.
    n_samples, batch_size, seed:
        sample limit, batch size, seed of attacks and corruptions.

    Raises
    ------
    ValueError
        an unknown attack or corruption name, or corruptions of inputs that are not
        images.

    Returns
    -------
    list of dict
        rows ``{"kind": "clean"|"attack"|"corruption"|"verified"|"sensitivity", "name": ...,
        "metric": "accuracy"|"log_sensitivity", "value": float, "n_samples": int, ...}``:
        attack rows add ``eps`` and ``steps`` (iterations per run; 1 for FGSM), corruption
        rows ``severity`` (and a row ``"mean"``, the mean over the corruptions), the
        verified-accuracy and sensitivity rows ``eps`` (the sensitivity's l_inf radius);
        the sensitivity row adds ``definition`` and ``units`` (:data:`SENSITIVITY_DEFINITION`,
        :data:`SENSITIVITY_UNITS`). For regression datasets only the sensitivity row is
        produced; the interval rows are skipped for models IBP does not support.
    """
    unknown = sorted(set(attacks) - set(ATTACKS)) + sorted(set(corruptions) - set(CORRUPTIONS))
    if unknown:
        raise ValueError(f"unknown attack or corruption name(s): {unknown}")
    x, y, f = dataset.x_test, dataset.y_test, dataset.features_test
    if corruptions and not (x.dim() == 4 and x.shape[1] in (1, 3)):
        # Checked before any attack runs: minutes of attacks, then a shape error, helps no one.
        raise ValueError(f"corruptions need image inputs (N, C, H, W) with 1 or 3 channels; "
                         f"{dataset.name} gives {tuple(x.shape)}")
    if n_samples is not None:
        x, y = x[:n_samples], y[:n_samples]
        f = None if f is None else f[:n_samples]
    if f is not None and not accepts_features(model):
        f = None
    n = int(x.shape[0])
    rows: list[dict[str, Any]] = []
    if dataset.kind == "classification":
        rows.append({"kind": "clean", "name": "clean", "metric": "accuracy",
                     "value": _clean_accuracy(model, x, y, f, batch_size), "n_samples": n})
        for name in attacks:
            params: dict[str, Any] = {"input_range": dataset.input_range}
            allowed = attack_params(name)
            if eps is not None:
                params["eps"] = eps
            if steps is not None and "steps" in allowed:
                params["steps"] = steps
            if "seed" in allowed:
                params["seed"] = seed
            attack = make_attack(name, **params)
            rows.append({"kind": "attack", "name": name, "metric": "accuracy", "eps": attack.eps,
                         "value": robust_accuracy(model, attack, x, y, batch_size=batch_size,
                                                  features=f),
                         "n_samples": n, "steps": int(getattr(attack, "steps", 1))})
        if corruptions:
            per = corruption_accuracy(model, x, y, list(corruptions), severity, seed=seed,
                                      batch_size=batch_size, input_range=dataset.input_range,
                                      features=f)
            rows += [{"kind": "corruption", "name": k, "metric": "accuracy",
                      "severity": severity, "value": v, "n_samples": n} for k, v in per.items()]
            rows.append({"kind": "corruption", "name": "mean", "metric": "accuracy",
                         "severity": severity, "value": sum(per.values()) / len(per),
                         "n_samples": n})
    if sensitivity_eps is None:
        all_linf = all(ATTACKS[a][1].get("norm", "linf") == "linf" for a in attacks)
        sensitivity_eps = eps if (eps is not None and all_linf) else DEFAULT_EPS["linf"]
    device = model_device(model)
    xd, fd = x.to(device), None if f is None else f.to(device)
    try:
        if dataset.kind == "classification":
            verified = verified_accuracy(model, xd, y.to(device), sensitivity_eps,
                                         input_range=dataset.input_range, features=fd,
                                         batch_size=batch_size)
            rows.append({"kind": "verified", "name": "verified_accuracy", "metric": "accuracy",
                         "eps": sensitivity_eps, "value": verified, "n_samples": n})
        value = log_sensitivity(model, xd, sensitivity_eps, input_range=dataset.input_range,
                                features=fd, batch_size=batch_size)
    except TypeError:  # a module IBP does not support: report what we can
        return rows
    rows.append({"kind": "sensitivity", "name": "log_sensitivity", "metric": "log_sensitivity",
                 "eps": sensitivity_eps, "value": float(value.mean()), "n_samples": n,
                 "definition": SENSITIVITY_DEFINITION, "units": SENSITIVITY_UNITS})
    return rows
