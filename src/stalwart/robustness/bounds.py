"""Interval bound propagation (IBP), output-box sensitivity and verified accuracy.

Given an input box ``[lower, upper]`` (same shape as a batch of inputs), IBP pushes the box
through a model layer by layer and returns a box guaranteed to contain the model's output
for every input in the input box (Gowal et al., 2018). Affine layers use the center/radius
form: center ``W c + b``, radius ``|W| r``, which is exact for a single affine layer;
monotone layers (ReLU, Tanh, pooling, ...) map the two ends.

Supported out of the box: ``nn.Sequential`` trees of Linear, Conv1d/Conv2d, ReLU, ReLU6,
PReLU, LeakyReLU, ELU, Tanh, Sigmoid, Hardtanh, MaxPool1d/2d, AvgPool1d/2d,
AdaptiveAvgPool1d/2d, AdaptiveMaxPool1d/2d, Flatten, Unflatten, Identity, Dropout
(identity: bounds describe the model in eval mode) and BatchNorm1d/2d using running
statistics, plus :class:`Residual` for skip connections. Custom modules either implement
``interval_forward(lower, upper)`` or get a handler via :func:`register_interval_handler`;
anything else raises a ``TypeError`` naming the module type.

Models with extra scalar ``features`` (appended before the head) are supported when the
model implements ``interval_forward(lower, upper, features)``; the features are held
fixed (a degenerate interval), see :func:`append_fixed_features`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ._utils import batches, eval_mode

Interval = tuple[torch.Tensor, torch.Tensor]
Handler = Callable[[nn.Module, torch.Tensor, torch.Tensor], Interval]

_HANDLERS: dict[type[nn.Module], Handler] = {}


def register_interval_handler(module_type: type[nn.Module], handler: Handler) -> None:
    """Register ``handler(module, lower, upper) -> (lower, upper)`` for ``module_type``.

    Handlers apply to subclasses too (the most specific registered class wins), and a
    module's own ``interval_forward`` method takes precedence over any handler.
    """
    _HANDLERS[module_type] = handler


class Residual(nn.Module):
    """``block(x) + shortcut(x)`` (shortcut defaults to identity), IBP-aware.

    Parameters
    ----------
    block:
        the residual branch.
    shortcut:
        the skip branch, e.g. a 1x1 convolution when shapes change; ``None`` is identity.
    """

    def __init__(self, block: nn.Module, shortcut: nn.Module | None = None) -> None:
        super().__init__()
        self.block = block
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x) + self.shortcut(x)

    def interval_forward(self, lower: torch.Tensor, upper: torch.Tensor) -> Interval:
        # Bounds of a sum are the sums of the bounds (sound, though the two branches'
        # shared dependence on x is forgotten).
        bl, bu = propagate(self.block, lower, upper)
        sl, su = propagate(self.shortcut, lower, upper)
        return bl + sl, bu + su


def append_fixed_features(
    lower: torch.Tensor, upper: torch.Tensor, features: torch.Tensor
) -> Interval:
    """Concatenate fixed ``features`` ``(N, F)`` to the flat bounds ``(N, D)`` -> ``(N, D+F)``.

    For use inside a model's ``interval_forward(lower, upper, features)``.
    """
    f = features.to(lower.dtype)
    return torch.cat([lower, f], dim=1), torch.cat([upper, f], dim=1)


# --------------------------------------------------------------------------- handlers


class _Box:
    """An interval held as (lower, upper) and/or (center, radius), converted lazily.

    Affine layers want center/radius, monotone layers want the two ends; converting only
    when the next layer needs the other form saves most elementwise passes (IBP cost is
    dominated by them after the 2x of the affine layers themselves).
    """

    __slots__ = ("_lo", "_hi", "_c", "_r")

    def __init__(self, lo=None, hi=None, c=None, r=None) -> None:
        self._lo, self._hi, self._c, self._r = lo, hi, c, r

    def bounds(self) -> Interval:
        if self._lo is None:
            self._lo, self._hi = self._c - self._r, self._c + self._r
        return self._lo, self._hi

    def center_radius(self) -> Interval:
        if self._c is None:
            self._c = (self._lo + self._hi).mul_(0.5)
            self._r = self._hi - self._c
        return self._c, self._r


def _linear(m: nn.Linear, box: _Box, weight=None, bias=None) -> _Box:
    weight = m.weight if weight is None else weight
    bias = m.bias if bias is None else bias
    c, r = box.center_radius()
    return _Box(c=F.linear(c, weight, bias), r=F.linear(r, weight.abs()))


def _conv(m: nn.Conv1d | nn.Conv2d, box: _Box, weight=None, bias=None) -> _Box:
    weight = m.weight if weight is None else weight
    bias = m.bias if bias is None else bias
    c, r = box.center_radius()
    # _conv_forward applies the module's padding mode (zeros/reflect/replicate/circular);
    # padding copies values, so padding the radius the same way stays sound.
    return _Box(c=m._conv_forward(c, weight, bias), r=m._conv_forward(r, weight.abs(), None))


def _relu(m: nn.ReLU, box: _Box) -> _Box:
    fresh = box._lo is None  # bounds computed here are ours: clamp them in place
    lo, hi = box.bounds()
    if fresh:
        return _Box(lo=lo.clamp_min_(0.0), hi=hi.clamp_min_(0.0))
    return _Box(lo=F.relu(lo), hi=F.relu(hi))


def _bn_affine(m: nn.modules.batchnorm._BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel ``(scale, shift)`` of an eval-mode BatchNorm."""
    if m.running_mean is None or m.running_var is None:
        raise TypeError(
            f"{type(m).__name__} without running statistics (track_running_stats=False) "
            "depends on the batch and has no interval bound"
        )
    scale = torch.rsqrt(m.running_var + m.eps)
    if m.weight is not None:
        scale = scale * m.weight
    shift = -m.running_mean * scale
    if m.bias is not None:
        shift = shift + m.bias
    return scale, shift


