"""``mlp``: a fully connected network for tabular or (flattened) image inputs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from stalwart.checks import boolean, int_list
from stalwart.models.base import StalwartModel
from stalwart.models.interval import Box, head_box
from stalwart.models.layers import make_activation
from stalwart.models.spec import COMMON_DEFAULTS, ModelFamily, check_common

DEFAULTS: dict[str, Any] = {
    **COMMON_DEFAULTS,
    "hidden_sizes": [128],   # hidden widths, 0-8 layers
    "batch_norm": False,     # BatchNorm1d after each hidden linear layer (before activation)
}


class MLP(StalwartModel):
    """Flatten (+ extra inputs) -> [Linear, (BatchNorm), activation, (Dropout)]* -> Linear.

    Parameters
    ----------
    settings:
        The family's keys (see :data:`DEFAULTS`).
    input_shape:
        Shape of one input, ``(D,)`` or ``(C, H, W)``; flattened to ``prod(input_shape)``.
    n_outputs, n_features:
        See :class:`~stalwart.models.base.StalwartModel`.
    """

    def __init__(self, settings: Mapping[str, Any], input_shape: tuple[int, ...],
                 n_outputs: int, n_features: int = 0) -> None:
        super().__init__(n_outputs, n_features)
        width = math.prod(input_shape) + n_features
        layers: list[nn.Module] = []
        for hidden in settings["hidden_sizes"]:
            layers.append(nn.Linear(width, hidden))
            if settings["batch_norm"]:
                layers.append(nn.BatchNorm1d(hidden))
            layers.append(make_activation(settings["activation"], hidden))
            if settings["dropout"] > 0:
                layers.append(nn.Dropout(settings["dropout"]))
            width = hidden
        layers.append(nn.Linear(width, n_outputs))
        self.net = nn.Sequential(*layers)

    def core(self, x: torch.Tensor, features: torch.Tensor | None) -> torch.Tensor:
        return self.net(self.with_features(x.flatten(1), features))

    def interval_body(self, lower: torch.Tensor, upper: torch.Tensor,
                      features: torch.Tensor | None) -> tuple[Box, nn.Linear]:
        return head_box(lower, upper, features, self.net)


def check(s: Mapping[str, Any]) -> list[str]:
    """``"key: message"`` problems with an ``mlp`` settings mapping."""
    problems = check_common(s)
    problems += int_list("hidden_sizes", s["hidden_sizes"], min_len=0, max_len=8, low=1)
    problems += boolean("batch_norm", s["batch_norm"])
    return problems


FAMILY = ModelFamily(
    name="mlp",
    defaults=DEFAULTS,
    check=check,
    build=MLP,  # its constructor is the builder
    description="fully connected network on flattened inputs",
)
