"""Grid and golden-section search of the regularisation strength, per mode."""

from __future__ import annotations

import numpy as np
import pytest

from stalwart.bilevel import (
    LinearBilevel,
    golden_search,
    grid_search,
    grid_search_all,
    log_grid,
)


def _unimodal_problem() -> LinearBilevel:
    """Few noisy samples, many features: validation loss is U-shaped in log lam (for every
    mode on [1e-3, 0.5]; above, the pessimistic curve turns down again)."""
    rng = np.random.default_rng(7)
    n, d = 20, 10
    X = rng.normal(size=(3 * n, d))
    w = np.zeros(d)
    w[:2] = 1.5
    y = (X @ w + 1.0 * rng.normal(size=3 * n) > 0).astype(int)
    return LinearBilevel(X[:n], y[:n], X[n:], y[n:])


@pytest.fixture(scope="module")
def unimodal() -> LinearBilevel:
    return _unimodal_problem()


@pytest.mark.parametrize("mode", ["plain", "optimistic", "pessimistic"])
def test_golden_finds_the_grids_best(unimodal: LinearBilevel, mode: str) -> None:
    grid = log_grid(1e-3, 0.5, 28)
    g = grid_search(unimodal, grid, eps=0.05, relative=True, mode=mode)
    values = [m.val_loss for m in g.evaluated]
    best = int(np.argmin(values))
    assert 0 < best < len(grid) - 1, "the case must have an interior optimum"
    # unimodal on the grid: decreasing then increasing
    assert all(np.diff(values[: best + 1]) <= 1e-9)
    assert all(np.diff(values[best:]) >= -1e-9)
    gs = golden_search(unimodal, (1e-3, 0.5), eps=0.05, relative=True, mode=mode)
    step = np.log10(grid[1] / grid[0])
    assert abs(np.log10(gs.lam) - np.log10(g.lam)) <= step
    assert gs.value <= g.value + 1e-6
    assert len(gs.evaluated) < len(grid)


def test_grid_search_all_and_result_fields(unimodal: LinearBilevel) -> None:
    grid = log_grid(1e-2, 1e1, 5)
    out = grid_search_all(unimodal, grid, eps=0.05, relative=True)
    assert set(out) == {"plain", "optimistic", "pessimistic"}
    for mode, res in out.items():
        assert res.mode == mode and res.best.mode == mode
        assert len(res.evaluated) == 5
        assert res.value == min(m.val_loss for m in res.evaluated)
    # at each lam the pessimistic score bounds the optimistic one, so do the minima
    assert out["pessimistic"].value >= out["optimistic"].value - 1e-7


def test_error_criterion(unimodal: LinearBilevel) -> None:
    res = grid_search(unimodal, log_grid(1e-2, 1e1, 4), eps=0.05, relative=True,
                      mode="plain", criterion="error")
    assert res.value == min(m.val_error for m in res.evaluated)


def test_log_grid() -> None:
    np.testing.assert_allclose(log_grid(1e-2, 1e2, 5), [1e-2, 1e-1, 1, 10, 100])
