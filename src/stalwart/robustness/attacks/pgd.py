"""Projected gradient descent (Madry et al., 2018) under l_inf or l2, with restarts."""

from __future__ import annotations

import torch

from stalwart.checks import choice, first, integer
from stalwart.models.modes import ModelMode

from .._utils import LogitsFn
from .base import LOSSES, Attack, _bview, flat_norm, loss_and_grad

_TINY = 1e-12


class PGD(Attack):
    """Fixed-step PGD on a per-sample loss, keeping each sample's worst restart.

    Parameters
    ----------
    eps:
        ball radius in input units.
    alpha:
        step size; ``None`` means ``2.5 * eps / steps`` (Madry et al.).
    steps:
        gradient steps per restart (>= 1).
    norm:
        ``"linf"`` (signed-gradient steps, uniform random start in the cube, as in
        torchattacks' ``PGD``) or ``"l2"`` (normalised-gradient steps, random start at a
        uniform radius along a Gaussian direction, as in torchattacks' ``PGDL2``).
    random_start:
        start from a random point of the ball instead of ``x``.
    restarts:
        independent runs; per sample, a misclassifying run beats a correct one, and among
        equals the higher final loss wins.
    loss:
        ``"ce"`` or ``"dlr"``.
    input_range, seed, model_mode:
        see :class:`~stalwart.robustness.attacks.base.Attack`.
    """

    name = "pgd"

    def __init__(
        self,
        eps: float,
        alpha: float | None = None,
        steps: int = 10,
        norm: str = "linf",
        random_start: bool = True,
        restarts: int = 1,
        loss: str = "ce",
        *,
        input_range: tuple[float, float] = (0.0, 1.0),
        seed: int = 0,
        model_mode: ModelMode = "eval",
    ) -> None:
        super().__init__(eps, input_range=input_range, seed=seed, model_mode=model_mode)
        first(choice("norm", norm, ("linf", "l2"), what="PGD norm")
              + integer("steps", steps, low=1)
              + integer("restarts", restarts, low=1)
              + choice("loss", loss, sorted(LOSSES), what="loss"))
        self.norm = norm
        self.steps = int(steps)
        self.alpha = 2.5 * self.eps / self.steps if alpha is None else float(alpha)
        self.random_start = bool(random_start)
        self.restarts = int(restarts)
        self.loss = loss

    def _start(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if not self.random_start:
            return x.clone()
        if self.norm == "linf":
            noise = torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype)
            return self._project(x, x + (2.0 * noise - 1.0) * self.eps)
        direction = torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)
        direction = direction / _bview(flat_norm(direction, "l2") + _TINY, direction)
        radius = torch.rand(x.shape[0], generator=gen, device=x.device, dtype=x.dtype)
        return self._project(x, x + direction * _bview(radius * self.eps, x))

    def _step(self, grad: torch.Tensor) -> torch.Tensor:
        if self.norm == "linf":
            return self.alpha * grad.sign()
        return self.alpha * grad / _bview(flat_norm(grad, "l2") + _TINY, grad)

    def _run(
        self, fn: LogitsFn, x: torch.Tensor, y: torch.Tensor, loss_fn, gen: torch.Generator
    ) -> torch.Tensor:
        """One restart: ``steps`` projected gradient steps from a (random) start."""
        adv = self._start(x, gen)
        if self.norm == "linf":
            # The ball and the box are both boxes: clip to their intersection, computed
            # once (min/max are exact, so this equals project(), which clips in turn).
            low, high = self.input_range
            lo, hi = (x - self.eps).clamp_min(low), (x + self.eps).clamp_max(high)
        for _ in range(self.steps):
            _, _, grad = loss_and_grad(fn, adv, y, loss_fn)
            if self.norm == "linf":
                adv = torch.minimum(torch.maximum(adv + self._step(grad), lo), hi)
            else:
                adv = self._project(x, adv + self._step(grad))
        return adv

    def _perturb(
        self, fn: LogitsFn, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator
    ) -> torch.Tensor:
        loss_fn = LOSSES[self.loss]
        if self.restarts == 1:
            # Nothing to choose between: the run's last iterate is the answer, so the
            # forward pass that scores a restart is skipped. The selection below takes
            # every point of a lone run (its final loss beats -inf), except a point whose
            # loss is NaN, which it returned unperturbed: a model gone NaN, no result.
            return self._run(fn, x, y, loss_fn, gen)
        best = x.clone()
        best_fooled = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        best_loss = torch.full((x.shape[0],), -torch.inf, dtype=x.dtype, device=x.device)
        for _ in range(self.restarts):
            adv = self._run(fn, x, y, loss_fn, gen)
            with torch.no_grad():
                logits = fn(adv)
                loss = loss_fn(logits, y)
                fooled = logits.argmax(dim=1) != y
            better = (fooled & ~best_fooled) | ((fooled == best_fooled) & (loss > best_loss))
            best[better] = adv[better]
            best_loss[better] = loss[better]
            best_fooled |= fooled
            if self.restarts > 1 and bool(best_fooled.all()):
                break
        return best

