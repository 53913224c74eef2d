"""``vit`` and ``hybrid``: a small Vision Transformer and its conv-stem hybrid.

The two transformer backbones of the robust fine-tuning benchmark (arXiv 2508.14079),
sized for 28x28 and 32x32 images on a CPU:

``vit``
    The image cut into ``patch_size`` x ``patch_size`` patches, each linearly embedded
    (a strided convolution) to ``dim`` channels; a learnt class token and learnt position
    embeddings; ``depth`` pre-norm transformer encoder blocks (``heads`` attention heads,
    an MLP of ``mlp_ratio * dim`` units with the family's ``activation``); a final
    LayerNorm; the class token's vector through the linear head.
``hybrid``
    The same encoder over the tokens of a convolutional stem: ``stem_channels`` 3x3
    conv-BatchNorm-activation blocks of stride 2 (28 -> 14 -> 7), then a 1x1 projection to
    ``dim``, one token per position of the stem's output (ViT-Hybrid, Dosovitskiy et al.
    2021, with a small stem in place of a ResNet).

Both end in one ``nn.Linear`` (``head``), the layer a linear probe trains. They have no
interval bounds (attention is not an elementwise-monotone layer), so the ``sensitivity``
and ``ibp`` training losses refuse them; adversarial training and TRADES work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from stalwart.checks import int_list, integer, number
from stalwart.models.base import StalwartModel, image_shape
from stalwart.models.layers import make_activation
from stalwart.models.spec import COMMON_DEFAULTS, ModelFamily, check_common

ENCODER_DEFAULTS: dict[str, Any] = {
    **COMMON_DEFAULTS,
    "activation": "gelu",
    "init": "xavier",   # Glorot for the attention and MLP weights, as ViT
    "dim": 64,          # token width
    "depth": 4,         # encoder blocks
    "heads": 4,         # attention heads (must divide dim)
    "mlp_ratio": 2.0,   # MLP hidden width / dim
}
VIT_DEFAULTS: dict[str, Any] = {**ENCODER_DEFAULTS, "patch_size": 7}
HYBRID_DEFAULTS: dict[str, Any] = {**ENCODER_DEFAULTS, "stem_channels": [32, 64]}


class TokenEmbedding(nn.Module):
    """A learnt class token prepended to the tokens, and learnt position embeddings added."""

    def __init__(self, n_tokens: int, dim: int) -> None:
        super().__init__()
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.position = nn.Parameter(torch.zeros(1, n_tokens + 1, dim))

    @torch.no_grad()
    def reset_with(self, generator: torch.Generator | None) -> None:
        """Truncated normal, std 0.02 (as ViT), drawn from ``generator``; called by
        :func:`stalwart.models.layers.initialize`."""
        for p in (self.cls, self.position):
            nn.init.trunc_normal_(p, std=0.02, a=-0.04, b=0.04, generator=generator)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        cls = self.cls.expand(tokens.shape[0], -1, -1)
        return torch.cat([cls, tokens], dim=1) + self.position


class _Transformer(StalwartModel):
    """Tokens (from ``self.tokenize``) -> class token, encoder, norm -> linear head."""

    def _build_encoder(self, settings: Mapping[str, Any], n_tokens: int, n_outputs: int,
                       n_features: int) -> None:
        dim = settings["dim"]
        self.embed = TokenEmbedding(n_tokens, dim)
        activation = make_activation(settings["activation"], 1)
        block = nn.TransformerEncoderLayer(
            d_model=dim, nhead=settings["heads"],
            dim_feedforward=max(1, round(settings["mlp_ratio"] * dim)),
            dropout=settings["dropout"], activation=activation, batch_first=True,
            norm_first=True)
        self.encoder = nn.TransformerEncoder(block, settings["depth"],
                                             enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim + n_features, n_outputs)

    def tokenize(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def core(self, x: torch.Tensor, features: torch.Tensor | None) -> torch.Tensor:
        h = self.norm(self.encoder(self.embed(self.tokenize(x))))[:, 0]
        return self.head(self.with_features(h, features))


class ViT(_Transformer):
    """Patch embedding -> transformer encoder -> head (see the module docstring)."""

    def __init__(self, settings: Mapping[str, Any], input_shape: tuple[int, ...],
                 n_outputs: int, n_features: int = 0) -> None:
        super().__init__(n_outputs, n_features)
        c, h, w = image_shape("vit", input_shape)
        p = settings["patch_size"]
        if h % p or w % p:
            raise ValueError(f"patch_size: {p} does not divide the {h}x{w} images")
        self.patches = nn.Conv2d(c, settings["dim"], p, stride=p)
        self._build_encoder(settings, (h // p) * (w // p), n_outputs, n_features)

    def tokenize(self, x: torch.Tensor) -> torch.Tensor:
        return self.patches(x).flatten(2).transpose(1, 2)


class Hybrid(_Transformer):
    """Conv stem -> 1x1 projection -> transformer encoder -> head."""

    def __init__(self, settings: Mapping[str, Any], input_shape: tuple[int, ...],
                 n_outputs: int, n_features: int = 0) -> None:
        super().__init__(n_outputs, n_features)
        blocks: list[nn.Module] = []
        channels = image_shape("hybrid", input_shape)[0]
        for out in settings["stem_channels"]:
            blocks += [nn.Conv2d(channels, out, 3, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(out), make_activation(settings["activation"], out)]
            channels = out
        self.stem = nn.Sequential(*blocks)
        self.project = nn.Conv2d(channels, settings["dim"], 1)
        with torch.no_grad():
            n_tokens = self.stem(torch.zeros(2, *input_shape))[0, 0].numel()
        self._build_encoder(settings, n_tokens, n_outputs, n_features)

    def tokenize(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.stem(x)).flatten(2).transpose(1, 2)


def _check_encoder(s: Mapping[str, Any]) -> list[str]:
    problems = check_common(s)
    problems += integer("dim", s["dim"], low=1)
    problems += integer("depth", s["depth"], low=1, high=24)
    problems += integer("heads", s["heads"], low=1)
    problems += number("mlp_ratio", s["mlp_ratio"], low=0.0, low_open=True)
    if not problems and s["dim"] % s["heads"]:
        problems.append(f"heads: {s['heads']} heads do not divide dim {s['dim']}")
    return problems


def check_vit(s: Mapping[str, Any]) -> list[str]:
    """``"key: message"`` problems with a ``vit`` settings mapping."""
    return _check_encoder(s) + integer("patch_size", s["patch_size"], low=1)


def check_hybrid(s: Mapping[str, Any]) -> list[str]:
    """``"key: message"`` problems with a ``hybrid`` settings mapping."""
    return _check_encoder(s) + int_list("stem_channels", s["stem_channels"], min_len=1,
                                        max_len=4, low=1)


VIT = ModelFamily(
    name="vit",
    defaults=VIT_DEFAULTS,
    check=check_vit,
    build=ViT,
    description="a small Vision Transformer: patch embedding, class token, pre-norm encoder",
)
HYBRID = ModelFamily(
    name="hybrid",
    defaults=HYBRID_DEFAULTS,
    check=check_hybrid,
    build=Hybrid,
    description="conv stem (stride-2 blocks) then the small ViT's encoder over its positions",
)
