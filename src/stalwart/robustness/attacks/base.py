"""The shared base of every attack: model modes, projections, losses, gradients.

All attacks act on a batch ``x`` of shape ``(N, ...)`` (images ``(N, C, H, W)`` or tabular
``(N, D)``) with integer labels ``y`` of shape ``(N,)``, for a classifier returning logits of
shape ``(N, K)``. Inputs live in a known box ``input_range = (low, high)``; every attack
returns points inside both that box and the eps-ball of its norm around ``x``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from stalwart.checks import choice, first, number
from stalwart.models.modes import MODEL_MODES, ModelMode, eval_mode, in_mode

from .._utils import (
    LogitsFn,
    batches,
    fast_memory_format,
    logits_fn,
    model_device,
    weights_laid_out,
)

Norm = Literal["linf", "l2", "l1"]
NORMS: tuple[str, ...] = ("linf", "l2", "l1")

# Guards divisions by gradient / perturbation norms that can be exactly zero.
_TINY = 1e-12


def _bview(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Reshape a per-sample tensor ``(N,)`` so it broadcasts against ``like`` ``(N, ...)``."""
    return t.reshape((-1,) + (1,) * (like.dim() - 1))


def flat_norm(t: torch.Tensor, norm: str) -> torch.Tensor:
    """Per-sample norm of ``t`` ``(N, ...)`` as ``(N,)``; ``norm`` in linf/l2/l1/l0."""
    flat = t.reshape(t.shape[0], -1)
    if norm == "linf":
        return flat.abs().amax(dim=1)
    if norm == "l2":
        return flat.norm(p=2, dim=1)
    if norm == "l1":
        return flat.abs().sum(dim=1)
    if norm == "l0":
        return (flat != 0).sum(dim=1).to(t.dtype)
    raise ValueError(f"unknown norm {norm!r}; expected one of {NORMS + ('l0',)}")


def project_l1_box(
    x: torch.Tensor, adv: torch.Tensor, eps: float, low: float, high: float, iters: int = 40
) -> torch.Tensor:
    """Euclidean projection of ``adv`` onto ``{z : ||z - x||_1 <= eps, low <= z <= high}``.

    The projection of ``d = adv - x`` onto the l1-ball intersected with the box is
    coordinate-wise ``clip(soft_threshold(d, lam), low - x, high - x)`` for the smallest
    ``lam >= 0`` meeting the budget (the box contains 0, so clipping the 1-D minimiser is
    exact). Projecting onto the intersection instead of ball-then-clip is what makes
    APGD-l1 effective ("Mind the box", Croce & Hein 2021). ``lam`` is found by bisection
    (``iters`` halvings of ``[0, max|d|]``); the upper end is returned so the budget holds.

    Parameters
    ----------
    x, adv:
        ``(N, ...)`` clean points (inside the box) and points to project.
    eps:
        l1 budget.
    low, high:
        the input box.

    Returns
    -------
    Tensor
        ``(N, ...)`` projected points.
    """
    d = adv - x
    lo_d, hi_d = low - x, high - x
    mag = d.abs()

    def budget(lam: torch.Tensor) -> torch.Tensor:
        shrunk = torch.sign(d) * (mag - _bview(lam, d)).clamp_min(0.0)
        return torch.minimum(torch.maximum(shrunk, lo_d), hi_d)

    n = d.shape[0]
    lam_lo = torch.zeros(n, dtype=d.dtype, device=d.device)
    lam_hi = mag.reshape(n, -1).amax(dim=1)
    needs = flat_norm(budget(lam_lo), "l1") > eps
    if not bool(needs.any()):
        return x + budget(lam_lo)
    for _ in range(iters):
        mid = 0.5 * (lam_lo + lam_hi)
        over = flat_norm(budget(mid), "l1") > eps
        lam_lo = torch.where(over, mid, lam_lo)
        lam_hi = torch.where(over, lam_hi, mid)
    lam = torch.where(needs, lam_hi, torch.zeros_like(lam_hi))
    return x + budget(lam)


def project(
    x: torch.Tensor, adv: torch.Tensor, eps: float, norm: str, low: float, high: float
) -> torch.Tensor:
    """Project ``adv`` into the ``norm``-ball of radius ``eps`` around ``x`` and the box.

    For linf and l2, ball projection followed by clipping stays in the ball because
    clipping towards a box that contains ``x`` never increases ``|adv_i - x_i|``.
    """
    if norm == "linf":
        adv = torch.minimum(torch.maximum(adv, x - eps), x + eps)
        return adv.clamp(low, high)
    if norm == "l2":
        delta = adv - x
        scale = (eps / (flat_norm(delta, "l2") + _TINY)).clamp(max=1.0)
        return (x + delta * _bview(scale, delta)).clamp(low, high)
    if norm == "l1":
        return project_l1_box(x, adv, eps, low, high)
    raise ValueError(f"unknown norm {norm!r}; expected one of {NORMS}")


