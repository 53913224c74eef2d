"""Search space -> the list of configs a study may train.

Each block of the spec's ``search_space`` contributes the grid product of its
``product`` axes and its explicit ``configs``, each merged over ``fixed`` (and the spec's
``model``). The study trains the union, in spec order, without duplicates.

An axis whose values are mappings is a *bundle* axis: each value's keys are merged into
the config together, and the axis name is only a label. It ties keys that go together,
e.g. a backbone's architecture keys with its weights file::

    product:
      backbone:
        - {model: small_cnn, conv_channels: [16, 32], init_from: backbones/cnn.safetensors}
        - {model: vit, dim: 32, depth: 2, init_from: backbones/vit.safetensors}
      training_loss: [at, trades]
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from stalwart.core import Config
from stalwart.spec import SpaceBlock, StudySpec


@dataclass(frozen=True)
class Origin:
    """Where in the spec a config came from, so an error can name the key path."""

    block: int
    kind: str  # "product" or "configs"
    index: int  # position in the block's product or configs list


def _base(spec: StudySpec, block: SpaceBlock) -> dict[str, Any]:
    base: dict[str, Any] = {"model": spec.model} if spec.model else {}
    base.update(block.fixed)
    return base


def _block_configs(spec: StudySpec, block: SpaceBlock) -> Iterator[tuple[str, int, dict[str, Any]]]:
    base = _base(spec, block)
    keys = list(block.product)
    if keys:
        for i, combo in enumerate(itertools.product(*(block.product[k] for k in keys))):
            params = dict(base)
            for key, value in zip(keys, combo, strict=True):
                if isinstance(value, dict):
                    params.update(value)
                else:
                    params[key] = value
            yield "product", i, params
    elif not block.configs:
        yield "product", 0, dict(base)
    for j, explicit in enumerate(block.configs):
        yield "configs", j, {**base, **explicit}


def expand_with_origins(spec: StudySpec) -> list[tuple[Config, Origin]]:
    seen: set[str] = set()
    out: list[tuple[Config, Origin]] = []
    for b, block in enumerate(spec.blocks):
        for kind, index, params in _block_configs(spec, block):
            config = Config(params)
            if config.id not in seen:
                seen.add(config.id)
                out.append((config, Origin(b, kind, index)))
    return out


def expand(spec: StudySpec) -> list[Config]:
    """The study's configs, in spec order, duplicates removed."""
    return [c for c, _ in expand_with_origins(spec)]


def _axis_position(block: SpaceBlock, index: int, axis: str) -> int:
    """Which value of ``axis`` the block's product combination ``index`` takes."""
    position = 0
    for key in reversed(list(block.product)):  # itertools.product varies the last fastest
        index, position = divmod(index, len(block.product[key]))
        if key == axis:
            break
    return position


def key_path(spec: StudySpec, origin: Origin, key: str, failing_value: Any = None) -> str:
    """The spec path that set ``key`` for a config of ``origin``.

    For a grid axis the path names the offending value's index
    (``search_space.product.lr[2]``) when ``failing_value`` is given.
    """
    block = spec.blocks[origin.block]
    prefix = "search_space" + (f"[{origin.block}]" if isinstance(spec.search_space, list) else "")
    if origin.kind == "configs" and key in block.configs[origin.index]:
        return f"{prefix}.configs[{origin.index}].{key}"
    for axis, values in block.product.items():
        if origin.kind == "product" and isinstance(values[0], dict):
            i = _axis_position(block, origin.index, axis)
            if key in values[i]:
                return f"{prefix}.product.{axis}[{i}].{key}"
    if key in block.product:
        values = block.product[key]
        for i, v in enumerate(values):
            if Config({"v": v}) == Config({"v": failing_value}):
                return f"{prefix}.product.{key}[{i}]"
        return f"{prefix}.product.{key}"
    if key in block.fixed:
        return f"{prefix}.fixed.{key}"
    if key == "model" and spec.model is not None:
        return "model"
    return f"{prefix}.{key}"
