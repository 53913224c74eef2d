"""Auto-PGD (Croce & Hein, ICML 2020) for l_inf / l2 and APGD-l1 (Croce & Hein, ICCV 2021).

APGD needs no step-size tuning: it starts with a large step, adds momentum and halves the
step at checkpoints where progress stalls, restarting from the best point found so far.
Checkpoints follow ``p_0 = 0``, ``p_1 = 0.22``,
``p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)`` (as fractions of ``steps``), computed
in whole iterations as the reference implementation does: first interval
``max(int(0.22 steps), 1)``, each next one ``max(int(0.03 steps), 1)`` shorter, never
shorter than ``max(int(0.06 steps), 1)``.

At a checkpoint ``w_j`` the step of a sample is halved (and the sample restarts from its
best point and best-point gradient) when either

1. the loss increased in at most ``rho`` (0.75) of the steps since ``w_{j-1}``, or
2. the step was not halved at ``w_{j-1}`` and the best loss did not improve since then.

The l1 variant ("Mind the box") replaces momentum and halving by a sparsity-adaptive
step: each step moves only the top-``k`` gradient coordinates (``k`` starting at 20% and
then tracking 1/1.5 of the sparsity of the best point), the step size resets to ``eps``
when the best point became sparser by more than 5% and otherwise shrinks by 1.5 (down to
``eps / 10``), with checkpoints every ``max(int(0.04 steps), 1)`` iterations, and every
iterate is projected onto the intersection of the l1-ball and the input box.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from stalwart.checks import choice, first, integer
from stalwart.models.modes import ModelMode

from .._utils import LogitsFn
from .base import LOSSES, Attack, _bview, flat_norm, loss_and_grad, predict

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
_TINY = 1e-12


def checkpoint_iterations(steps: int) -> list[int]:
    """Iterations (1-based counts of completed steps) at which APGD-linf/l2 checks progress.

    >>> checkpoint_iterations(100)[:5]
    [22, 41, 57, 70, 80]
    """
    first = max(int(0.22 * steps), 1)
    decrease = max(int(0.03 * steps), 1)
    minimum = max(int(0.06 * steps), 1)
    points, interval, at = [], first, 0
    while at + interval <= steps:
        at += interval
        points.append(at)
        interval = max(interval - decrease, minimum)
    return points


class _Best:
    """What one run keeps per sample, updated after every iterate.

    ``adv`` is the latest misclassified iterate (the start until one is), ``fooled``
    whether any iterate was misclassified; ``x``, ``loss`` and ``grad`` are the
    highest-loss iterate, its loss and its gradient.
    """

    def __init__(
        self, x_adv: torch.Tensor, loss: torch.Tensor, logits: torch.Tensor,
        grad: torch.Tensor, y: torch.Tensor,
    ) -> None:
        self.y = y
        self.fooled = logits.argmax(dim=1) != y
        self.adv = x_adv.clone()
        self.x, self.loss, self.grad = x_adv.clone(), loss.clone(), grad.clone()

    def update(
        self, x_adv: torch.Tensor, loss: torch.Tensor, logits: torch.Tensor,
        grad: torch.Tensor,
    ) -> None:
        wrong = logits.argmax(dim=1) != self.y
        self.adv[wrong] = x_adv[wrong]
        self.fooled |= wrong
        improved = loss > self.loss
        self.x[improved] = x_adv[improved]
        self.grad[improved] = grad[improved]
        self.loss = torch.where(improved, loss, self.loss)


class APGD(Attack):
    """Auto-PGD, untargeted, with the CE or DLR loss.

    Parameters
    ----------
    eps:
        ball radius in input units.
    steps:
        iterations per restart (the published default is 100).
    norm:
        ``"linf"``, ``"l2"`` or ``"l1"``.
    loss:
        ``"ce"`` (cross-entropy) or ``"dlr"`` (difference of logits ratio).
    n_restarts:
        random restarts; each restart attacks only the points not yet misclassified.
    rho:
        fraction of increasing steps below which the step size is halved.
    input_range, seed, model_mode:
        see :class:`~stalwart.robustness.attacks.base.Attack`.

    Notes
    -----
    Points the model already misclassifies are returned unchanged; points fooled by some
    iterate are returned at that (latest misclassified) iterate; points never fooled are
    returned at their highest-loss iterate.
    """

    name = "apgd"

    def __init__(
        self,
        eps: float,
        steps: int = 100,
        norm: str = "linf",
        loss: str = "ce",
        n_restarts: int = 1,
        rho: float = 0.75,
        *,
        input_range: tuple[float, float] = (0.0, 1.0),
        seed: int = 0,
        model_mode: ModelMode = "eval",
    ) -> None:
        super().__init__(eps, input_range=input_range, seed=seed, model_mode=model_mode)
        first(choice("norm", norm, ("linf", "l2", "l1"), what="APGD norm")
              + integer("steps", steps, low=1)
              + integer("n_restarts", n_restarts, low=1)
              + choice("loss", loss, sorted(LOSSES), what="loss"))
        self.norm = norm
        self.steps = int(steps)
        self.loss = loss
        self.n_restarts = int(n_restarts)
        self.rho = float(rho)

    # ------------------------------------------------------------------ one run

    def _random_start(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        kw = {"generator": gen, "device": x.device, "dtype": x.dtype}
        if self.norm == "linf":
            # A point on the sphere of the cube, as in the reference code.
            t = 2.0 * torch.rand(x.shape, **kw) - 1.0
            start = x + self.eps * t / _bview(flat_norm(t, "linf") + _TINY, t)
        elif self.norm == "l2":
            t = torch.randn(x.shape, **kw)
            start = x + self.eps * t / _bview(flat_norm(t, "l2") + _TINY, t)
        else:
            start = x + torch.randn(x.shape, **kw)
        return self._project(x, start)

    def _run(
        self, fn: LogitsFn, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn,
        gen: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One APGD run on all of ``x``.

        Returns
        -------
        x_best_adv, fooled, x_best:
            ``(N, ...)`` latest misclassified iterate (or the start), ``(N,)`` bool whether
            any iterate was misclassified, ``(N, ...)`` highest-loss iterate.
        """
        x_adv = self._random_start(x, gen)
        loss, logits, grad = loss_and_grad(fn, x_adv, y, loss_fn)
        best = _Best(x_adv, loss, logits, grad, y)
        if self.norm == "l1":
            self._run_l1(fn, x, y, loss_fn, x_adv, grad, best)
            return best.adv, best.fooled, best.x

        n = x.shape[0]
        step = torch.full((n,), 2.0 * self.eps, dtype=x.dtype, device=x.device)
        x_old = x_adv.clone()
        checkpoints = set(checkpoint_iterations(self.steps))
        history = [loss]  # history[i] = loss of the i-th iterate (0 = start)
        last_check = 0
        loss_best_last_check = best.loss.clone()
        # Condition 2 cannot fire at the first checkpoint (nothing to compare with yet).
        reduced_last_check = torch.ones(n, dtype=torch.bool, device=x.device)

        for i in range(self.steps):
            with torch.no_grad():
                momentum = x_adv - x_old
                x_old = x_adv
                a = 0.75 if i > 0 else 1.0
                if self.norm == "linf":
                    direction = grad.sign()
                else:
                    direction = grad / _bview(flat_norm(grad, "l2") + _TINY, grad)
                z = self._project(x, x_adv + _bview(step, x) * direction)
                x_adv = self._project(x, x_adv + a * (z - x_adv) + (1.0 - a) * momentum)

            loss, logits, grad = loss_and_grad(fn, x_adv, y, loss_fn)
            best.update(x_adv, loss, logits, grad)
            history.append(loss)

            if i + 1 in checkpoints:
                window = torch.stack(history[last_check : i + 2])
                n_increase = (window[1:] > window[:-1]).sum(dim=0)
                stalled = n_increase <= self.rho * (i + 1 - last_check)
                no_gain = ~reduced_last_check & (loss_best_last_check >= best.loss)
                reduce = stalled | no_gain
                reduced_last_check = reduce
                loss_best_last_check = best.loss.clone()
                step = torch.where(reduce, step / 2.0, step)
                x_adv = torch.where(_bview(reduce, x), best.x, x_adv)
                grad = torch.where(_bview(reduce, x), best.grad, grad)
                last_check = i + 1
        return best.adv, best.fooled, best.x

    def _run_l1(
        self, fn: LogitsFn, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn,
        x_adv: torch.Tensor, grad: torch.Tensor, best: _Best,
    ) -> None:
        """The l1 iterations of :meth:`_run`, from ``x_adv`` (gradient ``grad``); updates ``best``."""
        n = x.shape[0]
        n_features = x[0].numel()
        rows = torch.arange(n, device=x.device)
        step_max = self.eps  # alpha = 1 for l1
        step = torch.full((n,), step_max, dtype=x.dtype, device=x.device)
        topk = torch.full((n,), 0.2, dtype=x.dtype, device=x.device)
        sparsity_old = torch.full((n,), float(n_features), dtype=x.dtype, device=x.device)
        interval = max(int(0.04 * self.steps), 1)

        for i in range(self.steps):
            with torch.no_grad():
                # Move only the largest-|gradient| coordinates: l1 steepest ascent is
                # 1-sparse; a few coordinates trade that against the box constraints.
                mags = grad.abs().reshape(n, -1)
                kth = ((1.0 - topk) * n_features).clamp(0, n_features - 1).long()
                threshold = mags.sort(dim=1).values[rows, kth]
                sparse = grad.sign() * (grad.abs() >= _bview(threshold, grad))
                count = flat_norm(sparse, "l1") + 1e-10
                x_adv = self._project(x, x_adv + _bview(step / count, x) * sparse)

            loss, logits, grad = loss_and_grad(fn, x_adv, y, loss_fn)
            best.update(x_adv, loss, logits, grad)

            if (i + 1) % interval == 0:
                sparsity = flat_norm(best.x - x, "l0")
                sparser = sparsity / sparsity_old < 0.95
                topk = sparsity / n_features / 1.5
                step = torch.where(sparser, torch.full_like(step, step_max), step / 1.5)
                step = step.clamp(step_max / 10.0, step_max)
                sparsity_old = sparsity
                x_adv = torch.where(_bview(sparser, x), best.x, x_adv)
                grad = torch.where(_bview(sparser, x), best.grad, grad)

    # ------------------------------------------------------------------ restarts

    def _attack_remaining(
        self,
        fn: LogitsFn,
        x: torch.Tensor,
        y: torch.Tensor,
        gen: torch.Generator,
        adv: torch.Tensor,
        robust: torch.Tensor,
        make_loss: Callable[[torch.Tensor], LossFn],
        runs: int,
    ) -> None:
        """Run ``runs`` restarts on the still-``robust`` points, updating ``adv`` in place.

        ``make_loss(idx)`` builds the loss for the subset ``idx`` (targeted losses need
        per-subset targets).
        """
        for _ in range(runs):
            idx = robust.nonzero().squeeze(1)
            if idx.numel() == 0:
                return
            x_best_adv, fooled, x_best = self._run(fn, x[idx], y[idx], make_loss(idx), gen)
            adv[idx] = torch.where(_bview(fooled, x_best), x_best_adv, x_best)
            robust[idx[fooled]] = False

    def _perturb(
        self, fn: LogitsFn, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator
    ) -> torch.Tensor:
        adv = x.clone()
        robust = predict(fn, x) == y
        loss_fn = LOSSES[self.loss]
        self._attack_remaining(fn, x, y, gen, adv, robust, lambda idx: loss_fn,
                               self.n_restarts)
        return adv
