"""``resnet18``: the CIFAR-style ResNet-18 (3x3 stem, no stem pooling), any channel count.

BasicBlocks [2, 2, 2, 2] with widths ``width * (1, 2, 4, 8)`` and strides (1, 2, 2, 2),
global average pooling, optional extra inputs appended, then a linear head. With
``width=64`` on 3x32x32 inputs and 10 classes it has the usual 11.17M parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from stalwart.checks import integer
from stalwart.models.base import StalwartModel, image_shape
from stalwart.models.interval import Box, head_box, propagate, propagate_chain
from stalwart.models.layers import make_activation
from stalwart.models.spec import COMMON_DEFAULTS, ModelFamily, check_common

DEFAULTS: dict[str, Any] = {
    **COMMON_DEFAULTS,
    "width": 64,   # channels of the first stage; later stages double it
}


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 projection) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int, activation: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.act1 = make_activation(activation, c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.act2 = make_activation(activation, c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act1(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return self.act2(h + self.shortcut(x))

    def interval_forward(self, lower: torch.Tensor, upper: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        # The two branches' bounds are summed (sound; their shared dependence on x is
        # forgotten), then the activation; conv + BN pairs fold into one affine layer.
        box = propagate_chain([self.conv1, self.bn1, self.act1, self.conv2, self.bn2],
                              Box(lo=lower, hi=upper))
        lo, hi = box.bounds()
        s_lo, s_hi = propagate(self.shortcut, lower, upper)
        return propagate(self.act2, lo + s_lo, hi + s_hi)


class ResNet18(StalwartModel):
    """CIFAR-style ResNet-18.

    Parameters
    ----------
    settings:
        The family's keys (see :data:`DEFAULTS`).
    input_shape:
        ``(C, H, W)``; any C (1 for Fashion-MNIST or calorimeter clusters, 3 for CIFAR).
    n_outputs, n_features:
        See :class:`~stalwart.models.base.StalwartModel`.
    """

    def __init__(self, settings: Mapping[str, Any], input_shape: tuple[int, ...],
                 n_outputs: int, n_features: int = 0) -> None:
        super().__init__(n_outputs, n_features)
        image_shape("resnet18", input_shape)
        w, act = settings["width"], settings["activation"]
        self.stem = nn.Sequential(
            nn.Conv2d(input_shape[0], w, 3, padding=1, bias=False),
            nn.BatchNorm2d(w),
            make_activation(act, w),
        )
        stages: list[nn.Module] = []
        c_in = w
        for mult, stride in ((1, 1), (2, 2), (4, 2), (8, 2)):
            c_out = w * mult
            stages += [BasicBlock(c_in, c_out, stride, act), BasicBlock(c_out, c_out, 1, act)]
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(settings["dropout"]) if settings["dropout"] > 0 else None
        self.fc = nn.Linear(c_in + n_features, n_outputs)

    def core(self, x: torch.Tensor, features: torch.Tensor | None) -> torch.Tensor:
        h = self.with_features(self.pool(self.stages(self.stem(x))).flatten(1), features)
        if self.dropout is not None:
            h = self.dropout(h)
        return self.fc(h)

    def interval_body(self, lower: torch.Tensor, upper: torch.Tensor,
                      features: torch.Tensor | None) -> tuple[Box, nn.Linear]:
        box = propagate_chain([self.stem, self.stages, self.pool], Box(lo=lower, hi=upper))
        # dropout is the identity in eval mode, which the bounds describe
        return head_box(*box.bounds(), features, [self.fc])


def check(s: Mapping[str, Any]) -> list[str]:
    """``"key: message"`` problems with a ``resnet18`` settings mapping."""
    problems = check_common(s)
    return problems + integer("width", s["width"], low=1)


FAMILY = ModelFamily(
    name="resnet18",
    defaults=DEFAULTS,
    check=check,
    build=ResNet18,  # its constructor is the builder
    description="CIFAR-style ResNet-18 (BasicBlock [2,2,2,2], 3x3 stem), `width` channels",
)
