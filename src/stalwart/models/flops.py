"""Analytic operation counts: multiply-accumulates of conv and linear layers.

Used by the throughput benchmark to turn "trainings per minute" into an achieved FLOP
rate. Counts only Conv2d and Linear (they dominate these models); activations, pooling and
normalisation are ignored.
"""

from __future__ import annotations

import torch
from torch import nn


def count_macs(model: nn.Module, input_shape: tuple[int, ...], n_features: int = 0) -> int:
    """Multiply-accumulates of one forward pass for one sample.

    Conv2d: ``H_out * W_out * C_out * (C_in / groups) * kh * kw``; Linear:
    ``in_features * out_features``. Shapes are taken from a forward pass of one zero
    sample (in eval mode; the model's mode is restored).

    Parameters
    ----------
    model:
        A model taking ``forward(x, features=None)``.
    input_shape:
        Shape of one input, e.g. ``(1, 15, 15)``.
    n_features:
        Number of extra scalar inputs the model expects.
    """
    total = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            per_out = (module.in_channels // module.groups) * kh * kw
            total += out[0].numel() * per_out
        elif isinstance(module, nn.Linear):
            total += out[0].numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, nn.Conv2d | nn.Linear)]
    was_training = model.training
    try:
        model.eval()
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        x = torch.zeros(1, *input_shape, device=device)
        feats = torch.zeros(1, n_features, device=device) if n_features else None
        with torch.no_grad():
            model(x, feats)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total


def training_flops(macs_per_sample: int, samples: int, epochs: int,
                   eval_samples_per_epoch: int = 0) -> int:
    """FLOPs of a training run: 2 FLOPs per MAC, forward+backward = 3x forward.

    Parameters
    ----------
    macs_per_sample:
        From :func:`count_macs`.
    samples:
        Training samples per epoch.
    epochs:
        Epochs run.
    eval_samples_per_epoch:
        Samples evaluated (forward only) per epoch, e.g. the validation set.
    """
    return 2 * macs_per_sample * epochs * (3 * samples + eval_samples_per_epoch)