def _folded(layer: nn.Module, bn: nn.Module, box: _Box) -> _Box:
    """Linear/Conv followed by BatchNorm as one affine layer: exact and saves two passes."""
    if isinstance(layer, nn.Linear) and box.center_radius()[0].dim() != 2:
        # Linear acts on the last dim, BatchNorm1d on dim 1: only the same axis for 2-D.
        return _propagate_box(bn, _propagate_box(layer, box))
    scale, shift = _bn_affine(bn)
    view = (-1,) + (1,) * (layer.weight.dim() - 1)
    weight = layer.weight * scale.reshape(view)
    bias = shift if layer.bias is None else layer.bias * scale + shift
    return _BOX_HANDLERS[type(layer)](layer, box, weight, bias)


def _monotone(m: nn.Module, lower: torch.Tensor, upper: torch.Tensor) -> Interval:
    """Elementwise non-decreasing (or coordinate-wise monotone, like pooling) modules."""
    return m(lower), m(upper)


def _kinked(m: nn.Module, lower: torch.Tensor, upper: torch.Tensor) -> Interval:
    """Piecewise-monotone elementwise functions with a single kink at 0 (PReLU, LeakyReLU).

    A negative slope makes them non-monotone; the range over ``[l, u]`` is then attained at
    ``l``, ``u`` or the kink, so taking min/max over the three values is exact.
    """
    kink = torch.minimum(torch.maximum(torch.zeros_like(lower), lower), upper)
    values = torch.stack([m(lower), m(upper), m(kink)])
    return values.amin(dim=0), values.amax(dim=0)


def _identity(m: nn.Module, lower: torch.Tensor, upper: torch.Tensor) -> Interval:
    return lower, upper


def _reshape(m: nn.Module, lower: torch.Tensor, upper: torch.Tensor) -> Interval:
    return m(lower), m(upper)


def _batchnorm(m: nn.modules.batchnorm._BatchNorm, box: _Box) -> _Box:
    scale, shift = _bn_affine(m)
    c, r = box.center_radius()
    shape = (1, -1) + (1,) * (c.dim() - 2)  # per channel: dim 1
    scale, shift = scale.reshape(shape), shift.reshape(shape)
    return _Box(c=torch.addcmul(shift, c, scale), r=r * scale.abs())


def _elu(m: nn.ELU, lower: torch.Tensor, upper: torch.Tensor) -> Interval:
    if m.alpha < 0:  # non-monotone; not worth special-casing
        raise TypeError("ELU with negative alpha is not monotone; no interval handler")
    return m(lower), m(upper)


for _t in (nn.ReLU6, nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.MaxPool1d, nn.MaxPool2d,
           nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
           nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d):
    register_interval_handler(_t, _monotone)
register_interval_handler(nn.PReLU, _kinked)
register_interval_handler(nn.LeakyReLU, _kinked)
register_interval_handler(nn.ELU, _elu)
register_interval_handler(nn.Flatten, _reshape)
register_interval_handler(nn.Unflatten, _reshape)
register_interval_handler(nn.Identity, _identity)
register_interval_handler(nn.Dropout, _identity)
# Built-in affine layers work on the lazy box directly (see _Box).
_BOX_HANDLERS: dict[type[nn.Module], Callable[[nn.Module, _Box], _Box]] = {
    nn.Linear: _linear,
    nn.Conv1d: _conv,
    nn.Conv2d: _conv,
    nn.BatchNorm1d: _batchnorm,
    nn.BatchNorm2d: _batchnorm,
    nn.ReLU: _relu,
}


def _find(table: dict, module: nn.Module):
    for cls in type(module).__mro__:
        if cls in table:
            return table[cls]
    return None


def _is_plain_sequential(module: nn.Module) -> bool:
    """An ``nn.Sequential`` (or subclass) that keeps Sequential's forward."""
    return isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward


def _plain(module: nn.Module) -> bool:
    """Built-in handling applies: no interval_forward, no registered handler."""
    return not callable(getattr(module, "interval_forward", None)) and (
        _find(_HANDLERS, module) is None
    )


