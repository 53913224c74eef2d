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


def test_resnet_interval_forward_contains_every_output() -> None:
    torch.manual_seed(0)
    model = build_model({"model": "resnet18", "width": 2}, (1, 8, 8), n_outputs=3).eval()
    centre = torch.rand(3, 1, 8, 8)
    lo, hi = model.interval_forward(centre - 0.01, centre + 0.01)
    assert lo.shape == hi.shape == (3, 3) and torch.isfinite(lo).all()
    with torch.no_grad():
        for _ in range(20):
            out = model(centre + (torch.rand_like(centre) - 0.5) * 0.02)
            assert (out >= lo - 1e-4).all() and (out <= hi + 1e-4).all()


FAMILIES = [
    ({"model": "small_cnn", "conv_channels": [3, 4], "pool_sizes": [2, 0], "fc_sizes": [5],
      "extra_inputs": ["e"], "activation": "prelu", "conv_bias": True}, (1, 9, 9)),
    ({"model": "small_cnn", "conv_channels": [4], "pool_sizes": [2], "fc_sizes": []}, (1, 9, 9)),
    ({"model": "mlp", "hidden_sizes": [6, 4], "activation": "tanh", "batch_norm": True},
     (1, 9, 9)),
    ({"model": "resnet18", "width": 2}, (1, 8, 8)),
]


@pytest.mark.parametrize(("cfg", "shape"), FAMILIES)
def test_every_family_splits_off_its_final_layer(cfg: dict, shape: tuple) -> None:
    """The split (box before the final layer, output affine folded into it) reproduces the
    output bounds and the outputs themselves: ``forward(x) = weight @ h + bias``."""
    from stalwart.models.interval import final_affine_split

    torch.manual_seed(1)
    model = build_model(cfg, shape, n_outputs=4).eval()
    for m in model.modules():  # non-trivial running statistics
        if isinstance(m, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
    model.set_output_affine(torch.tensor([1.0, -2.0, 0.5, 0.0]),
                            torch.tensor([3.0, 0.5, 1.0, 2.0]))
    feats = torch.randn(5, 3) if model.n_features else None
    x = torch.rand(5, *shape)
    with torch.no_grad():
        box, weight, bias = final_affine_split(model, x, x, feats)  # a point box: h(x)
        h, _ = box.bounds()
        assert torch.allclose(h @ weight.T + bias, model(x, feats), atol=1e-5)
        lo, hi = model.interval_forward(x - 0.02, x + 0.02, feats)
        box, weight, bias = final_affine_split(model, x - 0.02, x + 0.02, feats)
        c, r = box.center_radius()
        assert torch.allclose(c @ weight.T + bias - r @ weight.abs().T, lo, atol=1e-4)
        assert torch.allclose(c @ weight.T + bias + r @ weight.abs().T, hi, atol=1e-4)
