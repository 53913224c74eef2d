"""Which seed drives which source of randomness, for each variation mode.

An instance has four random streams: weight **init**, data **order** (batch shuffling),
**dropout** masks, and the training **subsample** drawn from the pool. The variation mode
says which of them change from instance to instance:

``"both"``
    all four derive from the instance seed
    ``instance_seed(study_seed, config_id, instance_index)``.
``"init"``
    init, order and dropout derive from the instance seed; the subsample is drawn from
    ``derive_seed("subsample", study_seed)``: the same for every config and instance.
``"sampling"``
    init, order and dropout derive from ``derive_seed("init", study_seed, config_id)``:
    fixed per config; the subsample derives from the instance seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from stalwart.core import derive_seed, instance_seed

Variation = Literal["both", "init", "sampling"]
VARIATIONS: tuple[str, ...] = ("both", "init", "sampling")


@dataclass(frozen=True)
class SeedPlan:
    """The 63-bit seeds of one instance's random streams (see the module docstring)."""

    instance: int
    init: int
    order: int
    dropout: int
    subsample: int


def seed_plan(config_id: str, instance_index: int, study_seed: int = 0,
              variation: Variation = "both") -> SeedPlan:
    """The seeds of one instance.

    Parameters
    ----------
    config_id:
        ``Config(config).id``.
    instance_index:
        0, 1, 2, ...
    study_seed:
        The study's seed.
    variation:
        ``"both"``, ``"init"`` or ``"sampling"``.
    """
    if variation not in VARIATIONS:
        raise ValueError(f"variation must be one of {VARIATIONS}, got {variation!r}")
    seed = instance_seed(study_seed, config_id, instance_index)
    if variation == "sampling":
        randomness = derive_seed("init", int(study_seed), str(config_id))
    else:
        randomness = seed
    if variation == "init":
        subsample = derive_seed("subsample", int(study_seed))
    else:
        subsample = derive_seed("subsample", seed)
    return SeedPlan(
        instance=seed,
        init=derive_seed("init", randomness),
        order=derive_seed("order", randomness),
        dropout=derive_seed("dropout", randomness),
        subsample=subsample,
    )


def generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    g = torch.Generator(device=torch.device(device))
    g.manual_seed(int(seed))
    return g


def subsample_indices(n_pool: int, train_size: int | None, seed: int) -> torch.Tensor:
    """Indices of the training subsample: ``train_size`` pool rows without replacement.

    Parameters
    ----------
    n_pool:
        Rows in the training pool.
    train_size:
        Rows to draw, ``1..n_pool``; None takes the whole pool.
    seed:
        The plan's ``subsample`` seed.

    Returns
    -------
    torch.Tensor
        int64, shape ``(train_size,)``, sorted ascending (the batch order is a separate
        stream, so sorting keeps the subsample a *set* and memory access local).
    """
    if train_size is None:
        return torch.arange(n_pool)
    if not 1 <= train_size <= n_pool:
        raise ValueError(f"train_size must be in 1..{n_pool} (the pool size), got {train_size}")
    perm = torch.randperm(n_pool, generator=generator(seed))
    return perm[:train_size].sort().values
