"""Running a model in a mode for a while hands it back exactly as it was."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from stalwart.models.modes import eval_mode, in_mode

torch.set_num_threads(1)


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5), nn.Linear(4, 2))


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_flags_and_buffers_restored(mode: str) -> None:
    model = _model().train()
    model[2].eval()  # a mixed state survives
    flags = [m.training for m in model.modules()]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with in_mode(model, mode):  # type: ignore[arg-type]
        assert all(m.training == (mode == "train") for m in model.modules())
        model(torch.randn(8, 3))  # in train mode this moves BatchNorm's running statistics
    assert [m.training for m in model.modules()] == flags
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_restored_after_an_exception_and_eval_mode_is_in_mode_eval() -> None:
    model = _model().train()
    with pytest.raises(RuntimeError, match="boom"), eval_mode(model):
        assert not model.training
        raise RuntimeError("boom")
    assert model.training and model[1].training
    with pytest.raises(ValueError, match="mode: unknown mode 'test'"):
        with in_mode(model, "test"):  # type: ignore[arg-type]
            pass
