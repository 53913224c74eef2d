"""Interval bounds: soundness on random boxes, exactness for single affine layers, API."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from stalwart.models.interval import (
    Residual,
    append_fixed_features,
    interval_bounds,
    register_interval_handler,
)
from stalwart.robustness.attacks import PGD, robust_accuracy
from stalwart.robustness.bounds import log_sensitivity, margin_lower_bounds, verified_accuracy

torch.set_num_threads(1)
TOL = 1e-4


def _randomise_bn(model: nn.Module, gen: torch.Generator) -> None:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen))
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            with torch.no_grad():
                m.weight.copy_(torch.randn(n, generator=gen))  # negative scales included
                m.bias.copy_(torch.randn(n, generator=gen))


def _zoo(seed: int) -> nn.Module:
    """Every supported layer type in one model, input (N, 2, 8, 8)."""
    torch.manual_seed(seed)
    prelu = nn.PReLU(4, init=-0.3)  # negative slope: non-monotone
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, padding_mode="reflect"),
        nn.BatchNorm2d(4),
        prelu,
        Residual(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.Tanh()),
                 nn.Conv2d(4, 4, 1)),
        Residual(nn.Sequential(nn.LeakyReLU(-0.2), nn.Conv2d(4, 4, 3, padding=1))),
        nn.MaxPool2d(2),
        nn.ELU(),
        nn.AvgPool2d(2, padding=1),
        nn.Sigmoid(),
        nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten()),
        nn.Dropout(0.5),
        nn.Linear(16, 12),
        nn.BatchNorm1d(12),
        nn.ReLU(),
        nn.Linear(12, 5),
    )
    _randomise_bn(model, torch.Generator().manual_seed(seed))
    return model


@pytest.mark.parametrize("seed", range(8))
def test_random_points_never_leave_the_output_box(seed):
    model = _zoo(seed)
    gen = torch.Generator().manual_seed(100 + seed)
    center = torch.rand(4, 2, 8, 8, generator=gen)
    radius = 0.2 * torch.rand(4, 2, 8, 8, generator=gen)
    lower, upper = center - radius, center + radius
    lo, hi = interval_bounds(model, lower, upper)
    assert model.training  # restored
    model.eval()
    with torch.no_grad():
        for _ in range(5):
            u = torch.rand(64, 4, 2, 8, 8, generator=gen)
            u = torch.where(u < 0.15, 0.0, torch.where(u > 0.85, 1.0, u))  # corners too
            pts = lower + u * (upper - lower)
            out = model(pts.reshape(-1, 2, 8, 8)).reshape(64, 4, 5)
            assert (out >= lo - TOL).all() and (out <= hi + TOL).all()


def _corner_attaining(layer: nn.Module, lower, upper, index) -> torch.Tensor:
    x = ((lower + upper) / 2).requires_grad_(True)
    (grad,) = torch.autograd.grad(layer(x).flatten()[index], x)
    return torch.where(grad > 0, upper, lower)


@pytest.mark.parametrize(
    "layer, shape",
    [(nn.Linear(7, 4), (1, 7)), (nn.Conv2d(2, 3, 3, stride=2, padding=1), (1, 2, 6, 6))],
)
def test_single_affine_layer_box_is_exact(layer, shape):
    torch.manual_seed(0)
    layer.reset_parameters()
    gen = torch.Generator().manual_seed(1)
    lower = torch.randn(shape, generator=gen)
    upper = lower + torch.rand(shape, generator=gen)
    lo, hi = interval_bounds(layer, lower, upper)
    n_out = lo.numel()
    for index in range(0, n_out, max(1, n_out // 12)):
        top = _corner_attaining(layer, lower, upper, index)
        bottom = lower + upper - top  # the opposite corner
        with torch.no_grad():
            assert torch.isclose(layer(top).flatten()[index], hi.flatten()[index], atol=1e-5)
            assert torch.isclose(layer(bottom).flatten()[index], lo.flatten()[index], atol=1e-5)


def test_unsupported_module_names_its_type():
    with pytest.raises(TypeError, match="Softmax"):
        interval_bounds(nn.Sequential(nn.Linear(3, 3), nn.Softmax(dim=1)),
                        torch.zeros(1, 3), torch.ones(1, 3))
    bn = nn.BatchNorm1d(3, track_running_stats=False)
    with pytest.raises(TypeError, match="running statistics"):
        interval_bounds(bn, torch.zeros(2, 3), torch.ones(2, 3))
    with pytest.raises(ValueError):
        interval_bounds(nn.Linear(3, 3), torch.ones(1, 3), torch.zeros(1, 3))


def test_custom_interval_forward_and_registered_handler():
    class Double(nn.Module):
        def forward(self, x):
            return 2 * x

        def interval_forward(self, lower, upper):
            return 2 * lower, 2 * upper

    class Square(nn.Module):  # not monotone: needs a handler
        def forward(self, x):
            return x * x

    def square_bounds(m, lower, upper):
        sq = torch.stack([lower * lower, upper * upper])
        crosses = (lower < 0) & (upper > 0)
        return torch.where(crosses, 0.0, sq.amin(0)), sq.amax(0)

    register_interval_handler(Square, square_bounds)
    lo, hi = interval_bounds(nn.Sequential(Double(), Square()),
                             torch.tensor([[-1.0, 1.0]]), torch.tensor([[0.5, 2.0]]))
    assert torch.equal(lo, torch.tensor([[0.0, 4.0]]))
    assert torch.equal(hi, torch.tensor([[4.0, 16.0]]))


def test_fixed_features_model_is_sound():
    class WithFeatures(nn.Module):
        uses_features = True

        def __init__(self) -> None:
            super().__init__()
            self.trunk = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten())
            self.head = nn.Sequential(nn.Linear(3 * 4 * 4 + 2, 8), nn.ReLU(), nn.Linear(8, 1))

        def forward(self, x, features=None):
            return self.head(torch.cat([self.trunk(x), features], dim=1))

        def interval_forward(self, lower, upper, features=None):
            lo, hi = interval_bounds(self.trunk, lower, upper)
            lo, hi = append_fixed_features(lo, hi, features)
            return interval_bounds(self.head, lo, hi)

    torch.manual_seed(0)
    model = WithFeatures()
    x, f = torch.rand(6, 1, 6, 6), torch.randn(6, 2)
    lo, hi = interval_bounds(model, x - 0.05, x + 0.05, features=f)
    for _ in range(20):
        out = model(x + 0.1 * (torch.rand_like(x) - 0.5), features=f)
        assert (out >= lo - TOL).all() and (out <= hi + TOL).all()
    sens = log_sensitivity(model, x, 0.05, features=f)
    assert sens.shape == (6,) and torch.isfinite(sens).all()


def test_log_sensitivity_grows_with_eps(digits_model):
    model, x, _ = digits_model
    x = x[:50]
    values = [log_sensitivity(model.net, x, eps, input_range=(0.0, 1.0))
              for eps in (0.0, 0.01, 0.05, 0.1)]
    assert all(v.shape == (50,) and torch.isfinite(v).all() for v in values)
    for small, large in zip(values, values[1:], strict=False):
        assert (large >= small - 1e-4).all()
    assert (values[0] <= 10 * torch.log(torch.tensor(1e-5))).all()  # no width at eps=0


def test_verified_accuracy_bounds_robust_accuracy(digits_model):
    model, x, y = digits_model
    net = model.net
    net.eval()
    with torch.no_grad():
        clean = int((net(x).argmax(1) == y).sum()) / len(y)
    assert verified_accuracy(net, x, y, 0.0) == pytest.approx(clean)
    eps = 0.01
    verified = verified_accuracy(net, x, y, eps, input_range=(0.0, 1.0))
    attacked = robust_accuracy(net, PGD(eps, steps=10), x, y)
    assert verified <= attacked
    assert verified > 0.0
    model.train()


def test_elided_margin_is_tighter_than_box_difference(digits_model):
    model, x, y = digits_model
    x, y = x[:40], y[:40]
    lower, upper = (x - 0.01).clamp(0, 1), (x + 0.01).clamp(0, 1)
    elided = margin_lower_bounds(model.net, lower, upper, y)
    lo, hi = interval_bounds(model.net, lower, upper)
    box = lo[torch.arange(40), y].unsqueeze(1) - hi
    box[torch.arange(40), y] = 0.0
    assert (elided >= box - 1e-5).all()
    assert (elided > box + 1e-6).any()


# ---- last-layer elision for every family (issue 17) --------------------------------


def test_small_cnn_verified_accuracy_equals_plain_sequential_with_elision(digits_small_cnn):
    """A stalwart small CNN gets the elision: the same weights rebuilt as a plain
    nn.Sequential (which always had it) verify exactly as many points, and both verify far
    more than the box difference of the output bounds."""
    model, x, y = digits_small_cnn
    seq = nn.Sequential(*model.features_net, nn.Flatten(), *model.head).eval()
    eps = 0.01
    ours = verified_accuracy(model, x, y, eps, input_range=(0.0, 1.0))
    plain = verified_accuracy(seq, x, y, eps, input_range=(0.0, 1.0))
    assert ours == plain
    lower, upper = (x - eps).clamp(0, 1), (x + eps).clamp(0, 1)
    assert torch.allclose(margin_lower_bounds(model, lower, upper, y),
                          margin_lower_bounds(seq, lower, upper, y), atol=1e-5)
    lo, hi = interval_bounds(model, lower, upper)
    rows = torch.arange(len(y))
    box = lo[rows, y].unsqueeze(1) - hi
    box[rows, y] = 1.0
    without = float((box > 0).all(dim=1).float().mean())
    assert ours > without + 0.1  # 0.61 vs 0.30 here


def _family(name: str) -> tuple[nn.Module, tuple[int, ...]]:
    from stalwart.models import build_model

    cfgs = {
        "small_cnn": ({"model": "small_cnn", "conv_channels": [3, 4], "pool_sizes": [2, 0],
                       "fc_sizes": [6], "extra_inputs": ["e"], "activation": "prelu",
                       "conv_bias": True}, (1, 9, 9)),
        "small_cnn_no_hidden": ({"model": "small_cnn", "conv_channels": [4],
                                 "pool_sizes": [2], "fc_sizes": []}, (1, 9, 9)),
        "mlp": ({"model": "mlp", "hidden_sizes": [8, 6], "batch_norm": True}, (1, 6, 6)),
        "resnet18": ({"model": "resnet18", "width": 2}, (1, 8, 8)),
    }
    cfg, shape = cfgs[name]
    model = build_model(cfg, shape, n_outputs=4)
    _randomise_bn(model, torch.Generator().manual_seed(3))
    model.set_output_affine(torch.tensor([0.5, -1.0, 0.0, 2.0]),
                            torch.tensor([2.0, 0.5, 1.0, 3.0]))
    return model, shape


@pytest.mark.parametrize("name", ["small_cnn", "small_cnn_no_hidden", "mlp", "resnet18"])
@pytest.mark.parametrize("seed", range(3))
def test_elided_margin_bound_is_sound_for_every_family(name, seed):
    """Property: no point sampled in the eps box (corners included) has a margin
    ``logit_y - logit_j`` below the elided bound."""
    torch.manual_seed(seed)
    model, shape = _family(name)
    model.eval()
    gen = torch.Generator().manual_seed(10 + seed)
    n, eps = 4, 0.05 if name != "resnet18" else 0.002
    x = torch.rand(n, *shape, generator=gen)
    y = torch.randint(0, 4, (n,), generator=gen)
    feats = torch.randn(n, 3, generator=gen) if model.n_features else None
    lower, upper = x - eps, x + eps
    bound = margin_lower_bounds(model, lower, upper, y, features=feats)
    lo, hi = interval_bounds(model, lower, upper, features=feats)
    rows = torch.arange(n)
    box = lo[rows, y].unsqueeze(1) - hi
    box[rows, y] = 0.0
    assert (bound >= box - 1e-4).all()  # never looser than the box difference
    with torch.no_grad():
        for _ in range(8):
            u = torch.rand(128, n, *shape, generator=gen)
            u = torch.where(u < 0.15, 0.0, torch.where(u > 0.85, 1.0, u))  # corners too
            pts = (lower + u * (upper - lower)).reshape(-1, *shape)
            f = None if feats is None else feats.repeat(128, 1)
            out = model(pts, f).reshape(128, n, 4)
            margin = out.gather(2, y.view(1, n, 1).expand(128, n, 1)) - out
            assert (margin >= bound - 1e-4).all(), (margin - bound).min()
