"""Fast gradient sign method (Goodfellow et al., 2015): one l_inf step of size eps."""

from __future__ import annotations

import torch

from .._utils import LogitsFn
from .base import Attack, ce_loss, loss_and_grad


class FGSM(Attack):
    """``x + eps * sign(grad_x CE(f(x), y))``, clipped to the input range.

    Parameters
    ----------
    eps:
        l_inf radius in input units.
    input_range, seed, model_mode:
        see :class:`~stalwart.robustness.attacks.base.Attack` (FGSM is deterministic up to
        dropout in train mode).
    """

    name = "fgsm"
    norm = "linf"

    def _perturb(
        self, fn: LogitsFn, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator
    ) -> torch.Tensor:
        _, _, grad = loss_and_grad(fn, x, y, ce_loss)
        return self._project(x, x + self.eps * grad.sign())
