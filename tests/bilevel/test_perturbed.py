"""Test error on clean, Gaussian-noisy and worst-case l_inf-perturbed inputs."""

from __future__ import annotations

import numpy as np
import pytest

from stalwart.bilevel import linear_error, noisy_test_set, perturbed_error


def test_perturbed_error_is_the_worst_case() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    w, b = rng.normal(size=5), 0.3
    y = (X @ w + b + 0.5 * rng.normal(size=200) > 0).astype(int)
    eps = 0.2
    assert perturbed_error(w, b, X, y, 0.0) == linear_error(w, b, X, y)
    worst = perturbed_error(w, b, X, y, eps)
    assert worst >= linear_error(w, b, X, y)
    # the closed-form attack delta = -eps * y * sign(w) reaches it exactly
    ys = np.where(y == 1, 1.0, -1.0)
    attacked = X - eps * ys[:, None] * np.sign(w)[None, :]
    assert linear_error(w, b, attacked, y) == pytest.approx(worst)
    # and no random perturbation in the ball does better than the worst case
    for _ in range(20):
        delta = rng.uniform(-eps, eps, size=X.shape)
        assert linear_error(w, b, X + delta, y) <= worst


def test_noisy_test_set() -> None:
    X = np.zeros((500, 3))
    a, b = noisy_test_set(X, 0.5, seed=1), noisy_test_set(X, 0.5, seed=1)
    np.testing.assert_array_equal(a, b)
    assert a.std() == pytest.approx(0.5, rel=0.1)
    np.testing.assert_array_equal(noisy_test_set(X, 0.0), X)


def test_labels_pm_one_and_zero_one_agree() -> None:
    X = np.array([[1.0], [-1.0], [2.0]])
    w = np.array([1.0])
    assert linear_error(w, 0.0, X, [1, 0, 0]) == linear_error(w, 0.0, X, [1, -1, -1])
    assert linear_error(w, 0.0, X, [1, 0, 0]) == pytest.approx(1 / 3)
