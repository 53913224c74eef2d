"""Test error of a linear classifier on clean, noisy and worst-case perturbed inputs.

The pessimistic tuning of arXiv 2412.03666 is meant to pay off when the test data differ
from the training data; these are the two shifts its experiments use, for a linear model
``sign(w . x + b)``:

- Gaussian noise: :func:`noisy_test_set` adds ``N(0, sigma^2)`` to every feature;
- worst-case l_inf perturbations of radius ``eps_x``: for a linear model the worst case is
  closed-form, ``min_{||delta||_inf <= eps_x} y (w . (x + delta) + b) =
  y (w . x + b) - eps_x ||w||_1`` (Hoelder's inequality, attained at
  ``delta = -eps_x y sign(w)``), so :func:`perturbed_error` is exact, no attack needed.

A margin of exactly 0 counts as an error everywhere.
"""

from __future__ import annotations

import numpy as np

from ._checks import binary_labels, matrix, non_negative


def _margins(w: np.ndarray, b: float, X: object, y: object) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64).ravel()
    yy = binary_labels("y", y)
    XX = matrix("X", X, rows=len(yy), cols=w.size)
    return yy * (XX @ w + float(b))


def linear_error(w: np.ndarray, b: float, X: object, y: object) -> float:
    """0-1 error of ``sign(w . x + b)`` on ``(X, y)`` (labels 0/1 or -1/+1)."""
    return float(np.mean(_margins(w, b, X, y) <= 0.0))


def perturbed_error(w: np.ndarray, b: float, X: object, y: object, eps_x: float) -> float:
    """0-1 error under the worst l_inf perturbation of each input of radius ``eps_x``.

    Exact for a linear model: the sample is misclassified by some perturbation iff
    ``y (w . x + b) - eps_x ||w||_1 <= 0``. With ``eps_x = 0`` this is :func:`linear_error`.
    """
    eps_x = non_negative("eps_x", eps_x)
    w = np.asarray(w, dtype=np.float64).ravel()
    return float(np.mean(_margins(w, b, X, y) - eps_x * np.abs(w).sum() <= 0.0))


def noisy_test_set(X: object, sigma: float, seed: int = 0) -> np.ndarray:
    """A copy of ``X`` with i.i.d. ``N(0, sigma^2)`` noise on every entry (seeded)."""
    sigma = non_negative("sigma", sigma)
    XX = matrix("X", X)
    return XX + np.random.default_rng(seed).normal(0.0, sigma, size=XX.shape)
