"""The training keys of a config, their defaults, and their validation.

Keys (default in brackets):

``optimizer`` ["adamw"]
    ``sgd``, ``adam``, ``adamw``, ``nadam`` or ``radam``.
``lr`` [1e-3]
    Learning rate (the peak rate for ``onecycle``).
``batch_size`` [64], ``epochs`` [10]
    Samples per step; maximum number of epochs.
``momentum`` [0.9], ``nesterov`` [false]
    SGD only (Nesterov needs momentum > 0).
``betas`` [[0.9, 0.999]], ``eps`` [1e-8]
    Adam-family optimizers.
``weight_decay`` [0.0]
    The optimizer's weight decay: *decoupled* (AdamW-style) for every Adam-family
    optimizer, torch's for SGD.
``l2`` [0.0]
    An explicit penalty ``l2 * sum(w**2)`` over the weight tensors (ndim > 1; biases and
    PReLU slopes excluded) added to the loss. The paper distinguishes it from
    ``weight_decay``: adaptive optimizers rescale a loss penalty per parameter.
``schedule`` ["none"]
    ``none``, ``cosine`` (per step, from ``lr`` to 0) or ``onecycle`` (per step, peak
    ``lr``, 30% warm-up).
``patience`` [null]
    Early stopping: stop after this many epochs without a lower validation loss; null
    never stops early.
``restore_best`` [true]
    End with (and save) the weights of the epoch with the lowest validation loss rather
    than the last epoch's; validation is then evaluated after every epoch.
``grad_clip`` [null]
    Maximum global gradient norm; null does not clip.
``loss`` ["auto"]
    ``auto`` (cross-entropy for classification, ``relative_mse`` when the dataset's metric
    is ``rmse_rel``, else ``mse``), ``cross_entropy``, ``mse``, ``relative_mse``, ``mae``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stalwart.checks import boolean, integer, is_number, number
from stalwart.models.config_keys import TRAINING_KEYS

OPTIMIZERS: tuple[str, ...] = ("sgd", "adam", "adamw", "nadam", "radam")
SCHEDULES: tuple[str, ...] = ("none", "cosine", "onecycle")
LOSSES: tuple[str, ...] = ("auto", "cross_entropy", "mse", "relative_mse", "mae")

TRAINING_DEFAULTS: dict[str, Any] = {
    "optimizer": "adamw",
    "lr": 1e-3,
    "batch_size": 64,
    "epochs": 10,
    "momentum": 0.9,
    "nesterov": False,
    "betas": [0.9, 0.999],
    "eps": 1e-8,
    "weight_decay": 0.0,
    "l2": 0.0,
    "schedule": "none",
    "patience": None,
    "restore_best": True,
    "grad_clip": None,
    "loss": "auto",
}

# TRAINING_KEYS (every key the trainer reads; model families ignore these) is declared
# with the models, which may not import this module; the two lists must name the same keys.
if frozenset(TRAINING_DEFAULTS) != TRAINING_KEYS:
    raise RuntimeError(
        "stalwart.models.config_keys.TRAINING_KEYS and TRAINING_DEFAULTS name different "
        f"keys: {sorted(TRAINING_KEYS ^ frozenset(TRAINING_DEFAULTS))}"
    )


@dataclass(frozen=True)
class TrainingSettings:
    """The training keys of a config with defaults filled in (see the module table)."""

    optimizer: str
    lr: float
    batch_size: int
    epochs: int
    momentum: float
    nesterov: bool
    betas: tuple[float, float]
    eps: float
    weight_decay: float
    l2: float
    schedule: str
    patience: int | None
    restore_best: bool
    grad_clip: float | None
    loss: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TrainingSettings:
        """Read the training keys; raises ``ValueError`` listing every problem."""
        problems = check_training_config(config)
        if problems:
            raise ValueError("; ".join(problems))
        s = {k: config.get(k, d) for k, d in TRAINING_DEFAULTS.items()}
        s["betas"] = (float(s["betas"][0]), float(s["betas"][1]))
        for key in ("lr", "momentum", "eps", "weight_decay", "l2"):
            s[key] = float(s[key])
        if s["grad_clip"] is not None:
            s["grad_clip"] = float(s["grad_clip"])
        return cls(**s)


def check_training_config(config: Mapping[str, Any]) -> list[str]:
    """Problems with the training keys of a config, as ``"key: message"`` strings.

    Keys that are not training keys are ignored (the model families check those).
    """
    s = {k: config.get(k, d) for k, d in TRAINING_DEFAULTS.items()}
    p: list[str] = []
    if s["optimizer"] not in OPTIMIZERS:
        p.append(f"optimizer: unknown optimizer {s['optimizer']!r} (known: {', '.join(OPTIMIZERS)})")
    p += number("lr", s["lr"], low=0.0, low_open=True)
    p += integer("batch_size", s["batch_size"], low=1)
    p += integer("epochs", s["epochs"], low=1)
    p += number("momentum", s["momentum"], low=0.0, high=0.999999)
    p += boolean("nesterov", s["nesterov"])
    if s["nesterov"] is True and (s["optimizer"] != "sgd" or not is_number(s["momentum"])
                                  or s["momentum"] <= 0):
        p.append("nesterov: needs optimizer 'sgd' with momentum > 0")
    betas = s["betas"]
    if (not isinstance(betas, list | tuple) or len(betas) != 2
            or not all(is_number(b) and 0.0 <= b < 1.0 for b in betas)):
        p.append(f"betas: must be two numbers in [0, 1), got {betas!r}")
    p += number("eps", s["eps"], low=0.0, low_open=True)
    p += number("weight_decay", s["weight_decay"], low=0.0)
    p += number("l2", s["l2"], low=0.0)
    if s["schedule"] not in SCHEDULES:
        p.append(f"schedule: unknown schedule {s['schedule']!r} (known: {', '.join(SCHEDULES)})")
    p += integer("patience", s["patience"], low=1, optional=True)
    p += boolean("restore_best", s["restore_best"])
    p += number("grad_clip", s["grad_clip"], low=0.0, low_open=True, optional=True)
    if s["loss"] not in LOSSES:
        p.append(f"loss: unknown loss {s['loss']!r} (known: {', '.join(LOSSES)})")
    return p
