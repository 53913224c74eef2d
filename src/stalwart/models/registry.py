"""The registry of model families and the one entry point that builds a model from a config.

A config is a flat mapping holding architecture *and* training keys; ``config["model"]``
names the family. The family reads its own keys, the training keys
(:data:`~stalwart.models.config_keys.TRAINING_KEYS`) are ignored here, and any other key is
an error reported by :func:`check_model_config`. Keys starting with ``_`` are free annotations
(e.g. ``_note``) and are ignored everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from stalwart.models import mlp, resnet, small_cnn, vit
from stalwart.models.base import StalwartModel
from stalwart.models.config_keys import TRAINING_KEYS
from stalwart.models.layers import initialize
from stalwart.models.spec import ModelFamily

MODEL_FAMILIES: dict[str, ModelFamily] = {
    f.name: f for f in (small_cnn.FAMILY, mlp.FAMILY, resnet.FAMILY, vit.VIT, vit.HYBRID)
}


def register_family(family: ModelFamily) -> None:
    """Add (or replace) a model family, e.g. from a plug-in."""
    MODEL_FAMILIES[family.name] = family


def check_model_config(config: Mapping[str, Any]) -> list[str]:
    """Problems with the architecture part of a config, as ``"key: message"`` strings.

    Parameters
    ----------
    config:
        Flat mapping with ``model`` naming a family of :data:`MODEL_FAMILIES`.

    Returns
    -------
    list[str]
        Empty when the config is valid: a known family, no unknown keys (training keys
        and ``_``-prefixed annotations are allowed), and valid values.
    """
    name = config.get("model")
    if name is None:
        return ["model: missing (one of: " + ", ".join(sorted(MODEL_FAMILIES)) + ")"]
    family = MODEL_FAMILIES.get(name) if isinstance(name, str) else None
    if family is None:
        return [f"model: unknown family {name!r} (known: {', '.join(sorted(MODEL_FAMILIES))})"]
    allowed = set(family.defaults) | TRAINING_KEYS | {"model"}
    problems = [
        f"{k}: unknown key for model {name!r}"
        for k in config
        if k not in allowed and not str(k).startswith("_")
    ]
    return problems + family.check(family.settings(config))


def build_model(config: Mapping[str, Any], input_shape: tuple[int, ...], n_outputs: int,
                n_features: int = 0, *, generator: torch.Generator | None = None
                ) -> StalwartModel:
    """Build (and initialise) the model a config describes.

    Parameters
    ----------
    config:
        Flat config; ``config["model"]`` names the family, the family's keys default as
        documented in its module.
    input_shape:
        Shape of one input, e.g. ``(1, 15, 15)`` or ``(D,)``.
    n_outputs:
        Number of classes (logits) or regression outputs.
    n_features:
        Number of extra scalar inputs passed as ``forward(x, features)``; 0 means
        ``len(config["extra_inputs"])``. A non-zero value must agree with it.
    generator:
        Seeded ``torch.Generator`` that draws the initial weights (the global RNG is then
        left untouched); None draws from torch's global RNG, so ``torch.manual_seed``
        determines them.

    Returns
    -------
    StalwartModel
        ``forward(x, features=None) -> (N, n_outputs)``.

    Raises
    ------
    ValueError
        If the config is invalid (the message joins the ``"key: message"`` problems).
    """
    problems = check_model_config(config)
    if problems:
        raise ValueError("; ".join(problems))
    family = MODEL_FAMILIES[config["model"]]
    settings = family.settings(config)
    n_named = len(settings["extra_inputs"])
    if n_features and n_named and n_features != n_named:
        raise ValueError(
            f"extra_inputs: names {n_named} features but n_features={n_features}"
        )
    n_features = n_features or n_named
    shape = tuple(int(d) for d in input_shape)
    if generator is None:
        model = family.build(settings, shape, int(n_outputs), n_features)
        initialize(model, settings["init"], None)
        return model
    # Module constructors draw their default init from the global RNG; fork it so that
    # building with an explicit generator leaves global state exactly as it was.
    with torch.random.fork_rng(devices=[]):
        model = family.build(settings, shape, int(n_outputs), n_features)
    initialize(model, settings["init"], generator)
    return model


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters; buffers such as normalisation stats excluded."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
