"""Optimizers, learning-rate schedules and the explicit L2 penalty."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from stalwart.training.settings import TrainingSettings


def make_optimizer(params: Iterable[nn.Parameter] | Iterable[dict[str, Any]],
                   s: TrainingSettings) -> torch.optim.Optimizer:
    """The optimizer a config names, over parameters or parameter groups (each group's own
    ``lr`` and ``weight_decay`` override the config's, see
    :func:`stalwart.training.finetune.parameter_groups`).

    ``weight_decay`` is decoupled (AdamW-style) for every Adam-family optimizer, so that it
    means the same thing whichever one a config picks; for SGD it is torch's weight decay.
    """
    params = list(params)
    if s.optimizer == "sgd":
        return torch.optim.SGD(params, lr=s.lr, momentum=s.momentum, nesterov=s.nesterov,
                               weight_decay=s.weight_decay)
    common = {"lr": s.lr, "betas": s.betas, "eps": s.eps, "weight_decay": s.weight_decay}
    if s.optimizer == "adamw":
        return torch.optim.AdamW(params, **common)
    if s.optimizer == "adam":
        return torch.optim.Adam(params, decoupled_weight_decay=True, **common)
    if s.optimizer == "nadam":
        return torch.optim.NAdam(params, decoupled_weight_decay=True, **common)
    if s.optimizer == "radam":
        return torch.optim.RAdam(params, decoupled_weight_decay=True, **common)
    raise ValueError(f"optimizer: unknown optimizer {s.optimizer!r}")


def make_schedule(optimizer: torch.optim.Optimizer, s: TrainingSettings,
                  total_steps: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """A per-step schedule over ``total_steps`` optimizer steps, or None for ``none``.

    ``cosine`` anneals from each group's ``lr`` to 0; ``onecycle`` warms up to it over the
    first 30% and anneals (cycling momentum/beta1 where the optimizer has it).
    """
    total_steps = max(1, total_steps)
    if s.schedule == "none":
        return None
    if s.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    if s.schedule == "onecycle":
        cycle = s.optimizer != "sgd" or s.momentum > 0
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[g["lr"] for g in optimizer.param_groups],
            total_steps=total_steps, cycle_momentum=cycle
        )
    raise ValueError(f"schedule: unknown schedule {s.schedule!r}")


def l2_penalty(model: nn.Module) -> torch.Tensor:
    """``sum(w**2)`` over the weight tensors (ndim > 1) of ``model``; biases and PReLU
    slopes are not penalised."""
    terms = [p.pow(2).sum() for p in model.parameters() if p.requires_grad and p.ndim > 1]
    if not terms:
        return torch.zeros(())
    return torch.stack(terms).sum()
