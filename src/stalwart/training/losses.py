"""What the trainer minimises on one batch: the seam robust training losses plug into.

For every training batch the trainer calls ``loss.batch_loss(model, x, y, features=f)``,
backpropagates the scalar it returns (plus the config's ``l2`` weight penalty, which stays
the trainer's) and steps the optimizer. :class:`TrainingLoss` itself is the plain task
loss: the dataset's :class:`~stalwart.training.objectives.Objective` on the model's
predictions. A robust loss (adversarial training, TRADES, a sensitivity penalty) is one
subclass overriding :meth:`TrainingLoss.batch_loss`; the objective it is built on still
defines the validation and test losses and the quality metric. The robust losses are in
:mod:`stalwart.training.robust_losses`.

Two optional hooks serve losses whose strength ramps and that report training curves: the
trainer calls :meth:`TrainingLoss.set_progress` before every batch (epochs done, as a
float) and :meth:`TrainingLoss.epoch_curves` after every epoch (means of what
:meth:`TrainingLoss.log` recorded over the epoch's batches).

>>> from stalwart.training.objectives import Objective
>>> import torch.nn.functional as F
>>> TrainingLoss(Objective("cross_entropy", "accuracy", F.cross_entropy))
TrainingLoss(objective='cross_entropy')
"""

from __future__ import annotations

import torch
from torch import nn

from stalwart.training.objectives import Objective


class TrainingLoss:
    """The loss of one training batch; by default the plain task loss of ``objective``.

    Parameters
    ----------
    objective:
        The task's loss and metric: :meth:`batch_loss` applies ``objective.loss`` to the
        predictions, and the trainer measures validation and test sets with
        ``objective.measure`` whatever the training loss.

    Notes
    -----
    Subclasses may draw randomness: dropout and anything else on torch's global RNG is
    seeded per instance by the trainer (so runs stay reproducible); a private
    ``torch.Generator`` (as attacks use) is another reproducible choice.
    """

    #: Short name for listings and error messages.
    name: str = "task"

    def __init__(self, objective: Objective) -> None:
        self.objective = objective
        #: epochs of training done before the current batch (0.0 at the first batch)
        self.progress = 0.0
        self._sums: dict[str, list] = {}

    def set_progress(self, epochs_done: float) -> None:
        """Called by the trainer before every batch: ``epoch - 1 + batch / n_batches``."""
        self.progress = float(epochs_done)

    def log(self, name: str, value: torch.Tensor | float, n: int) -> None:
        """Add ``value`` (a batch mean over ``n`` samples) to this epoch's curve ``name``."""
        total = self._sums.setdefault(name, [0.0, 0])
        # kept as a tensor until the epoch ends: no device sync per batch
        total[0] = total[0] + (value.detach() if isinstance(value, torch.Tensor) else value) * n
        total[1] += n

    def epoch_curves(self) -> dict[str, float]:
        """Sample-weighted means of the values logged since the last call; resets them."""
        out = {k: float(s) / max(n, 1) for k, (s, n) in self._sums.items()}
        self._sums = {}
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(objective={self.objective.name!r})"

    def batch_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                   features: torch.Tensor | None = None) -> torch.Tensor:
        """The scalar the optimizer steps on for one batch.

        Parameters
        ----------
        model:
            The model being trained, called as ``model(x, features)``; it returns
            ``(B, n_outputs)`` logits, or regression predictions in target units (its fixed
            output affine map applied). It arrives in train mode; a loss that needs another
            mode switches and restores it (e.g. :func:`stalwart.models.modes.in_mode`).
        x:
            Inputs of the batch, ``(B, *input_shape)`` float, on the model's device.
        y:
            Targets: class indices ``(B,)`` int64, or values ``(B, n_outputs)`` float in
            target units.
        features:
            The dataset's extra-feature table for the batch, ``(B, F)`` float (the model
            picks and normalises its columns), or None when the model takes none.

        Returns
        -------
        torch.Tensor
            A 0-dim tensor differentiable in the model's parameters: a mean over the batch
            (the trainer reports ``train_loss`` as the sample-weighted mean of these).
        """
        return self.objective.loss(model(x, features), y)