# --------------------------------------------------------------------------- losses


def ce_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy, ``(N, K), (N,) -> (N,)``."""
    return F.cross_entropy(logits, y, reduction="none")


def dlr_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Difference-of-logits-ratio loss of Croce & Hein (2020), ``(N, K), (N,) -> (N,)``.

    ``-(z_y - max_{j != y} z_j) / (z_pi1 - z_pi3)`` with ``pi`` the logits sorted
    descending: invariant to shifting and rescaling the logits. It needs ``K >= 3``; for
    binary problems the denominator is 1 (a plain margin loss, no scale invariance).
    """
    z_sorted, idx_sorted = logits.sort(dim=1, descending=True)
    rows = torch.arange(logits.shape[0], device=logits.device)
    z_y = logits[rows, y]
    top_is_y = idx_sorted[:, 0] == y
    best_other = torch.where(top_is_y, z_sorted[:, 1], z_sorted[:, 0])
    if logits.shape[1] >= 3:
        scale = z_sorted[:, 0] - z_sorted[:, 2] + _TINY
    else:
        scale = torch.ones_like(z_y)
    return -(z_y - best_other) / scale


def dlr_targeted_loss(
    logits: torch.Tensor, y: torch.Tensor, y_target: torch.Tensor
) -> torch.Tensor:
    """Targeted DLR loss, ``-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)``, ``(N,)``.

    Needs ``K >= 4`` for the published denominator; with 3 classes ``z_pi3`` replaces the
    mean and with 2 the denominator is 1.
    """
    z_sorted, _ = logits.sort(dim=1, descending=True)
    rows = torch.arange(logits.shape[0], device=logits.device)
    k = logits.shape[1]
    if k >= 4:
        scale = z_sorted[:, 0] - 0.5 * (z_sorted[:, 2] + z_sorted[:, 3]) + _TINY
    elif k == 3:
        scale = z_sorted[:, 0] - z_sorted[:, 2] + _TINY
    else:
        scale = torch.ones_like(z_sorted[:, 0])
    return -(logits[rows, y] - logits[rows, y_target]) / scale


LOSSES = {"ce": ce_loss, "dlr": dlr_loss}


