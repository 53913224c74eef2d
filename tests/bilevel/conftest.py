"""Small random linear problems for the bilevel tests."""

from __future__ import annotations

import numpy as np
import pytest

from stalwart.bilevel import LinearBilevel


def random_problem(seed: int, n: int = 24, d: int = 4, loss: str = "logistic",
                   noise: float = 0.8, class_weight: float = 1.0) -> LinearBilevel:
    """Labels from a noisy random linear rule; ``n`` training and ``n`` validation rows."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2 * n, d))
    w = rng.normal(size=d)
    y = (X @ w + noise * rng.normal(size=2 * n) > 0).astype(int)
    y[0], y[1] = 0, 1  # both classes in training
    return LinearBilevel(X[:n], y[:n], X[n:], y[n:], loss=loss, class_weight=class_weight)


@pytest.fixture(scope="module")
def logistic() -> LinearBilevel:
    return random_problem(1)


@pytest.fixture(scope="module")
def hinge() -> LinearBilevel:
    return random_problem(1, loss="hinge")
