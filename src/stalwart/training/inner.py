"""Inner maximisation for adversarial training: PGD and APGD on any per-sample objective.

Adversarial training needs an attack inside the training loop, and TRADES needs one that
maximises a KL divergence to the clean predictions, which the evaluation attacks of
:mod:`stalwart.robustness.attacks` (CE or DLR against labels) do not offer. The training
layer also sits below the robustness layer and may not import it, so the two maximisers
training needs live here, on a generic objective ``objective(x_adv) -> (N,)`` (higher is
worse for the model):

* :func:`pgd` follows :class:`stalwart.robustness.attacks.PGD` step for step (with one
  restart: uniform start in the l_inf cube or at a uniform l2 radius along a Gaussian
  direction, signed or normalised gradient steps, projection onto the ball and the input
  box), so for the CE objective it returns the same points for the same generator state
  (a test checks this against the evaluation attack);
* :func:`apgd` is Auto-PGD (Croce & Hein, 2020) for l_inf and l2: step size ``2 eps``
  halved at the checkpoints when progress stalls, momentum 0.75, restart from the best
  point, as :class:`stalwart.robustness.attacks.APGD`; it returns each sample's
  highest-objective iterate (training wants the worst point, not the first misclassified
  one, and attacks every sample, so a train-mode BatchNorm always sees the whole batch).

Both take input gradients with ``torch.autograd.grad`` only: the model's parameters and
their ``.grad`` are never touched. The caller chooses the model's mode (see
:func:`stalwart.models.modes.in_mode`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Objective = Callable[[torch.Tensor], torch.Tensor]

NORMS: tuple[str, ...] = ("linf", "l2")
METHODS: tuple[str, ...] = ("pgd", "apgd")

_TINY = 1e-12


def _bview(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return t.reshape((-1,) + (1,) * (like.dim() - 1))


def _l2(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1).norm(p=2, dim=1)


def project(x: torch.Tensor, adv: torch.Tensor, eps: float, norm: str,
            input_range: tuple[float, float]) -> torch.Tensor:
    """``adv`` projected onto the ``norm`` ball of radius ``eps`` around ``x``, then the box."""
    if norm == "linf":
        adv = torch.minimum(torch.maximum(adv, x - eps), x + eps)
    else:
        delta = adv - x
        adv = x + delta * _bview((eps / (_l2(delta) + _TINY)).clamp(max=1.0), delta)
    return adv.clamp(*input_range)


def _value_and_grad(objective: Objective, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        value = objective(x)
        (grad,) = torch.autograd.grad(value.sum(), [x])
    return value.detach(), grad.detach()


def _direction(grad: torch.Tensor, norm: str) -> torch.Tensor:
    if norm == "linf":
        return grad.sign()
    return grad / _bview(_l2(grad) + _TINY, grad)


def pgd(objective: Objective, x: torch.Tensor, *, eps: float, norm: str = "linf",
        steps: int = 10, step_size: float | None = None, random_start: bool = True,
        generator: torch.Generator | None = None,
        input_range: tuple[float, float] = (0.0, 1.0),
        start: torch.Tensor | None = None) -> torch.Tensor:
    """Projected gradient ascent on ``objective`` from a random start in the ball.

    Parameters
    ----------
    objective:
        ``x_adv (N, ...) -> (N,)`` per-sample value to maximise, differentiable in ``x_adv``.
    x:
        ``(N, ...)`` clean inputs inside ``input_range``.
    eps, norm:
        The ball: radius and ``"linf"`` or ``"l2"``.
    steps:
        Gradient steps (0 returns the start).
    step_size:
        Per-step size; None means ``2.5 * eps / steps`` (Madry et al.).
    random_start:
        Start at a random point of the ball (drawn from ``generator``) instead of ``x``.
    generator:
        Source of the random start; None uses torch's global RNG.
    input_range:
        The box of valid inputs.
    start:
        Where to start when ``random_start`` is false (projected; None: ``x``).

    Returns
    -------
    torch.Tensor
        ``(N, ...)`` detached points inside the ball and the box.
    """
    x = x.detach()
    alpha = 2.5 * eps / max(steps, 1) if step_size is None else float(step_size)
    kw = {"generator": generator, "device": x.device, "dtype": x.dtype}
    if not random_start:
        adv = x.clone() if start is None else project(x, start.detach(), eps, norm, input_range)
    elif norm == "linf":
        adv = project(x, x + (2.0 * torch.rand(x.shape, **kw) - 1.0) * eps, eps, norm, input_range)
    else:
        d = torch.randn(x.shape, **kw)
        d = d / _bview(_l2(d) + _TINY, d)
        radius = torch.rand(x.shape[0], **kw)
        adv = project(x, x + d * _bview(radius * eps, x), eps, norm, input_range)
    for _ in range(steps):
        _, grad = _value_and_grad(objective, adv)
        adv = project(x, adv + alpha * _direction(grad, norm), eps, norm, input_range)
    return adv.detach()


def _checkpoints(steps: int) -> set[int]:
    """APGD's progress checks (as :func:`stalwart.robustness.attacks.checkpoint_iterations`)."""
    first = max(int(0.22 * steps), 1)
    decrease, minimum = max(int(0.03 * steps), 1), max(int(0.06 * steps), 1)
    points, interval, at = set(), first, 0
    while at + interval <= steps:
        at += interval
        points.add(at)
        interval = max(interval - decrease, minimum)
    return points