def loss_and_grad(
    fn: LogitsFn, x: torch.Tensor, y: torch.Tensor, loss_fn
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample loss ``(N,)``, logits ``(N, K)`` and input gradient ``(N, ...)`` at ``x``.

    ``torch.autograd.grad`` w.r.t. the input only, so no ``.grad`` is ever left on the
    model's parameters. Summing the per-sample losses keeps each sample's gradient its own.
    """
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = fn(x)
        loss = loss_fn(logits, y)
        (grad,) = torch.autograd.grad(loss.sum(), [x])
    return loss.detach(), logits.detach(), grad.detach()


# --------------------------------------------------------------------------- base class


class Attack(ABC):
    """An evasion attack against a classifier, independent of any particular model.

    Parameters
    ----------
    eps:
        radius of the threat model's ball, in input units.
    input_range:
        ``(low, high)`` box of valid inputs; adversarial examples are clipped to it.
    seed:
        seeds a private ``torch.Generator`` for random starts, so the same call gives the
        same result and the global RNG is left untouched.
    model_mode:
        the mode the model runs in while it is attacked: ``"eval"`` (the default, for
        evaluation: dropout off, BatchNorm on running statistics) or ``"train"`` (for
        adversarial training, which attacks the model as it is being trained: dropout on,
        drawing from torch's global RNG, and BatchNorm on each forward's batch statistics).
        In train mode a ``BatchNorm1d`` cannot run on a single sample, and the APGD family
        (APGD, APGD-T, AutoAttack) attacks the shrinking subset of points not yet broken,
        which can come down to one: prefer PGD or FGSM for such models.

    Calling ``attack(model, x, y)`` runs the model in ``model_mode`` and afterwards leaves it
    exactly as it was: every module's train/eval flag is restored, the running statistics
    the train-mode forwards update are put back, and its weights are never modified nor
    their gradients accumulated (input gradients come from ``torch.autograd.grad``). It
    returns adversarial examples of ``x``'s shape inside the ball and the box.
    """

    name: str = "attack"
    norm: str = "linf"
    #: Layout of the inputs the model sees: ``"auto"`` (the fastest measured for the model
    #: on the device, see :func:`~stalwart.robustness._utils.fast_memory_format`),
    #: ``"contiguous"`` or ``"channels_last"``. Set it on an instance to override; it never
    #: changes the attack's own arithmetic, only the model's, by float rounding.
    memory_format: str = "auto"

    def __init__(
        self, eps: float, *, input_range: tuple[float, float] = (0.0, 1.0), seed: int = 0,
        model_mode: ModelMode = "eval",
    ) -> None:
        first(number("eps", eps, low=0.0)
              + choice("model_mode", model_mode, MODEL_MODES, what="mode"))
        low, high = float(input_range[0]), float(input_range[1])
        if not low < high:
            raise ValueError(f"input_range must satisfy low < high, got {input_range!r}")
        self.eps = float(eps)
        self.input_range = (low, high)
        self.seed = int(seed)
        self.model_mode: ModelMode = model_mode

    def __repr__(self) -> str:
        return f"{type(self).__name__}(eps={self.eps:g}, norm={self.norm!r})"

    def __call__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Adversarial examples for ``(x, y)``.

        Parameters
        ----------
        model:
            classifier returning logits ``(N, K)``.
        x:
            ``(N, ...)`` float inputs inside ``input_range``.
        y:
            ``(N,)`` int64 labels.
        features:
            optional ``(N, F)`` extra inputs held fixed (see :func:`logits_fn`).

        Returns
        -------
        Tensor
            ``(N, ...)`` detached adversarial examples.
        """
        if y.dim() != 1 or y.shape[0] != x.shape[0]:
            raise ValueError(f"y must have shape ({x.shape[0]},), got {tuple(y.shape)}")
        x = x.detach()
        y = y.detach().long()
        low, high = self.input_range
        # A private generator on the data's device: reproducible, no global RNG side effects.
        gen = torch.Generator(device=x.device)
        gen.manual_seed(self.seed)
        fmt = fast_memory_format(model, x, self.memory_format)
        with in_mode(model, self.model_mode), weights_laid_out(model, fmt):
            adv = self._perturb(logits_fn(model, features, fmt), x, y, gen)
        # Final safety net against float drift: a no-op for feasible points.
        return project(x, adv.detach(), self.eps, self.norm, low, high).detach()

    @abstractmethod
    def _perturb(
        self, fn: LogitsFn, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator
    ) -> torch.Tensor:
        """Return ``(N, ...)`` adversarial examples; ``fn`` maps inputs to logits."""

    def _project(self, x: torch.Tensor, adv: torch.Tensor) -> torch.Tensor:
        return project(x, adv, self.eps, self.norm, *self.input_range)


@torch.no_grad()
def predict(fn: LogitsFn, x: torch.Tensor) -> torch.Tensor:
    """Predicted class indices ``(N,)``."""
    return fn(x).argmax(dim=1)


def robust_accuracy(
    model: nn.Module,
    attack: Attack,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int = 256,
    features: torch.Tensor | None = None,
) -> float:
    """Fraction of ``(x, y)`` still classified correctly after ``attack``, in ``[0, 1]``.

    Parameters
    ----------
    model:
        classifier returning logits ``(N, K)``; predictions on the adversarial examples
        are made in eval mode (the attack itself runs in its ``model_mode``), modes
        restored after.
    attack:
        any :class:`Attack`.
    x, y:
        ``(N, ...)`` inputs and ``(N,)`` labels; moved batch by batch to the model's device.
    batch_size:
        samples per attack call.
    features:
        optional ``(N, F)`` extra model inputs, held fixed.

    Notes
    -----
    Each batch is one attack call, and every call reseeds the attack's generator, so
    random starts (and hence the result, by random-start noise) depend on ``batch_size``.
    """
    n = int(x.shape[0])
    if n == 0:
        raise ValueError("robust_accuracy needs at least one sample")
    device = model_device(model)
    correct = 0
    for sl in batches(n, batch_size):
        xb, yb = x[sl].to(device), y[sl].to(device)
        fb = None if features is None else features[sl].to(device)
        adv = attack(model, xb, yb, features=fb)
        fmt = fast_memory_format(model, adv, attack.memory_format)
        with eval_mode(model), weights_laid_out(model, fmt):
            correct += int((predict(logits_fn(model, fb, fmt), adv) == yb).sum())
    return correct / n
