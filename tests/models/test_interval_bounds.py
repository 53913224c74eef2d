"""Interval bounds of the models (the hook the robustness module's IBP metrics call)."""

from __future__ import annotations

import pytest
import torch

from stalwart.models import build_model

torch.set_num_threads(1)

CONFIGS = [
    {"model": "small_cnn", "conv_channels": [3, 4], "pool_sizes": [2, 0], "fc_sizes": [5],
     "extra_inputs": ["e"],
     "activation": "prelu", "conv_bias": True},
    {"model": "mlp", "hidden_sizes": [6, 4], "activation": "tanh"},
]


@pytest.mark.parametrize("cfg", CONFIGS)
def test_interval_forward_contains_every_output(cfg: dict) -> None:
    pytest.importorskip("stalwart.models.interval")
    torch.manual_seed(0)
    model = build_model(cfg, (1, 9, 9), n_outputs=2).eval()
    model.set_output_affine(torch.tensor([1.0, -2.0]), torch.tensor([3.0, 0.5]))
    feats = torch.randn(4, 3) if model.n_features else None
    centre = torch.rand(4, 1, 9, 9)
    lo, hi = model.interval_forward(centre - 0.05, centre + 0.05, feats)
    assert lo.shape == hi.shape == (4, 2)
    with torch.no_grad():
        for _ in range(20):
            x = centre + (torch.rand_like(centre) - 0.5) * 0.1
            out = model(x, feats)
            assert (out >= lo - 1e-5).all() and (out <= hi + 1e-5).all()


def test_resnet_has_no_interval_bounds() -> None:
    model = build_model({"model": "resnet18", "width": 2}, (1, 8, 8), n_outputs=2)
    with pytest.raises(TypeError, match="no interval bounds"):
        model.interval_forward(torch.zeros(1, 1, 8, 8), torch.ones(1, 1, 8, 8))
