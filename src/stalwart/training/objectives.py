"""What an instance minimises and how its quality is measured, per dataset.

* classification: cross-entropy; metric ``accuracy`` (fraction correct).
* calorimeter energy (``dataset.metric == "rmse_rel"``): the mean squared *relative*
  error ``((pred - E) / E)**2``, whose square root is the paper's quality measure
  RMSE(E)/E (unitless); metric ``rmse_rel``.
* other regression: MSE in standardised units ``((pred - y) / sigma)**2`` (sigma: the
  pool's per-output std, so the loss is O(1) whatever the target's units); metric
  ``rmse`` in target units (and ``mae`` if the dataset's metric is ``mae``).

Regression models predict in scaled units, through the model's fixed output affine map
(:func:`output_affine`; computed from the whole pool, not the subsample, so every instance
of every config sees the same scale):

* relative losses (the energy task): ``pred = mean(E) * z``, a pure scale. Energy is close
  to proportional to the deposits, and a ReLU network passes through (near) zero, so
  ``z ~ E / mean(E)`` is easy to represent at 1 GeV as at 100 GeV. A shifted map
  ``mu + sigma * z`` would instead need ``z`` accurate to 1e-3 near ``-mu/sigma`` to get
  low energies right, which is what a relative loss weights most.
* other losses: ``pred = mu + sigma * z`` (the pool's per-output mean and std), so the
  loss is O(1) whatever the target's units.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from stalwart.data.base import Dataset

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Objective:
    """A task's loss and the quality metric reported beside it.

    The trainer minimises it batch by batch through a
    :class:`~stalwart.training.losses.TrainingLoss` (the plain loss by default, or a robust
    loss built on it) and measures validation and test sets with :meth:`measure`.

    Attributes
    ----------
    name:
        The loss: ``cross_entropy``, ``relative_mse``, ``mse`` or ``mae``.
    metric:
        Name of the quality metric (``accuracy``, ``rmse_rel``, ``rmse``, ``mae``).
    loss:
        ``loss(pred, y) -> scalar``: mean over the batch.
    sigma:
        Per-output target scale ``(n_outputs,)`` the ``mse``/``mae`` losses divide by.
    """

    name: str
    metric: str
    loss: LossFn
    sigma: torch.Tensor | None = None

    def measure(self, pred: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """``{"loss": ..., metric: ...}`` over a whole evaluation set.

        Parameters
        ----------
        pred:
            Model outputs, shape ``(N, n_outputs)``.
        y:
            Targets: class indices ``(N,)`` or values ``(N, n_outputs)``.
        """
        out = {"loss": float(self.loss(pred, y))}
        if self.metric == "accuracy":
            out["accuracy"] = float((pred.argmax(1) == y).float().mean())
        elif self.metric == "rmse_rel":
            out["rmse_rel"] = math.sqrt(float(((pred - y) / y).pow(2).mean()))
        elif self.metric == "rmse":
            out["rmse"] = math.sqrt(float((pred - y).pow(2).mean()))
        elif self.metric == "mae":
            out["mae"] = float((pred - y).abs().mean())
        return out


def output_affine(y_pool: torch.Tensor, loss: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(shift, scale)``, each of shape ``(n_outputs,)``, mapping raw outputs to targets.

    Parameters
    ----------
    y_pool:
        Regression targets of the whole pool, shape ``(N, n_outputs)``.
    loss:
        The objective's resolved name (``relative_mse``, ``mse`` or ``mae``).
    """
    if loss == "relative_mse":
        return torch.zeros(y_pool.shape[1]), y_pool.abs().mean(0)
    std = y_pool.std(0) if y_pool.shape[0] > 1 else torch.ones(y_pool.shape[1])
    return y_pool.mean(0), std


def objective_for(dataset: Dataset, loss: str = "auto",
                  sigma: torch.Tensor | None = None) -> Objective:
    """The objective for a dataset.

    Parameters
    ----------
    dataset:
        Its ``kind`` and ``metric`` choose the defaults.
    loss:
        ``auto`` or an explicit loss name (see :data:`stalwart.training.settings.LOSSES`).
    sigma:
        Per-output target scale, shape ``(n_outputs,)``, on the targets' device, for the
        standardised ``mse``/``mae`` (1 when None).
    """
    metric = dataset.metric
    if dataset.kind == "classification":
        if loss not in ("auto", "cross_entropy"):
            raise ValueError(f"loss: {loss!r} does not fit a classification dataset")
        return Objective("cross_entropy", "accuracy", F.cross_entropy)
    if loss == "cross_entropy":
        raise ValueError("loss: 'cross_entropy' does not fit a regression dataset")
    if loss == "auto":
        loss = "relative_mse" if metric == "rmse_rel" else "mse"
    if metric not in ("rmse_rel", "rmse", "mae"):
        metric = "rmse"
    s: torch.Tensor | float = 1.0 if sigma is None else sigma

    if loss == "relative_mse":
        def fn(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return ((pred - y) / y).pow(2).mean()
    elif loss == "mse":
        def fn(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return ((pred - y) / s).pow(2).mean()
    else:  # mae
        def fn(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return ((pred - y) / s).abs().mean()
    return Objective(loss, metric, fn, sigma)
