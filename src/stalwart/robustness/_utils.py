"""Helpers shared by the robustness layer: feature-aware calls, batching, the model's device.

Running a model in eval (or train) mode and restoring it after is model code:
:mod:`stalwart.models.modes`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator

import torch
from torch import nn

from stalwart.checks import first, integer
from stalwart.models.layout import (  # noqa: F401  (re-exported for the robustness code)
    MEMORY_FORMATS,
    fast_memory_format,
    weights_laid_out,
)

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
