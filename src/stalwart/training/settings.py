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
``memory_format`` ["auto"]
    Where the inputs and convolution weights sit in memory while training: ``auto``
    (``channels_last`` for a model with 2-D convolutions on a CPU, where it was measured
    faster for every convolutional family, see ``benchmarks/README.md``; contiguous
    otherwise), ``contiguous`` or ``channels_last``. Values are the same either way; the
    arithmetic's rounding, hence the trained weights, may differ in the last bits.
``loss`` ["auto"]
    ``auto`` (cross-entropy for classification, ``relative_mse`` when the dataset's metric
    is ``rmse_rel``, else ``mse``), ``cross_entropy``, ``mse``, ``relative_mse``, ``mae``.

Robust training (what each batch minimises; :mod:`stalwart.training.robust_losses` says
precisely what each loss computes):

``training_loss`` ["task"]
    ``task`` (the plain ``loss``), ``at`` (adversarial training: the task loss at a PGD or
    APGD example), ``trades`` (TRADES), ``sensitivity`` (task loss + lambda * mean
    log-volume of the interval-bound output box) or ``ibp`` (interval-bound, verified,
    training). ``at`` and ``trades`` need a classification dataset; ``sensitivity`` and
    ``ibp`` a model family with interval bounds (``small_cnn``, ``mlp``); ``ibp`` also a
    classification dataset.
``robust_eps`` [0.1]
    The radius, in input units: of the attack's ball (``at``, ``trades``) or of the l_inf
    input box (``sensitivity``, ``ibp``).
``robust_norm`` ["linf"]
    ``linf`` or ``l2``: the attack's ball; ``sensitivity`` and ``ibp`` take ``linf`` only.
``robust_warmup_epochs`` [0], ``robust_ramp_epochs`` [0]
    The first ``robust_warmup_epochs`` epochs train on the task loss alone; over the next
    ``robust_ramp_epochs`` epochs the strength ramps linearly, batch by batch, from 0 to its
    value: ``robust_eps``, ``trades_beta``, ``sens_lambda`` and ``1 - ibp_kappa`` all scale
    by the same factor. Their sum must be below ``epochs``.
``adv_attack`` ["pgd"], ``adv_steps`` [10], ``adv_step_size`` [null], ``adv_random_start`` [true]
    The inner attack of ``at`` and ``trades``: ``pgd`` or ``apgd``, its steps, PGD's step
    size (null: ``2.5 * eps / steps``; APGD sets its own) and whether it starts from a
    random point of the ball.
``adv_model_mode`` ["eval"]
    The model's mode during the inner attack: ``eval`` (dropout off, BatchNorm on running
    statistics) or ``train``; the mode is restored before the training forward pass.
``trades_beta`` [6.0], ``trades_attack`` ["kl"]
    TRADES' weight on the robust KL term, and what its inner attack maximises: ``kl`` (the
    original, KL to the clean prediction) or ``ce`` (the cross-entropy at the label).
``sens_lambda`` [0.01]
    Weight of the mean log-volume in the ``sensitivity`` loss.
``ibp_kappa`` [0.5]
    The ``ibp`` loss is ``kappa * task + (1 - kappa) * verified``; kappa starts at 1 and
    ramps to this value with the ramp above (Gowal et al., 2018: 1 to 0.5).

Fine-tuning a pretrained backbone (:mod:`stalwart.training.finetune`; ``stalwart pretrain``
writes backbones):

``init_from`` [null]
    A weights file (``.safetensors`` or ``.pt``; a relative path is relative to the
    directory stalwart runs in): every tensor of the model but its head (the final linear
    layer) and its normalisation buffers is loaded from it before training; the names and
    shapes must match. A ``<file>.json`` beside it, as ``stalwart pretrain`` writes, lets
    the spec check refuse a config whose architecture keys differ from the backbone's.
``finetune`` ["full"]
    ``full`` (every parameter trains) or ``linear_probe`` (only the head trains; the
    backbone is frozen *and* kept in eval mode: BatchNorm statistics fixed, dropout off).
    ``linear_probe`` needs ``init_from``.
``backbone_lr`` [null], ``backbone_weight_decay`` [null]
    The backbone's learning rate and weight decay (null: ``lr`` and ``weight_decay``); the
    head always takes ``lr`` and ``weight_decay``.
