"""Helpers shared by the robustness layer: feature-aware calls, batching, the model's device.

Running a model in eval (or train) mode and restoring it after is model code:
:mod:`stalwart.models.modes`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from stalwart.checks import first, integer

LogitsFn = Callable[[torch.Tensor], torch.Tensor]


def accepts_features(model: nn.Module) -> bool:
    """Whether ``model`` should be called as ``model(x, features=...)``.

    An explicit boolean attribute ``uses_features`` wins; otherwise the forward signature
    is inspected for a parameter named ``features``.
    """
    flag = getattr(model, "uses_features", None)
    if isinstance(flag, bool):
        return flag
    try:
        return "features" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):  # builtins / scripted modules without a signature
        return False


#: Memory formats an evaluator may be told to use (:func:`fast_memory_format`).
MEMORY_FORMATS: tuple[str, ...] = ("auto", "contiguous", "channels_last")

_CONV2D = (nn.Conv2d,)


def fast_memory_format(model: nn.Module, x: torch.Tensor,
                       choice: str = "auto") -> torch.memory_format:
    """The memory format in which ``model`` runs fastest on batches like ``x``.

    ``"auto"``: ``torch.channels_last`` for 4-D inputs of a model with a 2-D convolution on
    the CPU, ``torch.contiguous_format`` otherwise. Callers lay out the inputs with
    :func:`logits_fn` and the convolution weights with :func:`weights_laid_out`. Measured per family with
    ``benchmarks/attacks.py --memory-formats`` (PGD-10, eval forward and interval bounds,
    one thread, inputs and convolution weights channels_last): 1.22-1.37x for PGD-10,
    1.14-2.27x for a forward and 1.18-1.78x for interval bounds on every convolutional
    family measured (the paper's small CNNs, ResNet-18, a 3-channel CNN; see
    ``benchmarks/README.md``); an MLP flattens its input first: 0.95-1.02x, so it stays
    contiguous. On a
    GPU nothing was measured, so nothing changes there. ``"contiguous"`` and
    ``"channels_last"`` force a format (channels_last only for 4-D inputs).

    Only the layout of what the model sees changes, never the values, so results differ
    from the contiguous run by float rounding in the model's own arithmetic only.
    """
    if choice not in MEMORY_FORMATS:
        raise ValueError(f"memory_format: unknown {choice!r} (choose from "
                         f"{', '.join(MEMORY_FORMATS)})")
    if x.dim() != 4 or choice == "contiguous":
        return torch.contiguous_format
    if choice == "channels_last":
        return torch.channels_last
    if model_device(model).type == "cpu" and any(isinstance(m, _CONV2D)
                                                 for m in model.modules()):
        return torch.channels_last
    return torch.contiguous_format


@contextmanager
def weights_laid_out(model: nn.Module, memory_format: torch.memory_format) -> Iterator[None]:
    """For a while, hold the 4-D weights of ``model``'s 2-D convolutions in ``memory_format``.

    Only the layout changes, never a value, and each parameter gets its own tensor back on
    exit (so optimiser state and anything else holding it are untouched). Needed because a
    single-channel input laid out channels_last is also contiguous, and PyTorch then picks
    the contiguous kernels unless the weights say otherwise. Nothing is done for the
    contiguous format, nor for a ``torch.compile``-d module (its guards watch strides).
    """
    if memory_format == torch.contiguous_format or hasattr(model, "_orig_mod"):
        yield
        return
    saved: list[tuple[torch.Tensor, torch.Tensor]] = []
    try:
        for module in model.modules():
            w = getattr(module, "weight", None)
            if isinstance(module, _CONV2D) and isinstance(w, torch.Tensor) and w.dim() == 4:
                # empty_like + copy, not .contiguous(): a weight with one input channel is
                # already "contiguous" in both formats, but only the strides empty_like
                # gives make the convolution pick its channels_last kernel (PGD-10 on the
                # energy model, measured: 1.16-1.25x the contiguous speed instead of 0.83x).
                laid = torch.empty_like(w.data, memory_format=memory_format)
                if laid.stride() == w.data.stride():
                    continue
                saved.append((w, w.data))
                w.data = laid.copy_(w.data)
        yield
    finally:
        for w, data in saved:
            w.data = data


def logits_fn(model: nn.Module, features: torch.Tensor | None = None,
              memory_format: torch.memory_format = torch.contiguous_format) -> LogitsFn:
    """A one-argument callable ``x -> model output`` with ``features`` held fixed.

    Attacks and corruptions only perturb the image input; extra scalar features (e.g. a
    calorimeter's energy sum) are passed through unchanged when the model takes them.
    With ``memory_format`` other than contiguous, each input is laid out in that format
    before the model sees it (a copy autograd passes gradients back through, in the
    caller's layout); the caller's own tensors keep theirs.
    """
    call = model
    if features is not None and accepts_features(model):
        def call(x: torch.Tensor) -> torch.Tensor:
            return model(x, features=features)
    if memory_format == torch.contiguous_format:
        return call
    return lambda x: call(x.contiguous(memory_format=memory_format))


def batches(n: int, batch_size: int) -> Iterator[slice]:
    """Consecutive slices covering ``range(n)`` in chunks of ``batch_size``."""
    first(integer("batch_size", batch_size, low=1))
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU for parameterless models)."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")