def apgd(objective: Objective, x: torch.Tensor, *, eps: float, norm: str = "linf",
         steps: int = 10, random_start: bool = True,
         generator: torch.Generator | None = None,
         input_range: tuple[float, float] = (0.0, 1.0), rho: float = 0.75,
         start: torch.Tensor | None = None) -> torch.Tensor:
    """Auto-PGD ascent on ``objective``; each sample's highest-objective iterate.

    Parameters are those of :func:`pgd` (APGD sets its own step size: ``2 eps`` at the
    start, halved per sample at a checkpoint where the objective rose in at most ``rho`` of
    the steps since the last one, or where the step was not halved last time and the best
    value did not improve). The random start is a point on the l_inf cube's surface or the
    l2 sphere, as in the reference code.
    """
    x = x.detach()
    kw = {"generator": generator, "device": x.device, "dtype": x.dtype}
    if not random_start:
        adv = x.clone() if start is None else project(x, start.detach(), eps, norm, input_range)
    else:
        t = 2.0 * torch.rand(x.shape, **kw) - 1.0 if norm == "linf" else torch.randn(x.shape, **kw)
        scale = t.reshape(t.shape[0], -1).abs().amax(1) if norm == "linf" else _l2(t)
        adv = project(x, x + eps * t / _bview(scale + _TINY, t), eps, norm, input_range)
    value, grad = _value_and_grad(objective, adv)
    best_x, best_v, best_g = adv.clone(), value.clone(), grad.clone()
    n = x.shape[0]
    step = torch.full((n,), 2.0 * eps, dtype=x.dtype, device=x.device)
    old, checks, history, last = adv.clone(), _checkpoints(steps), [value], 0
    best_at_check = best_v.clone()
    reduced = torch.ones(n, dtype=torch.bool, device=x.device)
    for i in range(steps):
        with torch.no_grad():
            momentum, old = adv - old, adv
            a = 0.75 if i > 0 else 1.0
            z = project(x, adv + _bview(step, x) * _direction(grad, norm), eps, norm, input_range)
            adv = project(x, adv + a * (z - adv) + (1.0 - a) * momentum, eps, norm, input_range)
        value, grad = _value_and_grad(objective, adv)
        better = value > best_v
        best_x = torch.where(_bview(better, x), adv, best_x)
        best_g = torch.where(_bview(better, x), grad, best_g)
        best_v = torch.where(better, value, best_v)
        history.append(value)
        if i + 1 in checks:
            window = torch.stack(history[last:i + 2])
            stalled = (window[1:] > window[:-1]).sum(0) <= rho * (i + 1 - last)
            reduce = stalled | (~reduced & (best_at_check >= best_v))
            reduced, best_at_check = reduce, best_v.clone()
            step = torch.where(reduce, step / 2.0, step)
            adv = torch.where(_bview(reduce, x), best_x, adv)
            grad = torch.where(_bview(reduce, x), best_g, grad)
            last = i + 1
    return best_x.detach()


def maximise(method: str, objective: Objective, x: torch.Tensor, **params) -> torch.Tensor:
    """:func:`pgd` or :func:`apgd` by name (APGD ignores ``step_size``)."""
    if method == "apgd":
        params.pop("step_size", None)
        return apgd(objective, x, **params)
    if method == "pgd":
        return pgd(objective, x, **params)
    raise ValueError(f"adv_attack: unknown attack {method!r} (known: {', '.join(METHODS)})")
