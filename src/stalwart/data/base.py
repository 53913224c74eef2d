"""The in-memory dataset every loader returns and every trainer consumes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
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
                         classes: tuple[str, ...], source: str,
                         keep: Sequence[int] | None = None, pretext: str = "none") -> Dataset:
    """A 10-class image set whose last ``n_val`` training images are the validation split
    and the rest the pool; pixels already scaled to ``[0, 1]`` (``pixel / 255``).

    ``keep`` (class indices) keeps those classes only, relabelled ``0..len(keep)-1`` in the
    order given (Fashion-MNIST classes 0-4 as a source task, 5-9 as a target), before the
    validation split is taken. ``pretext="rotation"`` then turns the set into the
    self-supervised rotation task (:func:`rotation_pretext`).

    Raises
    ------
    DataError
        When ``n_val`` leaves no pool.
    """
    from stalwart.errors import DataError

    if keep is not None:
        x_all, y_all = _keep_classes(x_all, y_all, keep)
        x_test, y_test = _keep_classes(x_test, y_test, keep)
        classes = tuple(classes[c] for c in keep)
    n_pool = x_all.shape[0] - n_val
    if n_pool <= 0:
        raise DataError(f"{name}: n_val={n_val} leaves no pool out of {x_all.shape[0]} "
                        "training images")
    dataset = Dataset(
        name=name,
        task=task,
        kind="classification",
        x_train=x_all[:n_pool],
        y_train=y_all[:n_pool],
        x_val=x_all[n_pool:],
        y_val=y_all[n_pool:],
        x_test=x_test,
        y_test=y_test,
        n_classes=len(classes),
        input_range=(0.0, 1.0),
        metric="accuracy",
        normalisation="pixel / 255",
        extras={"classes": classes, "source": source,
                **({"kept_classes": tuple(int(c) for c in keep)} if keep is not None else {})},
    )
    return rotation_pretext(dataset) if pretext == "rotation" else dataset


def _keep_classes(x: torch.Tensor, y: torch.Tensor,
                  keep: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows of the kept classes, labels mapped to their position in ``keep``."""
    index = torch.full((int(y.max()) + 1 if y.numel() else 1,), -1, dtype=torch.long)
    for new, old in enumerate(keep):
        if old < index.numel():
            index[old] = new
    labels = index[y.long()]
    rows = labels >= 0
    return x[rows], labels[rows]


ROTATIONS: tuple[str, ...] = ("0", "90", "180", "270")
"""The classes of the rotation pretext task: degrees counter-clockwise."""


def rotation_pretext(dataset: Dataset) -> Dataset:
    """The self-supervised rotation task of an image set (Gidaris et al., ICLR 2018).

    Every image of every split appears four times, rotated by 0, 90, 180 and 270 degrees,
    labelled by its rotation (4 classes); the original labels are not used. A backbone
    pretrained on it has learnt features without labels.

    Raises
    ------
    DataError
        If the images are not square (a quarter turn would change their shape).
    """
    from stalwart.errors import DataError

    h, w = dataset.x_train.shape[-2:]
    if h != w:
        raise DataError(f"{dataset.name}: the rotation pretext needs square images, got {h}x{w}")

    def rotated(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xs = torch.cat([torch.rot90(x, k, dims=(-2, -1)) for k in range(4)])
        ys = torch.arange(4).repeat_interleave(x.shape[0])
        return xs.contiguous(), ys

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
        rotated(dataset.x_train), rotated(dataset.x_val), rotated(dataset.x_test))
    return replace(dataset, task=dataset.task, x_train=x_train, y_train=y_train, x_val=x_val,
                   y_val=y_val, x_test=x_test, y_test=y_test, n_classes=4,
                   extras={**dataset.extras, "classes": ROTATIONS, "pretext": "rotation"})
