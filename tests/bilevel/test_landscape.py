"""Basin-hopping catalogue of a small network's minima, their IBP sensitivity, the figure."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from sklearn.datasets import load_iris
from torch import nn
from torch.nn.utils import vector_to_parameters

from stalwart.bilevel.landscape import (
    Catalogue,
    Minimum,
    catalogue_minima,
    loss_sensitivity_correlation,
    minima_figure,
    mlp,
    sensitivity,
)
from stalwart.errors import UserError
from stalwart.models.interval import interval_bounds
from stalwart.robustness.bounds import log_sensitivity

torch.set_num_threads(1)
SIZES = (4, 6, 3)
WD = 1e-4


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, ...]:
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    idx = np.random.default_rng(0).permutation(len(y))
    tr, va = idx[:60], idx[60:120]
    return X[tr], y[tr], X[va], y[va]


def _run(data: tuple[np.ndarray, ...], seed: int = 0) -> Catalogue:
    return catalogue_minima(mlp(SIZES, seed=0), *data, niter=5, weight_decay=WD, eps=0.05,
                            seed=seed)


@pytest.fixture(scope="module")
def catalogue(data) -> Catalogue:
    return _run(data)


def _model_at(params: np.ndarray) -> nn.Sequential:
    model = mlp(SIZES)
    vector_to_parameters(torch.as_tensor(params), model.parameters())
    return model


def _objective(model: nn.Module, X: np.ndarray, y: np.ndarray) -> torch.Tensor:
    flat = torch.cat([p.reshape(-1) for p in model.parameters()])
    ce = nn.functional.cross_entropy(model(torch.as_tensor(X)), torch.as_tensor(y))
    return ce + WD / 2 * (flat @ flat)


def test_catalogue_shape(catalogue: Catalogue) -> None:
    assert catalogue.n_params == 4 * 6 + 6 + 6 * 3 + 3
    assert catalogue.n_minimisations == 6  # the start and five hops
    assert len(catalogue.minima) >= 2
    assert sum(m.visits for m in catalogue.minima) + catalogue.n_not_stationary == 6
    losses = [m.train_loss for m in catalogue.minima]
    assert losses == sorted(losses)
    assert "| # | train loss" in catalogue.table()


def test_entries_are_local_minima(catalogue: Catalogue, data) -> None:
    X, y = data[0], data[1]
    rng = np.random.default_rng(0)
    for m in catalogue.minima:
        model = _model_at(m.params)
        loss = _objective(model, X, y)
        assert loss.item() == pytest.approx(m.train_loss, rel=1e-9)
        grad = torch.autograd.grad(loss, list(model.parameters()))
        assert float(torch.cat([g.reshape(-1) for g in grad]).norm()) < 1e-4
        for _ in range(5):  # small random moves do not go down
            moved = _model_at(m.params + 1e-3 * rng.standard_normal(m.params.size))
            assert _objective(moved, X, y).item() >= m.train_loss - 1e-9


def test_minima_are_distinct(catalogue: Catalogue, data) -> None:
    X = torch.as_tensor(data[0])
    outs = [_model_at(m.params)(X).detach() for m in catalogue.minima]
    for i in range(len(outs)):
        for j in range(i):
            same_loss = math.isclose(catalogue.minima[i].train_loss,
                                     catalogue.minima[j].train_loss, rel_tol=1e-7)
            assert not same_loss or (outs[i] - outs[j]).abs().max() > 1e-3


def test_seeded(catalogue: Catalogue, data) -> None:
    again = _run(data)
    assert again.table() == catalogue.table()
    for a, b in zip(again.minima, catalogue.minima, strict=True):
        np.testing.assert_array_equal(a.params, b.params)


def test_sensitivity_bound_is_sound(catalogue: Catalogue, data) -> None:
    X = torch.as_tensor(data[2][:20])
    eps = catalogue.eps
    gen = torch.Generator().manual_seed(0)
    for m in catalogue.minima[:3]:
        model = _model_at(m.params)
        lo, hi = interval_bounds(model, X - eps, X + eps)
        with torch.no_grad():
            for _ in range(50):
                delta = (torch.rand(X.shape, generator=gen, dtype=X.dtype) * 2 - 1) * eps
                sign = torch.sign(torch.rand(X.shape, generator=gen, dtype=X.dtype) - 0.5)
                for x in (X + delta, X + eps * sign):  # inside and at the corners
                    out = model(x)
                    assert bool((out >= lo - 1e-9).all() and (out <= hi + 1e-9).all())
        # the same quantity as robustness.bounds.log_sensitivity
        ref = float(log_sensitivity(model, torch.as_tensor(data[2]), eps).mean())
        assert m.sensitivity == pytest.approx(ref, rel=1e-9)
        assert sensitivity(model, torch.as_tensor(data[2]), eps) == pytest.approx(ref)


def _fake(points: list[tuple[float, float]]) -> Catalogue:
    minima = tuple(Minimum(np.zeros(1), f, f, 0.5, 0.0, 0.1, s, 1e-9, 1 + i, i)
                   for i, (f, s) in enumerate(points))
    return Catalogue(minima, len(minima), 0, 0.05, WD, 1)


def test_correlation() -> None:
    up = _fake([(0.1 * i, 2.0 + i ** 2) for i in range(8)])
    c = loss_sensitivity_correlation(up, n_resamples=200)
    assert c.rho == pytest.approx(1.0) and c.n == 8
    assert c.low <= c.rho <= c.high
    down = loss_sensitivity_correlation(_fake([(0.1 * i, -i) for i in range(8)]),
                                        n_resamples=200)
    assert down.rho == pytest.approx(-1.0)
    noisy = _fake([(0.1 * i, s) for i, s in enumerate([3, 1, 4, 1, 5, 9, 2, 6, 5, 3])])
    c1 = loss_sensitivity_correlation(noisy, n_resamples=200, seed=1)
    assert c1 == loss_sensitivity_correlation(noisy, n_resamples=200, seed=1)
    assert c1.low < c1.rho < c1.high
    few = loss_sensitivity_correlation(_fake([(0.1, 1.0), (0.2, 2.0)]))
    assert few.n == 2 and math.isnan(few.rho)


def test_figure(catalogue: Catalogue) -> None:
    corr = loss_sensitivity_correlation(catalogue, n_resamples=200)
    fig = minima_figure(catalogue, corr)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.collections[0].get_offsets()) == len(catalogue.minima)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("kwargs", "key"), [
    ({"niter": -1}, "niter"),
    ({"stepsize": 0.0}, "stepsize"),
    ({"eps": -0.1}, "eps"),
    ({"weight_decay": -1.0}, "weight_decay"),
])
def test_bad_parameters(data, kwargs: dict, key: str) -> None:
    with pytest.raises(UserError, match=f"^{key}:"):
        catalogue_minima(mlp(SIZES), *data, **kwargs)


def test_bad_inputs(data) -> None:
    X, y, Xv, yv = data
    with pytest.raises(UserError, match="^y_train:"):
        catalogue_minima(mlp(SIZES), X, y.astype(float), Xv, yv)
    with pytest.raises(UserError, match="^X_val:"):
        catalogue_minima(mlp(SIZES), X, y, Xv[:, :3], yv)
    with pytest.raises(UserError, match="^activation:"):
        mlp(SIZES, activation="gelu")
    with pytest.raises(UserError, match="^sizes:"):
        mlp((4,))
