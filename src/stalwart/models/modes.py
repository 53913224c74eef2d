"""Running a model for a while in eval or train mode, then leaving it exactly as it was.

Interval bounds, attacks and corruptions call a model that belongs to someone else (the
trainer, a study): they switch it to the mode they need and must hand it back unchanged.
Flags are restored per module rather than with ``model.train(was_training)``, which keeps
mixed states intact (for example a model whose BatchNorm layers were frozen on purpose).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch
from torch import nn

ModelMode = Literal["eval", "train"]
MODEL_MODES: tuple[str, ...] = ("eval", "train")


@contextmanager
def in_mode(model: nn.Module, mode: ModelMode) -> Iterator[nn.Module]:
    """Put ``model`` and every submodule in ``mode``; restore each module as found after.

    Parameters
    ----------
    model:
        Any module tree.
    mode:
        ``"eval"`` (dropout off, BatchNorm on its running statistics) or ``"train"``
        (dropout on, BatchNorm on the batch's statistics).

    Notes
    -----
    In ``"train"`` mode every forward pass of a BatchNorm layer updates its running
    statistics; the buffers are therefore saved on entry and copied back on exit, so the
    caller finds the state dict as it left it (only its own training steps move the
    statistics). Dropout draws from torch's global RNG, as in the trainer's own forward
    passes. Parameters and their ``.grad`` are never touched here in either mode.
    """
    if mode not in MODEL_MODES:
        raise ValueError(f"mode: unknown mode {mode!r} (choose from {', '.join(MODEL_MODES)})")
    flags = [(m, m.training) for m in model.modules()]
    # Buffers change only in train mode (running statistics), so only then are they saved.
    saved = ([(b, b.detach().clone()) for b in model.buffers()] if mode == "train" else [])
    model.train(mode == "train")
    try:
        yield model
    finally:
        for module, flag in flags:
            module.training = flag
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """:func:`in_mode` with ``"eval"``: every module in eval mode, each flag restored after."""
    with in_mode(model, "eval"):
        yield model
