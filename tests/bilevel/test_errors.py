"""Bad inputs raise UserError naming the parameter."""

from __future__ import annotations

import numpy as np
import pytest

from stalwart.bilevel import (
    LinearBilevel,
    golden_search,
    grid_search,
    log_grid,
    noisy_test_set,
    perturbed_error,
    relaxation_gap,
    sample_sublevel_set,
)
from stalwart.errors import UserError

X = np.arange(12.0).reshape(6, 2)
Y = np.array([0, 1, 0, 1, 1, 0])


def _problem() -> LinearBilevel:
    return LinearBilevel(X, Y, X, Y)


@pytest.mark.parametrize(("kwargs", "key"), [
    ({"y_train": np.array([0, 1, 2, 0, 1, 0])}, "y_train"),
    ({"y_val": np.array([0.5, 1, 0, 1, 1, 0])}, "y_val"),
    ({"y_train": np.zeros(6, dtype=int)}, "y_train"),  # one class only
    ({"X_train": np.empty((0, 2)), "y_train": np.array([], dtype=int)}, "y_train"),
    ({"X_val": np.empty((0, 2)), "y_val": np.array([], dtype=int)}, "y_val"),
    ({"X_val": np.ones((6, 0))}, "X_val"),
    ({"X_val": np.ones((6, 3))}, "X_val"),  # feature count differs
    ({"X_train": np.ones((5, 2))}, "X_train"),  # row count differs
    ({"X_train": np.full((6, 2), np.nan)}, "X_train"),
    ({"loss": "squared"}, "loss"),
    ({"class_weight": 0.0}, "class_weight"),
])
def test_constructor_rejects(kwargs: dict, key: str) -> None:
    args = {"X_train": X, "y_train": Y, "X_val": X, "y_val": Y}
    extra = {k: kwargs.pop(k) for k in ("loss", "class_weight") if k in kwargs}
    args.update(kwargs)
    with pytest.raises(UserError, match=f"^{key}:"):
        LinearBilevel(args["X_train"], args["y_train"], args["X_val"], args["y_val"], **extra)


@pytest.mark.parametrize(("call", "key"), [
    (lambda p: p.member(0.1, -0.01, "pessimistic"), "eps"),
    (lambda p: p.member(0.0, 0.1, "pessimistic"), "lam"),
    (lambda p: p.member(-1.0, 0.1, "optimistic"), "lam"),
    (lambda p: p.minimiser(0.0), "lam"),
    (lambda p: p.member(0.1, 0.1, "worst"), "mode"),
    (lambda p: grid_search(p, [], eps=0.1), "lams"),
    (lambda p: grid_search(p, [0.1], eps=-1.0), "eps"),
    (lambda p: grid_search(p, [0.0], eps=0.1), "lam"),
    (lambda p: grid_search(p, [0.1], eps=0.1, criterion="auc"), "criterion"),
    (lambda p: golden_search(p, (1.0, 0.1), eps=0.1), "bounds"),
    (lambda p: golden_search(p, (0.0, 1.0), eps=0.1), r"bounds\[0\]"),
    (lambda p: sample_sublevel_set(p, 0.1, -0.1, 5), "eps"),
    (lambda p: sample_sublevel_set(p, 0.1, 0.1, 0), "n"),
    (lambda p: sample_sublevel_set(p, 0.1, 0.1, 5, method="mcmc"), "method"),
    (lambda p: relaxation_gap(p, 0.1, 0.1, 5, criterion="auc"), "criterion"),
])
def test_methods_reject(call, key: str) -> None:
    with pytest.raises(UserError, match=f"^{key}:"):
        call(_problem())


def test_helpers_reject() -> None:
    with pytest.raises(UserError, match="^eps_x:"):
        perturbed_error(np.ones(2), 0.0, X, Y, -0.1)
    with pytest.raises(UserError, match="^y:"):
        perturbed_error(np.ones(2), 0.0, X, np.arange(6), 0.1)
    with pytest.raises(UserError, match="^sigma:"):
        noisy_test_set(X, -1.0)
    with pytest.raises(UserError, match="^X:"):
        noisy_test_set(np.empty((0, 3)), 1.0)
    with pytest.raises(UserError, match="^high:"):
        log_grid(1.0, 0.1)
