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
from stalwart.models.interval import Interval, final_affine_split, interval_bounds
from stalwart.models.modes import eval_mode

from ._utils import batches, fast_memory_format, weights_laid_out


def _input_box(
    x: torch.Tensor, eps: float, input_range: tuple[float, float] | None
) -> Interval:
    first(number("eps", eps, low=0.0))
    lower, upper = x - eps, x + eps
    if input_range is not None:
        lower, upper = lower.clamp(min=input_range[0]), upper.clamp(max=input_range[1])
    return lower, upper


def _batch_boxes(
    model: nn.Module,
    x: torch.Tensor,
    eps: float,
    input_range: tuple[float, float] | None,
    features: torch.Tensor | None,
    batch_size: int,
) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor, torch.Tensor | None]]:
    """``(rows, lower, upper, features)`` of each batch: its input box and fixed features,
    the box laid out in the model's fastest memory format (:func:`fast_memory_format`)."""
    fmt = fast_memory_format(model, x)
    for sl in batches(int(x.shape[0]), batch_size):
        lower, upper = _input_box(x[sl], eps, input_range)
        if fmt != torch.contiguous_format:
            lower, upper = lower.contiguous(memory_format=fmt), upper.contiguous(memory_format=fmt)
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
    with weights_laid_out(model, fast_memory_format(model, x)):
        for _, lower, upper, fb in _batch_boxes(model, x, eps, input_range, features,
                                                batch_size):
            lo, hi = interval_bounds(model, lower, upper, features=fb)
            width = (hi - lo).reshape(lo.shape[0], -1).clamp_min(floor)
            out.append(width.log().sum(dim=1))
    return torch.cat(out)


def margin_lower_bounds(
    model: nn.Module,
    lower: torch.Tensor,
    upper: torch.Tensor,
    y: torch.Tensor,
    features: torch.Tensor | None = None,
) -> torch.Tensor:
    """Lower bounds of ``logit_y - logit_j`` for every class ``j``, shape ``(N, K)``.

    When the model's final affine layer can be split off
    (:func:`~stalwart.models.interval.final_affine_split`: every stalwart family with
    interval bounds, features included, and a plain ``nn.Sequential`` ending in
    ``nn.Linear``), the margin is computed *through* that layer: with ``h`` the box before
    it, ``logit_y - logit_j = (w_y - w_j) h + (b_y - b_j)`` is a single affine map, whose
    exact box bound is much tighter than subtracting two independent logit intervals
    (Gowal et al., 2018, "elision of the last layer"). Otherwise the plain box difference
    ``lower_y - upper_j`` is used. Entry ``j = y`` is 0.
    """
    rows = torch.arange(y.shape[0], device=y.device)
    with eval_mode(model), torch.no_grad():
        split = final_affine_split(model, lower, upper, features)
        if split is not None and split[0].center_radius()[0].dim() != 2:
            split = None  # a final Linear over a non-flat input: not a (N, K) classifier head
        if split is None:
            lo, hi = interval_bounds(model, lower, upper, features=features)
            margin = lo[rows, y].unsqueeze(1) - hi
        else:
            box, weight, bias = split
            c, r = box.center_radius()
            w_diff = weight[y].unsqueeze(1) - weight.unsqueeze(0)  # (N, K, D)
            center = torch.einsum("nkd,nd->nk", w_diff, c)
            if bias is not None:
                center = center + bias[y].unsqueeze(1) - bias.unsqueeze(0)
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
    with weights_laid_out(model, fast_memory_format(model, x)):
        for sl, lower, upper, fb in _batch_boxes(model, x, eps, input_range, features,
                                                 batch_size):
            margin = margin_lower_bounds(model, lower, upper, y[sl], features=fb)
            margin[torch.arange(margin.shape[0]), y[sl]] = math.inf
            verified += int((margin > 0).all(dim=1).sum())
    return verified / n
