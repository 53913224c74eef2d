"""Interval-bound metrics: output-box sensitivity, certified margins, verified accuracy.

The bounds themselves come from interval bound propagation (IBP) in
:mod:`stalwart.models.interval` (which layers are supported, how custom modules join in,
how extra ``features`` are held fixed); this module turns them into robustness measures.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import nn

from stalwart.checks import first, number
from stalwart.models.interval import (
    Box,
    Interval,
    interval_bounds,
    is_plain_sequential,
    propagate_box,
)
from stalwart.models.modes import eval_mode

from ._utils import batches


def _input_box(
    x: torch.Tensor, eps: float, input_range: tuple[float, float] | None
) -> Interval:
    first(number("eps", eps, low=0.0))
    lower, upper = x - eps, x + eps
    if input_range is not None:
        lower, upper = lower.clamp(min=input_range[0]), upper.clamp(max=input_range[1])
    return lower, upper


def _batch_boxes(
    x: torch.Tensor,
    eps: float,
    input_range: tuple[float, float] | None,
    features: torch.Tensor | None,
    batch_size: int,
) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor, torch.Tensor | None]]:
    """``(rows, lower, upper, features)`` of each batch: its input box and fixed features."""
    for sl in batches(int(x.shape[0]), batch_size):
        lower, upper = _input_box(x[sl], eps, input_range)
        yield sl, lower, upper, None if features is None else features[sl]


def log_sensitivity(
    model: nn.Module,
    x: torch.Tensor,
    eps: float,
    input_range: tuple[float, float] | None = None,
    features: torch.Tensor | None = None,
    floor: float = 1e-12,
    batch_size: int = 512,
) -> torch.Tensor:
    """Log-volume of the IBP output box under all l_inf perturbations of size ``eps``.

    The interval-bound sensitivity of arXiv:1810.11726, as a log-volume per sample:
    ``sum_k log(max(upper_k - lower_k, floor))`` over all output coordinates ``k``. Larger
    means the output can move more. The floor keeps exactly constant outputs finite.

    Parameters
    ----------
    model:
        any model :func:`interval_bounds` supports (classifier or regressor).
    x:
        ``(N, ...)`` inputs.
    eps:
        l_inf radius in input units.
    input_range:
        if given, the input box is intersected with it.
    features:
        optional ``(N, F)`` fixed extra inputs.
    floor:
        minimal width.
    batch_size:
        samples per bound computation.

    Returns
    -------
    Tensor
        ``(N,)`` float log-volumes.
    """
    out = []
    for _, lower, upper, fb in _batch_boxes(x, eps, input_range, features, batch_size):
        lo, hi = interval_bounds(model, lower, upper, features=fb)
        width = (hi - lo).reshape(lo.shape[0], -1).clamp_min(floor)
        out.append(width.log().sum(dim=1))
    return torch.cat(out)


def _split_last_linear(model: nn.Module) -> tuple[list[nn.Module], nn.Linear] | None:
    """``(prefix modules, final Linear)`` when the model is a Sequential ending in a Linear."""
    if not is_plain_sequential(model) or len(model) == 0:
        return None
    *prefix, last = list(model)
    if isinstance(last, nn.Linear):
        return prefix, last
    nested = _split_last_linear(last)
    if nested is None:
        return None
    return prefix + nested[0], nested[1]


def margin_lower_bounds(
    model: nn.Module,
    lower: torch.Tensor,
    upper: torch.Tensor,
    y: torch.Tensor,
    features: torch.Tensor | None = None,
) -> torch.Tensor:
    """Lower bounds of ``logit_y - logit_j`` for every class ``j``, shape ``(N, K)``.

    When the model is an ``nn.Sequential`` ending in ``nn.Linear`` (nested Sequentials
    included), the margin is computed *through* the last layer: with ``h`` the box before
    it, ``logit_y - logit_j = (w_y - w_j) h + (b_y - b_j)`` is a single affine map, whose
    exact box bound is much tighter than subtracting two independent logit intervals
    (Gowal et al., 2018, "elision of the last layer"). Otherwise the plain box difference
    ``lower_y - upper_j`` is used. Entry ``j = y`` is 0.
    """
    split = None if features is not None else _split_last_linear(model)
    rows = torch.arange(y.shape[0], device=y.device)
    with eval_mode(model), torch.no_grad():
        if split is None:
            lo, hi = interval_bounds(model, lower, upper, features=features)
            margin = lo[rows, y].unsqueeze(1) - hi
        else:
            prefix, last = split
            box = Box(lo=lower, hi=upper)
            for module in prefix:
                box = propagate_box(module, box)
            c, r = box.center_radius()
            w_diff = last.weight[y].unsqueeze(1) - last.weight.unsqueeze(0)  # (N, K, D)
            center = torch.einsum("nkd,nd->nk", w_diff, c)
            if last.bias is not None:
                center = center + last.bias[y].unsqueeze(1) - last.bias.unsqueeze(0)
            margin = center - torch.einsum("nkd,nd->nk", w_diff.abs(), r)
    margin[rows, y] = 0.0
    return margin


def verified_accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    input_range: tuple[float, float] | None = None,
    features: torch.Tensor | None = None,
    batch_size: int = 512,
) -> float:
    """Fraction of samples certified correct under every l_inf perturbation of size ``eps``.

    A sample counts when the lower bound of ``logit_y - logit_j`` is ``> 0`` for all
    ``j != y`` (see :func:`margin_lower_bounds` for how tight the margin is). This is a
    lower bound on the true robust accuracy; with ``eps = 0`` it is the clean accuracy
    (ties aside).

    Parameters
    ----------
    model:
        classifier returning logits ``(N, K)``.
    x, y:
        ``(N, ...)`` inputs and ``(N,)`` labels.
    eps, input_range, features, batch_size:
        as in :func:`log_sensitivity`.

    Returns
    -------
    float
        in ``[0, 1]``.
    """
    n = int(x.shape[0])
    if n == 0:
        raise ValueError("verified_accuracy needs at least one sample")
    verified = 0
    for sl, lower, upper, fb in _batch_boxes(x, eps, input_range, features, batch_size):
        margin = margin_lower_bounds(model, lower, upper, y[sl], features=fb)
        margin[torch.arange(margin.shape[0]), y[sl]] = math.inf
        verified += int((margin > 0).all(dim=1).sum())
    return verified / n