def _foldable(layer: nn.Module, bn: nn.Module) -> bool:
    return (
        type(layer) in (nn.Linear, nn.Conv1d, nn.Conv2d)
        and type(bn) in (nn.BatchNorm1d, nn.BatchNorm2d)
        and _plain(layer) and _plain(bn)
        and bn.running_mean is not None
        and bn.num_features == layer.weight.shape[0]
    )


def _propagate_box(module: nn.Module, box: _Box) -> _Box:
    custom = getattr(module, "interval_forward", None)
    if callable(custom):
        return _Box(*custom(*box.bounds()))
    if _is_plain_sequential(module):
        children = list(module)
        i = 0
        while i < len(children):
            child = children[i]
            nxt = children[i + 1] if i + 1 < len(children) else None
            if nxt is not None and _foldable(child, nxt):
                box = _folded(child, nxt, box)
                i += 2
            else:
                box = _propagate_box(child, box)
                i += 1
        return box
    # Registered handlers (user ones included) win over the built-in affine box handlers,
    # so registering a handler for e.g. a Linear subclass takes effect.
    handler = _find(_HANDLERS, module)
    if handler is not None:
        return _Box(*handler(module, *box.bounds()))
    box_handler = _find(_BOX_HANDLERS, module)
    if box_handler is not None:
        return box_handler(module, box)
    raise TypeError(
        f"no interval bound for module type {type(module).__name__!r}: give it an "
        "interval_forward(lower, upper) method or register_interval_handler(...)"
    )


def propagate(module: nn.Module, lower: torch.Tensor, upper: torch.Tensor) -> Interval:
    """Push the box ``[lower, upper]`` through ``module`` (no mode changes, no checks)."""
    return _propagate_box(module, _Box(lo=lower, hi=upper)).bounds()


# --------------------------------------------------------------------------- public API


def interval_bounds(
    model: nn.Module,
    lower: torch.Tensor,
    upper: torch.Tensor,
    features: torch.Tensor | None = None,
) -> Interval:
    """Interval bounds of ``model``'s output over the input box ``[lower, upper]``.

    Parameters
    ----------
    model:
        a supported module tree (see the module docstring); evaluated in eval mode, each
        module's mode restored afterwards.
    lower, upper:
        ``(N, ...)`` input bounds with ``lower <= upper``.
    features:
        optional ``(N, F)`` extra inputs held fixed; requires the model to implement
        ``interval_forward(lower, upper, features)``.

    Returns
    -------
    lower_out, upper_out:
        ``(N, ...)`` output bounds: ``lower_out <= model(x) <= upper_out`` for every ``x``
        with ``lower <= x <= upper`` (up to float rounding).
    """
    if lower.shape != upper.shape:
        raise ValueError(f"bounds differ in shape: {tuple(lower.shape)} vs {tuple(upper.shape)}")
    if bool((lower > upper).any()):
        raise ValueError("lower must be <= upper everywhere")
    with eval_mode(model), torch.no_grad():
        if features is not None:
            custom = getattr(model, "interval_forward", None)
            if not callable(custom):
                raise TypeError(
                    f"{type(model).__name__} takes features but has no "
                    "interval_forward(lower, upper, features) method"
                )
            return custom(lower, upper, features)
        return propagate(model, lower, upper)


def _input_box(
    x: torch.Tensor, eps: float, input_range: tuple[float, float] | None
) -> Interval:
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    lower, upper = x - eps, x + eps
    if input_range is not None:
        lower, upper = lower.clamp(min=input_range[0]), upper.clamp(max=input_range[1])
    return lower, upper


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
    for sl in batches(int(x.shape[0]), batch_size):
        lower, upper = _input_box(x[sl], eps, input_range)
        fb = None if features is None else features[sl]
        lo, hi = interval_bounds(model, lower, upper, features=fb)
        width = (hi - lo).reshape(lo.shape[0], -1).clamp_min(floor)
        out.append(width.log().sum(dim=1))
    return torch.cat(out)


def _split_last_linear(model: nn.Module) -> tuple[list[nn.Module], nn.Linear] | None:
    """``(prefix modules, final Linear)`` when the model is a Sequential ending in a Linear."""
    if not _is_plain_sequential(model) or len(model) == 0:
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
            box = _Box(lo=lower, hi=upper)
            for module in prefix:
                box = _propagate_box(module, box)
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
    eps:
        l_inf radius in input units.
    input_range:
        if given, the input box is intersected with it.
    features:
        optional ``(N, F)`` fixed extra inputs.
    batch_size:
        samples per bound computation.

    Returns
    -------
    float
        in ``[0, 1]``.
    """
    n = int(x.shape[0])
    if n == 0:
        raise ValueError("verified_accuracy needs at least one sample")
    verified = 0
    for sl in batches(n, batch_size):
        lower, upper = _input_box(x[sl], eps, input_range)
        fb = None if features is None else features[sl]
        margin = margin_lower_bounds(model, lower, upper, y[sl], features=fb)
        margin[torch.arange(margin.shape[0]), y[sl]] = math.inf
        verified += int((margin > 0).all(dim=1).sum())
    return verified / n
