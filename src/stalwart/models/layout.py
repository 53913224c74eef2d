"""Memory layouts: which one a model runs fastest in, and laying out its weights in it.

Shared by the trainer (:mod:`stalwart.training`) and the robustness evaluators (attacks,
interval bounds): only where tensors sit in memory changes, never a value, so results
differ by float rounding in the model's own arithmetic only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def _device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


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
    if _device(model).type == "cpu" and any(isinstance(m, _CONV2D)
                                                 for m in model.modules()):
        return torch.channels_last
    return torch.contiguous_format


def lay_out_weights(model: nn.Module,
                    memory_format: torch.memory_format) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Hold the 4-D weights of ``model``'s 2-D convolutions in ``memory_format`` from now on.

    Returns the ``(parameter, previous data)`` pairs changed, so a caller can put them back
    (:func:`weights_laid_out`). Only the layout changes, never a value. Needed because a
    single-channel input laid out channels_last is also contiguous, and PyTorch then picks
    the contiguous kernels unless the weights say otherwise. Nothing is done for the
    contiguous format, nor for a ``torch.compile``-d module (its guards watch strides).
    """
    saved: list[tuple[torch.Tensor, torch.Tensor]] = []
    if memory_format == torch.contiguous_format or hasattr(model, "_orig_mod"):
        return saved
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
    return saved


@contextmanager
def weights_laid_out(model: nn.Module, memory_format: torch.memory_format) -> Iterator[None]:
    """For a while, hold the 4-D weights of ``model``'s 2-D convolutions in ``memory_format``
    (:func:`lay_out_weights`); each parameter gets its own tensor back on exit (so optimiser
    state and anything else holding it are untouched)."""
    saved: list[tuple[torch.Tensor, torch.Tensor]] = []
    try:
        saved = lay_out_weights(model, memory_format)
        yield
    finally:
        for w, data in saved:
            w.data = data
