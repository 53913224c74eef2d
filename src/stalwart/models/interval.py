"""Interval bound propagation (IBP): the bounds of a model's output over an input box.

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

This is model code (each layer type's bound is a property of the layer), so it lives with
the models, which use it for their ``interval_forward``; the metrics built on it
(:func:`~stalwart.robustness.bounds.log_sensitivity`, verified accuracy) live in
:mod:`stalwart.robustness.bounds`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from stalwart.models.modes import eval_mode

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


def head_box(lower: torch.Tensor, upper: torch.Tensor, features: torch.Tensor | None,
             head: Sequence[nn.Module]) -> tuple[Box, nn.Linear]:
    """The box before a dense head's final linear layer, and that layer.

    ``[lower, upper]`` is the head's input before flattening (the output of a feature
    extractor, or the model's input for an MLP); ``features`` (fixed, normalised) are
    appended after flattening, as the families' ``core`` does; the head's layers but its
    last are propagated. What :meth:`~stalwart.models.StalwartModel.interval_body` returns.
    """
    lo, hi = lower.flatten(1), upper.flatten(1)
    if features is not None:
        lo, hi = append_fixed_features(lo, hi, features)
    *body, last = head
    return propagate_chain(body, Box(lo=lo, hi=hi)), last


# --------------------------------------------------------------------------- handlers


class Box:
    """An interval held as (lower, upper) and/or (center, radius), converted lazily.

    Affine layers want center/radius, monotone layers want the two ends; converting only
    when the next layer needs the other form saves most elementwise passes (IBP cost is
    dominated by them after the 2x of the affine layers themselves).

    Parameters
    ----------
    lo, hi:
        the two ends, each ``(N, ...)``; or
    c, r:
        the center and the (non-negative) radius, each ``(N, ...)``.
    """

    __slots__ = ("_lo", "_hi", "_c", "_r")

    def __init__(self, lo: torch.Tensor | None = None, hi: torch.Tensor | None = None,
                 c: torch.Tensor | None = None, r: torch.Tensor | None = None) -> None:
        self._lo, self._hi, self._c, self._r = lo, hi, c, r

    def bounds(self) -> Interval:
        """``(lower, upper)``, each ``(N, ...)``."""
        if self._lo is None:
            self._lo, self._hi = self._c - self._r, self._c + self._r
        return self._lo, self._hi

    def center_radius(self) -> Interval:
        """``(center, radius)``, each ``(N, ...)``."""
        if self._c is None:
            self._c = (self._lo + self._hi).mul_(0.5)
            self._r = self._hi - self._c
        return self._c, self._r


def _linear(m: nn.Linear, box: Box, weight=None, bias=None) -> Box:
    weight = m.weight if weight is None else weight
    bias = m.bias if bias is None else bias
    c, r = box.center_radius()
    return Box(c=F.linear(c, weight, bias), r=F.linear(r, weight.abs()))


def _conv(m: nn.Conv1d | nn.Conv2d, box: Box, weight=None, bias=None) -> Box:
    weight = m.weight if weight is None else weight
    bias = m.bias if bias is None else bias
    c, r = box.center_radius()
    # _conv_forward applies the module's padding mode (zeros/reflect/replicate/circular);
    # padding copies values, so padding the radius the same way stays sound.
    return Box(c=m._conv_forward(c, weight, bias), r=m._conv_forward(r, weight.abs(), None))


def _relu(m: nn.ReLU, box: Box) -> Box:
    fresh = box._lo is None  # bounds computed here are ours: clamp them in place
    lo, hi = box.bounds()
    if fresh:
        return Box(lo=lo.clamp_min_(0.0), hi=hi.clamp_min_(0.0))
    return Box(lo=F.relu(lo), hi=F.relu(hi))


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


def _folded(layer: nn.Module, bn: nn.Module, box: Box) -> Box:
    """Linear/Conv followed by BatchNorm as one affine layer: exact and saves two passes."""
    if isinstance(layer, nn.Linear) and box.center_radius()[0].dim() != 2:
        # Linear acts on the last dim, BatchNorm1d on dim 1: only the same axis for 2-D.
        return propagate_box(bn, propagate_box(layer, box))
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
    a, b, c = m(lower), m(upper), m(kink)
    # elementwise min/max (exact, like a stack's amin/amax) keep the inputs' memory format
    return torch.minimum(torch.minimum(a, b), c), torch.maximum(torch.maximum(a, b), c)


def _identity(m: nn.Module, lower: torch.Tensor, upper: torch.Tensor) -> Interval:
    return lower, upper


def _reshape(m: nn.Module, lower: torch.Tensor, upper: torch.Tensor) -> Interval:
    return m(lower), m(upper)


def _batchnorm(m: nn.modules.batchnorm._BatchNorm, box: Box) -> Box:
    scale, shift = _bn_affine(m)
    c, r = box.center_radius()
    shape = (1, -1) + (1,) * (c.dim() - 2)  # per channel: dim 1
    scale, shift = scale.reshape(shape), shift.reshape(shape)
    return Box(c=torch.addcmul(shift, c, scale), r=r * scale.abs())


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
# Built-in affine layers work on the lazy box directly (see Box).
_BOX_HANDLERS: dict[type[nn.Module], Callable[[nn.Module, Box], Box]] = {
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


def is_plain_sequential(module: nn.Module) -> bool:
    """An ``nn.Sequential`` (or subclass) that keeps Sequential's forward: its children
    are applied one after the other, so bounds may be pushed through them one by one."""
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


def propagate_box(module: nn.Module, box: Box) -> Box:
    """Push ``box`` through ``module`` (no mode changes, no checks); see :func:`propagate`."""
    custom = getattr(module, "interval_forward", None)
    if callable(custom):
        return Box(*custom(*box.bounds()))
    if is_plain_sequential(module):
        return propagate_chain(list(module), box)
    # Registered handlers (user ones included) win over the built-in affine box handlers,
    # so registering a handler for e.g. a Linear subclass takes effect.
    handler = _find(_HANDLERS, module)
    if handler is not None:
        return Box(*handler(module, *box.bounds()))
    box_handler = _find(_BOX_HANDLERS, module)
    if box_handler is not None:
        return box_handler(module, box)
    raise TypeError(
        f"no interval bound for module type {type(module).__name__!r}: give it an "
        "interval_forward(lower, upper) method or register_interval_handler(...)"
    )


def propagate_chain(modules: list[nn.Module], box: Box) -> Box:
    """Push ``box`` through ``modules`` applied one after the other, as a Sequential of them
    would be (a Linear/Conv followed by its BatchNorm is folded into one affine layer)."""
    i = 0
    while i < len(modules):
        child = modules[i]
        nxt = modules[i + 1] if i + 1 < len(modules) else None
        if nxt is not None and _foldable(child, nxt):
            box = _folded(child, nxt, box)
            i += 2
        else:
            box = propagate_box(child, box)
            i += 1
    return box


def propagate(module: nn.Module, lower: torch.Tensor, upper: torch.Tensor) -> Interval:
    """Push the box ``[lower, upper]`` through ``module`` (no mode changes, no checks)."""
    return propagate_box(module, Box(lo=lower, hi=upper)).bounds()


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


# --------------------------------------------------------------------------- last layer

#: What :func:`final_affine_split` returns: the box of the input to the model's final
#: affine layer, and that layer's ``weight`` ``(K, D)`` and ``bias`` ``(K,)`` (or None),
#: such that ``model(x) = weight @ h(x) + bias`` with ``h(x)`` inside the box.
AffineSplit = tuple[Box, torch.Tensor, "torch.Tensor | None"]


def _split_sequential(model: nn.Module) -> tuple[list[nn.Module], nn.Linear] | None:
    """``(prefix modules, final Linear)`` of a plain Sequential ending in a plain Linear
    (nested plain Sequentials included); None otherwise."""
    if not is_plain_sequential(model) or len(model) == 0:
        return None
    *prefix, last = list(model)
    if type(last) is nn.Linear and _plain(last):
        return prefix, last
    nested = _split_sequential(last)
    if nested is None:
        return None
    return prefix + nested[0], nested[1]


def final_affine_split(
    model: nn.Module,
    lower: torch.Tensor,
    upper: torch.Tensor,
    features: torch.Tensor | None = None,
) -> AffineSplit | None:
    """Bounds up to the model's final affine layer, and that layer, for last-layer elision.

    A bound on a linear function of the outputs (a classification margin
    ``logit_y - logit_j``) is much tighter when the final affine layer is folded into it
    than when it is taken from the output box (Gowal et al., 2018). This gives what the
    fold needs, for:

    - a model with an ``interval_split(lower, upper, features)`` method returning an
      :data:`AffineSplit` (every stalwart family with interval bounds has one, see
      :meth:`stalwart.models.base.StalwartModel.interval_split`; the output's affine map is
      folded into the returned weight and bias);
    - a plain ``nn.Sequential`` ending in ``nn.Linear`` (nested Sequentials included), when
      no ``features`` are given.

    Returns None for any other model (use :func:`interval_bounds`). No mode changes: call it
    in eval mode, under ``torch.no_grad()``.
    """
    custom = getattr(model, "interval_split", None)
    if callable(custom):
        return custom(lower, upper, features)
    if features is not None or callable(getattr(model, "interval_forward", None)):
        return None
    split = _split_sequential(model)
    if split is None:
        return None
    prefix, last = split
    box = propagate_chain(prefix, Box(lo=lower, hi=upper))
    return box, last.weight, last.bias