``decay_norm_bias`` [true]
    Whether weight decay also applies to biases and normalisation parameters (LayerNorm,
    BatchNorm, a ViT's tokens); ``false`` is the usual fine-tuning recipe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stalwart.checks import boolean, choice, integer, is_int, is_number, number
from stalwart.models.config_keys import TRAINING_KEYS
from stalwart.models.layout import MEMORY_FORMATS
from stalwart.models.modes import MODEL_MODES

OPTIMIZERS: tuple[str, ...] = ("sgd", "adam", "adamw", "nadam", "radam")
SCHEDULES: tuple[str, ...] = ("none", "cosine", "onecycle")
LOSSES: tuple[str, ...] = ("auto", "cross_entropy", "mse", "relative_mse", "mae")
TRAINING_LOSSES: tuple[str, ...] = ("task", "at", "trades", "sensitivity", "ibp")
ADV_ATTACKS: tuple[str, ...] = ("pgd", "apgd")
ROBUST_NORMS: tuple[str, ...] = ("linf", "l2")
TRADES_ATTACKS: tuple[str, ...] = ("kl", "ce")
FINETUNE_PROTOCOLS: tuple[str, ...] = ("full", "linear_probe")

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
    "training_loss": "task",
    "robust_eps": 0.1,
    "robust_norm": "linf",
    "robust_warmup_epochs": 0,
    "robust_ramp_epochs": 0,
    "adv_attack": "pgd",
    "adv_steps": 10,
    "adv_step_size": None,
    "adv_random_start": True,
    "adv_model_mode": "eval",
    "trades_beta": 6.0,
    "trades_attack": "kl",
    "sens_lambda": 0.01,
    "ibp_kappa": 0.5,
    "init_from": None,
    "finetune": "full",
    "backbone_lr": None,
    "backbone_weight_decay": None,
    "decay_norm_bias": True,
    "memory_format": "auto",
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
    training_loss: str
    robust_eps: float
    robust_norm: str
    robust_warmup_epochs: int
    robust_ramp_epochs: int
    adv_attack: str
    adv_steps: int
    adv_step_size: float | None
    adv_random_start: bool
    adv_model_mode: str
    trades_beta: float
    trades_attack: str
    sens_lambda: float
    ibp_kappa: float
    init_from: str | None
    finetune: str
    backbone_lr: float | None
    backbone_weight_decay: float | None
    decay_norm_bias: bool
    memory_format: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TrainingSettings:
        """Read the training keys; raises ``ValueError`` listing every problem."""
        problems = check_training_config(config)
        if problems:
            raise ValueError("; ".join(problems))
        s = {k: config.get(k, d) for k, d in TRAINING_DEFAULTS.items()}
        s["betas"] = (float(s["betas"][0]), float(s["betas"][1]))
        for key in ("lr", "momentum", "eps", "weight_decay", "l2", "robust_eps", "trades_beta",
                    "sens_lambda", "ibp_kappa"):
            s[key] = float(s[key])
        for key in ("grad_clip", "adv_step_size", "backbone_lr", "backbone_weight_decay"):
            if s[key] is not None:
                s[key] = float(s[key])
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
    p += choice("memory_format", s["memory_format"], MEMORY_FORMATS, what="memory format")
    if s["loss"] not in LOSSES:
        p.append(f"loss: unknown loss {s['loss']!r} (known: {', '.join(LOSSES)})")
    return p + _robust_problems(s) + _finetune_problems(s)


def _finetune_problems(s: Mapping[str, Any]) -> list[str]:
    """Problems with the fine-tuning keys (``s`` has every key, defaults filled)."""
    p: list[str] = []
    init_from = s["init_from"]
    if init_from is not None and (not isinstance(init_from, str) or not init_from.strip()):
        p.append(f"init_from: must be the path of a weights file, got {init_from!r}")
    p += choice("finetune", s["finetune"], FINETUNE_PROTOCOLS, what="protocol")
    p += number("backbone_lr", s["backbone_lr"], low=0.0, low_open=True, optional=True)
    p += number("backbone_weight_decay", s["backbone_weight_decay"], low=0.0, optional=True)
    p += boolean("decay_norm_bias", s["decay_norm_bias"])
    if not p and s["finetune"] == "linear_probe" and init_from is None:
        p.append("finetune: 'linear_probe' trains a head on a pretrained backbone; set "
                 "init_from to its weights file")
    if (not p and s["finetune"] == "linear_probe" and s["training_loss"] in ("at", "trades")
            and s["adv_model_mode"] == "train"):
        p.append("adv_model_mode: a linear probe keeps its frozen backbone in eval mode; "
                 "an attack in train mode would update its BatchNorm statistics")
    if not p and s["finetune"] == "linear_probe" and s["backbone_lr"] is not None:
        p.append("backbone_lr: a linear probe freezes the backbone; remove backbone_lr or "
                 "use finetune 'full'")
    return p


def _robust_problems(s: Mapping[str, Any]) -> list[str]:
    """Problems with the robust-training keys (``s`` has every key, defaults filled)."""
    p = choice("training_loss", s["training_loss"], TRAINING_LOSSES, what="training loss")
    p += number("robust_eps", s["robust_eps"], low=0.0, low_open=True)
    p += choice("robust_norm", s["robust_norm"], ROBUST_NORMS, what="norm")
    p += integer("robust_warmup_epochs", s["robust_warmup_epochs"], low=0)
    p += integer("robust_ramp_epochs", s["robust_ramp_epochs"], low=0)
    p += choice("adv_attack", s["adv_attack"], ADV_ATTACKS, what="attack")
    p += integer("adv_steps", s["adv_steps"], low=1)
    p += number("adv_step_size", s["adv_step_size"], low=0.0, low_open=True, optional=True)
    p += boolean("adv_random_start", s["adv_random_start"])
    p += choice("adv_model_mode", s["adv_model_mode"], MODEL_MODES, what="mode")
    p += number("trades_beta", s["trades_beta"], low=0.0)
    p += choice("trades_attack", s["trades_attack"], TRADES_ATTACKS, what="attack objective")
    p += number("sens_lambda", s["sens_lambda"], low=0.0)
    p += number("ibp_kappa", s["ibp_kappa"], low=0.0, high=1.0)
    if p:
        return p
    loss = s["training_loss"]
    if loss in ("sensitivity", "ibp") and s["robust_norm"] != "linf":
        p.append(f"robust_norm: training_loss {loss!r} bounds an l_inf box; "
                 f"got {s['robust_norm']!r}")
    if loss == "ibp" and s["loss"] not in ("auto", "cross_entropy"):
        p.append(f"training_loss: 'ibp' trains a classifier (cross-entropy), "
                 f"but loss is {s['loss']!r}")
    if loss in ("at", "trades") and s["loss"] not in ("auto", "cross_entropy"):
        p.append(f"training_loss: {loss!r} attacks a classifier (cross-entropy), "
                 f"but loss is {s['loss']!r}")
    epochs = s["epochs"]
    if loss != "task" and is_int(epochs) and (
            s["robust_warmup_epochs"] + s["robust_ramp_epochs"] >= epochs):
        p.append(f"robust_warmup_epochs: warm-up ({s['robust_warmup_epochs']}) plus ramp "
                 f"({s['robust_ramp_epochs']}) epochs must be below epochs ({epochs}), or no "
                 "epoch trains at full strength")
    return p


def check_training_fit(settings: TrainingSettings, *, task_kind: str,
                       has_interval_bounds: bool, model_name: str = "the model") -> list[str]:
    """Problems of the training loss with the dataset and model it would train, before training.

    Parameters
    ----------
    settings:
        The config's training settings.
    task_kind:
        ``"classification"`` or ``"regression"`` (the dataset's kind).
    has_interval_bounds:
        Whether the model family propagates interval bounds
        (:meth:`stalwart.models.StalwartModel.interval_core`).
    model_name:
        The family's name, for the message.
    """
    loss = settings.training_loss
    p: list[str] = []
    if loss in ("at", "trades", "ibp") and task_kind != "classification":
        p.append(f"training_loss: {loss!r} needs a classification dataset; this one is "
                 f"{task_kind} (use 'sensitivity' for a regression model)")
    if loss in ("sensitivity", "ibp") and not has_interval_bounds:
        p.append(f"training_loss: {loss!r} needs interval bounds, which model "
                 f"{model_name!r} does not have (small_cnn and mlp do)")
    return p
