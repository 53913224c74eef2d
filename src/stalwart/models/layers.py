"""Building blocks shared by the families: activations and seeded weight initialisation."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

#: Activation names accepted by every family. ``prelu`` learns one slope per channel /
#: unit (as in the paper's position models, whose PReLU layers count one parameter per
#: channel).
ACTIVATIONS: tuple[str, ...] = (
    "relu", "prelu", "leaky_relu", "elu", "selu", "gelu", "silu", "tanh", "sigmoid", "softplus",
)

#: Weight-initialisation schemes. ``kaiming``: He normal (fan-in, ReLU gain) for conv and
#: linear weights, zero biases (the paper's choice); ``kaiming_uniform``: the same, uniform;
#: ``xavier``: Glorot uniform, zero biases; ``torch``: PyTorch's own default init.
INIT_SCHEMES: tuple[str, ...] = ("kaiming", "kaiming_uniform", "xavier", "torch")

_SIMPLE: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
}


def make_activation(name: str, channels: int) -> nn.Module:
    """A fresh activation module.

    Parameters
    ----------
    name:
        One of :data:`ACTIVATIONS`.
    channels:
        Channels (conv) or units (linear) it follows; only ``prelu`` uses it.
    """
    if name == "prelu":
        return nn.PReLU(num_parameters=channels)
    try:
        return _SIMPLE[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r} (known: {', '.join(ACTIVATIONS)})") from None


@torch.no_grad()
def initialize(model: nn.Module, scheme: str = "kaiming",
               generator: torch.Generator | None = None) -> None:
    """(Re-)initialise every conv, linear, norm, attention and PReLU layer of ``model`` in place,
    and every module with a ``reset_with(generator)`` method (a family's own parameters).

    All draws come from ``generator`` (torch's global RNG when None), in the fixed order of
    ``model.modules()``, so the same seed always gives the same weights.

    Parameters
    ----------
    model:
        The network.
    scheme:
        One of :data:`INIT_SCHEMES`.
    generator:
        Source of randomness; a seeded ``torch.Generator`` on the parameters' device.
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init {scheme!r} (known: {', '.join(INIT_SCHEMES)})")
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            w = module.weight
            if scheme == "kaiming":
                nn.init.kaiming_normal_(w, nonlinearity="relu", generator=generator)
            elif scheme == "kaiming_uniform":
                nn.init.kaiming_uniform_(w, nonlinearity="relu", generator=generator)
            elif scheme == "xavier":
                nn.init.xavier_uniform_(w, generator=generator)
            else:
                # PyTorch's reset_parameters(), with our generator.
                nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=generator)
            if module.bias is not None:
                if scheme == "torch":
                    fan_in = w[0].numel()
                    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                    module.bias.uniform_(-bound, bound, generator=generator)
                else:
                    module.bias.zero_()
        elif isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
            module.reset_parameters()  # deterministic: ones, zeros, running stats reset
        elif isinstance(module, nn.PReLU):
            module.weight.fill_(0.25)
        elif isinstance(module, nn.LayerNorm):
            module.reset_parameters()  # deterministic: ones, zeros
        elif isinstance(module, nn.MultiheadAttention):
            # its packed query/key/value projection is a bare parameter, not a Linear
            if module.in_proj_weight is not None:
                nn.init.xavier_uniform_(module.in_proj_weight, generator=generator)
            if module.in_proj_bias is not None:
                module.in_proj_bias.zero_()
        elif hasattr(module, "reset_with"):  # a family's own parameters (e.g. ViT's tokens)
            module.reset_with(generator)
