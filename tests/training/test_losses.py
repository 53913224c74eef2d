"""The training-loss seam: the default is the task loss, and the trainer uses it per batch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from stalwart.data.base import Dataset
from stalwart.training import TrainingLoss, initial_model, objective_for, train_instance
from stalwart.training import robust_losses as robust_losses_module


def test_default_batch_loss_is_the_objectives_loss(calo: Dataset, tiny_cnn: dict) -> None:
    cfg = dict(tiny_cnn, extra_inputs=["energy_sum"])
    model = initial_model(cfg, 0, calo)
    objective = objective_for(calo, "auto")
    x, y, f = calo.x_train[:16], calo.y_train[:16], calo.features_train[:16]
    loss = TrainingLoss(objective).batch_loss(model, x, y, features=f)
    assert loss.dim() == 0 and loss.requires_grad
    assert torch.equal(loss, objective.loss(model(x, f), y))


#: (batch size, model in train mode, features passed) of every _Recording.batch_loss call.
CALLS: list[tuple[int, bool, bool]] = []


class _Recording(TrainingLoss):
    """The plain task loss, noting each batch it is called with."""

    def batch_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                   features: torch.Tensor | None = None) -> torch.Tensor:
        CALLS.append((int(x.shape[0]), model.training, features is not None))
        return super().batch_loss(model, x, y, features=features)


def test_trainer_calls_batch_loss_for_every_batch(calo: Dataset, tiny_cnn: dict,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = dict(tiny_cnn, epochs=2, batch_size=32, extra_inputs=["energy_sum"])
    plain = train_instance(cfg, 0, calo, train_size=100)
    CALLS.clear()
    # the trainer builds the config's loss with make_training_loss: the plain TrainingLoss
    # for the default training_loss 'task'
    monkeypatch.setattr(robust_losses_module, "TrainingLoss", _Recording)
    recorded = train_instance(cfg, 0, calo, train_size=100)
    assert recorded.status == plain.status == "ok"
    assert [n for n, _, _ in CALLS] == [32, 32, 32, 4] * 2  # 100 samples, 2 epochs
    assert all(training and with_features for _, training, with_features in CALLS)
    # a subclass that returns the task loss trains exactly as the default does
    assert recorded.metrics == plain.metrics and recorded.train_loss == plain.train_loss
