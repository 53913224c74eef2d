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


def image_classification(name: str, task: str, x_all: torch.Tensor, y_all: torch.Tensor,
                         x_test: torch.Tensor, y_test: torch.Tensor, *, n_val: int,
                         classes: tuple[str, ...], source: str) -> Dataset:
    """A 10-class image set whose last ``n_val`` training images are the validation split
    and the rest the pool; pixels already scaled to ``[0, 1]`` (``pixel / 255``).

    Raises
    ------
    DataError
        When ``n_val`` leaves no pool.
    """
    from stalwart.errors import DataError

    n_pool = x_all.shape[0] - n_val
    if n_pool <= 0:
        raise DataError(f"{name}: n_val={n_val} leaves no pool out of {x_all.shape[0]} "
                        "training images")
    return Dataset(
        name=name,
        task=task,
        kind="classification",
        x_train=x_all[:n_pool],
        y_train=y_all[:n_pool],
        x_val=x_all[n_pool:],
        y_val=y_all[n_pool:],
        x_test=x_test,
        y_test=y_test,
        n_classes=10,
        input_range=(0.0, 1.0),
        metric="accuracy",
        normalisation="pixel / 255",
        extras={"classes": classes, "source": source},
    )
