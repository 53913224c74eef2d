"""Batched inference in eval mode without gradients."""

from __future__ import annotations

import torch
from torch import nn

#: Rows per inference batch: large, as nothing is stored for backward.
EVAL_BATCH_SIZE = 2048


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, features: torch.Tensor | None = None,
            batch_size: int = EVAL_BATCH_SIZE) -> torch.Tensor:
    """Model outputs for a whole set.

    The model is put in eval mode for the call and its previous mode restored.

    Parameters
    ----------
    model:
        ``forward(x, features=None) -> (N, n_outputs)``.
    x:
        Inputs, shape ``(N, ...)``, on the model's device.
    features:
        Extra inputs ``(N, F)`` or None.
    batch_size:
        Rows per forward pass.

    Returns
    -------
    torch.Tensor
        Shape ``(N, n_outputs)``.
    """
    was_training = model.training
    model.eval()
    try:
        outs = [
            model(x[i:i + batch_size],
                  None if features is None else features[i:i + batch_size])
            for i in range(0, x.shape[0], batch_size)
        ]
    finally:
        model.train(was_training)
    return torch.cat(outs) if outs else torch.empty(0)
