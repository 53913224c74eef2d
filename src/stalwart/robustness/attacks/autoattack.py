"""AutoAttack-style ensemble: APGD-CE, then APGD-T on the points that survive it."""

from __future__ import annotations

import torch

from stalwart.models.modes import ModelMode

from .._utils import LogitsFn
from .apgd import APGD
from .apgdt import APGDT
from .base import Attack, predict


class AutoAttack(Attack):
    """Per-sample worst case of APGD-CE followed by APGD-T (targeted DLR).

    This is the gradient-based part of AutoAttack's "standard" version (Croce & Hein,
    2020); the black-box Square attack and FAB-T are not included, so it is an upper
    bound on AutoAttack's robust accuracy (in practice APGD-CE + APGD-T account for
    nearly all of AutoAttack's successes).

    Parameters
    ----------
    eps:
        ball radius in input units.
    norm:
        ``"linf"``, ``"l2"`` or ``"l1"``.
    steps:
        iterations of each APGD run (published: 100).
    n_target_classes:
        target classes of APGD-T (published: 9).
    n_restarts:
        restarts of APGD-CE and per target of APGD-T.
    input_range, seed, model_mode:
        see :class:`~stalwart.robustness.attacks.base.Attack` (the members run in the
        ensemble's mode).
    """

    name = "autoattack"

    def __init__(
        self,
        eps: float,
        norm: str = "linf",
        steps: int = 100,
        n_target_classes: int = 9,
        n_restarts: int = 1,
        *,
        input_range: tuple[float, float] = (0.0, 1.0),
        seed: int = 0,
        model_mode: ModelMode = "eval",
    ) -> None:
        super().__init__(eps, input_range=input_range, seed=seed, model_mode=model_mode)
        self.norm = norm
        common = {"steps": steps, "norm": norm, "n_restarts": n_restarts,
                  "input_range": input_range, "seed": seed, "model_mode": model_mode}
        self.attacks: list[Attack] = [
            APGD(eps, loss="ce", **common),
            APGDT(eps, n_target_classes=n_target_classes, **common),
        ]

    def _perturb(
        self, fn: LogitsFn, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator
    ) -> torch.Tensor:
        adv = x.clone()
        robust = predict(fn, x) == y
        for attack in self.attacks:
            idx = robust.nonzero().squeeze(1)
            if idx.numel() == 0:
                break
            # Each member seeds its own generator: results do not depend on the order of
            # members or on how many points the previous member left.
            member_gen = torch.Generator(device=x.device)
            member_gen.manual_seed(attack.seed)
            adv_idx = attack._perturb(fn, x[idx], y[idx], member_gen)
            adv_idx = attack._project(x[idx], adv_idx)
            broken = predict(fn, adv_idx) != y[idx]
            adv[idx] = adv_idx
            robust[idx[broken]] = False
        return adv
