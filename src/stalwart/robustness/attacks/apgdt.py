"""APGD-T: Auto-PGD on the targeted DLR loss, trying the top runner-up classes in turn."""

from __future__ import annotations

import torch

from stalwart.checks import first, integer
from stalwart.models.modes import ModelMode

from .._utils import LogitsFn
from .apgd import APGD
from .base import dlr_targeted_loss


class APGDT(APGD):
    """Targeted APGD (Croce & Hein, 2020) on the targeted DLR loss.

    For ``r = 2, ..., n_target_classes + 1`` the points still classified correctly are
    attacked towards the class ranked ``r``-th by the clean logits, ``n_restarts`` times
    each; a point counts as broken as soon as any target run misclassifies it.

    Parameters
    ----------
    eps, steps, norm, n_restarts, rho, input_range, seed, model_mode:
        as in :class:`~stalwart.robustness.attacks.apgd.APGD` (``norm`` linf or l2 or l1).
    n_target_classes:
        runner-up classes to target (the published default is 9); capped at ``K - 1``.
    """

    name = "apgd_t"

    def __init__(
        self,
        eps: float,
        steps: int = 100,
        norm: str = "linf",
        n_target_classes: int = 9,
        n_restarts: int = 1,
        rho: float = 0.75,
        *,
        input_range: tuple[float, float] = (0.0, 1.0),
        seed: int = 0,
        model_mode: ModelMode = "eval",
    ) -> None:
        super().__init__(eps, steps=steps, norm=norm, loss="dlr", n_restarts=n_restarts,
                         rho=rho, input_range=input_range, seed=seed, model_mode=model_mode)
        first(integer("n_target_classes", n_target_classes, low=1))
        self.n_target_classes = int(n_target_classes)

    def _perturb(
        self, fn: LogitsFn, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator
    ) -> torch.Tensor:
        adv = x.clone()
        with torch.no_grad():
            clean_logits = fn(x)
        robust = clean_logits.argmax(dim=1) == y
        ranking = clean_logits.argsort(dim=1, descending=True)
        n_targets = min(self.n_target_classes, clean_logits.shape[1] - 1)
        for rank in range(1, n_targets + 1):
            targets = ranking[:, rank]

            def make_loss(idx: torch.Tensor, t: torch.Tensor = targets):
                target = t[idx]
                return lambda logits, labels: dlr_targeted_loss(logits, labels, target)

            self._attack_remaining(fn, x, y, gen, adv, robust, make_loss, self.n_restarts)
        return adv

