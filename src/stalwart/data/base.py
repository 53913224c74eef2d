"""The in-memory dataset every loader returns and every trainer consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

TaskKind = Literal["classification", "regression"]


@dataclass
class Dataset:
    """Fixed train pool / validation / test split held as tensors.

    Each instance draws its training subsample (``train_size``) from the *pool*
    ``x_train``/``y_train``; validation and test sets are the same for every instance.

    Attributes
    ----------
    name, task:
        e.g. ``"calorimeter"``, ``"energy"``; ``task`` is ``"classification"`` for the
        image and tabular classification sets.
    kind:
        ``"classification"`` (``y`` int64 class indices, shape ``(N,)``) or
        ``"regression"`` (``y`` float32, shape ``(N, n_outputs)``).
    x_*:
        float32 inputs, shape ``(N, C, H, W)`` for images, ``(N, D)`` for tabular data,
        already normalised as ``normalisation`` says.
    features_*:
        optional extra scalar inputs per sample, shape ``(N, F)`` (for example the
        calorimeter's cluster energy sum and barycentre), named by ``feature_names``;
        models may append them before their head.
    input_range:
        the range of valid inputs after normalisation, ``(low, high)``: attacks and
        corruptions clip to it.
    metric:
        name of the task's quality metric, e.g. ``"accuracy"`` or ``"rmse_rel"``.
    """

    name: str
    task: str
    kind: TaskKind
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int | None = None
    n_outputs: int = 1
    features_train: torch.Tensor | None = None
    features_val: torch.Tensor | None = None
    features_test: torch.Tensor | None = None
    feature_names: tuple[str, ...] = ()
    input_range: tuple[float, float] = (0.0, 1.0)
    metric: str = "accuracy"
    normalisation: str = ""
    extras: dict[str, object] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def n_pool(self) -> int:
        return int(self.x_train.shape[0])
