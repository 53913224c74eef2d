"""``small_cnn``: the paper's family of small convolutional regressors / classifiers.

Up to two conv blocks (3x3 conv, optional bias, activation, optional max-pooling), a
flatten, optional extra scalar inputs appended (e.g. the calorimeter cluster's energy sum),
then up to four fully connected layers (up to three hidden plus the output layer). This
is the search space of Boldyrev, Shevelev, Ratnikov, "Approach to Finding a Robust Deep
Learning Model" (IEEE Access 2025, arXiv:2505.17254): at most two conv and four FC layers,
under 30k parameters.

The defaults reproduce the paper's selected energy model ("Model 1 (Energy)", 23,923
trainable parameters on 15x15 inputs): see :data:`PAPER_CONFIGS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from stalwart.checks import boolean, int_list, integer
from stalwart.models.base import StalwartModel, image_shape
from stalwart.models.interval import Box, head_box, propagate
from stalwart.models.layers import make_activation
from stalwart.models.spec import COMMON_DEFAULTS, ModelFamily, check_common

DEFAULTS: dict[str, Any] = {
    **COMMON_DEFAULTS,
    "conv_channels": [32, 64],   # output channels per conv block; 0-2 blocks
    "kernel_size": 3,            # conv kernel (square)
    "padding": 0,                # conv zero padding
    "conv_bias": False,          # the paper's conv layers have no bias (288 = 32*1*3*3)
    "pool_sizes": [2, 2],        # max-pool kernel per block; 0 or 1 = no pooling
    "pool_strides": [2, 1],      # max-pool stride per block; 0 = same as the kernel
    "fc_sizes": [9],             # hidden FC widths; the output layer comes on top (<= 4 FC)
}

#: Architectures read off the paper's model summaries (15x15 single-channel clusters).
#: The summaries list Conv2d 288 (1->32, 3x3, no bias), MaxPool to 6x6, Conv2d 18,432
#: (32->64, 3x3, no bias), MaxPool 4x4 -> 3x3 (kernel 2, stride 1), then the FC head.
PAPER_CONFIGS: dict[str, dict[str, Any]] = {
    # 288 + 18,432 + (576*9 + 9) + (9 + 1) = 23,923
    "energy_model_1": {"model": "small_cnn", "conv_channels": [32, 64], "conv_bias": False,
                       "pool_sizes": [2, 2], "pool_strides": [2, 1], "fc_sizes": [9],
                       "activation": "relu"},
    # the same with the cluster energy sum appended before the head: 577*9 + 9 = 5,202
    # -> 23,932
    "energy_model_2": {"model": "small_cnn", "conv_channels": [32, 64], "conv_bias": False,
                       "pool_sizes": [2, 2], "pool_strides": [2, 1], "fc_sizes": [9],
                       "activation": "relu", "extra_inputs": ["energy_sum"]},
    # per-channel PReLU, global 4x4 pooling: 288+32 + 18,432+64 + 4,160+64 + 585+9 + 10
    # = 23,644
    "position_model_3": {"model": "small_cnn", "conv_channels": [32, 64], "conv_bias": False,
                         "pool_sizes": [2, 4], "pool_strides": [2, 4], "fc_sizes": [64, 9],
                         "activation": "prelu"},
}


class SmallCNN(StalwartModel):
    """Conv blocks -> flatten (+ extra inputs) -> FC layers.

    Parameters
    ----------
    settings:
        The family's keys (see :data:`DEFAULTS`).
    input_shape:
        ``(C, H, W)`` of one input.
    n_outputs, n_features:
        See :class:`~stalwart.models.base.StalwartModel`.
    """

    def __init__(self, settings: Mapping[str, Any], input_shape: tuple[int, ...],
                 n_outputs: int, n_features: int = 0) -> None:
        super().__init__(n_outputs, n_features)
        image_shape("small_cnn", input_shape)
        act, k, pad = settings["activation"], settings["kernel_size"], settings["padding"]
        blocks: list[nn.Module] = []
        channels = input_shape[0]
        for i, out_ch in enumerate(settings["conv_channels"]):
            blocks.append(nn.Conv2d(channels, out_ch, k, padding=pad,
                                    bias=settings["conv_bias"]))
            blocks.append(make_activation(act, out_ch))
            pool = settings["pool_sizes"][i] if i < len(settings["pool_sizes"]) else 0
            if pool > 1:
                strides = settings["pool_strides"]
                stride = strides[i] if i < len(strides) and strides[i] > 0 else pool
                blocks.append(nn.MaxPool2d(pool, stride=stride))
            channels = out_ch
        self.features_net = nn.Sequential(*blocks)
        with torch.no_grad():
            try:
                flat = self.features_net(torch.zeros(1, *input_shape)).numel()
            except RuntimeError as exc:
                raise ValueError(
                    f"the conv/pool stack does not fit a {input_shape} input: {exc}"
                ) from None
        head: list[nn.Module] = []
        width = flat + n_features
        for hidden in settings["fc_sizes"]:
            head += [nn.Linear(width, hidden), make_activation(act, hidden)]
            if settings["dropout"] > 0:
                head.append(nn.Dropout(settings["dropout"]))
            width = hidden
        head.append(nn.Linear(width, n_outputs))
        self.head = nn.Sequential(*head)

    def core(self, x: torch.Tensor, features: torch.Tensor | None) -> torch.Tensor:
        return self.head(self.with_features(self.features_net(x).flatten(1), features))

    def interval_body(self, lower: torch.Tensor, upper: torch.Tensor,
                      features: torch.Tensor | None) -> tuple[Box, nn.Linear]:
        return head_box(*propagate(self.features_net, lower, upper), features, self.head)


def check(s: Mapping[str, Any]) -> list[str]:
    """``"key: message"`` problems with a ``small_cnn`` settings mapping."""
    problems = check_common(s)
    problems += int_list("conv_channels", s["conv_channels"], min_len=0, max_len=2, low=1)
    problems += int_list("fc_sizes", s["fc_sizes"], min_len=0, max_len=3, low=1)
    problems += int_list("pool_sizes", s["pool_sizes"], min_len=0, max_len=2, low=0)
    problems += int_list("pool_strides", s["pool_strides"], min_len=0, max_len=2, low=0)
    problems += integer("kernel_size", s["kernel_size"], low=1, high=7)
    problems += integer("padding", s["padding"], low=0)
    problems += boolean("conv_bias", s["conv_bias"])
    return problems


FAMILY = ModelFamily(
    name="small_cnn",
    defaults=DEFAULTS,
    check=check,
    build=SmallCNN,  # its constructor is the builder
    description="the paper's family: <= 2 conv blocks, <= 4 FC layers, optional extra inputs",
)
