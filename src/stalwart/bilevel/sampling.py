"""Sampling the eps-optimal set, to check the pessimistic relaxation against a true worst case.

The pessimistic member of arXiv 2412.03666 comes from a convex *relaxation* (flipped
validation labels); the true worst case, the maximum of the validation loss over
``S_eps = {f <= min f + eps}``, is a non-convex problem. For small problems it can be
probed by sampling ``S_eps`` and taking the largest validation loss seen: a lower bound on
the true worst case. When it exceeds the relaxation's value the relaxation missed at least
that much; when it does not, the relaxation is at least as bad as every sample.

Two samplers, both started at the inner minimiser ``(w0, b0)``:

- ``boundary``: a random direction ``d``, then bisection along the ray ``(w0, b0) + t d``
  for the largest ``t`` that stays in ``S_eps`` (``f`` is convex, so the ray leaves the set
  once). A convex function's maximum over a convex set lies on its boundary, so this is
  where the worst case is;
- ``hit_and_run``: a random walk; from the current point, a random direction's chord
  through ``S_eps`` is found by bisection at both ends and the next point is uniform on
  it (Smith, 1984). Its points fill the set rather than its boundary.

Directions are drawn from ``N(0, H^-1)``, ``H`` the Hessian of the logistic objective at
the minimiser (plus a small ridge), so that they follow the set's shape (an isotropic
direction in a long thin set almost always hits the near wall). This is only a proposal:
every returned point is checked to satisfy ``f(w, b) <= level`` in float64 NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from stalwart.checks import integer

from ._checks import check, one_of
from .linear import LinearBilevel

SAMPLERS: tuple[str, ...] = ("boundary", "hit_and_run")


@dataclass(frozen=True)
class Samples:
    """Points of ``S_eps``: rows of ``w`` ``(n, d)`` and ``b`` ``(n,)``, with the level."""

    w: np.ndarray
    b: np.ndarray
    lam: float
    level: float


class RelaxationGap(NamedTuple):
    """The relaxation's validation score, the largest sampled one, and the sample count."""

    relaxation: float
    sampled_max: float
    n_samples: int


def _direction_factor(problem: LinearBilevel, w0: np.ndarray, b0: float,
                      lam: float) -> np.ndarray:
    """``L`` with ``L L^T = H`` for the logistic Hessian ``H`` in ``(w, b)`` at the minimiser."""
    A = np.hstack([problem.X_train, np.ones((problem.X_train.shape[0], 1))])
    m = problem.y_train * (problem.X_train @ w0 + b0)
    p = 1.0 / (1.0 + np.exp(-np.clip(m, -500, 500)))
    d = problem._s_train * p * (1.0 - p)
    H = A.T @ (A * d[:, None])
    H[np.arange(problem.dim), np.arange(problem.dim)] += lam
    H += 1e-8 * (1.0 + np.trace(H) / H.shape[0]) * np.eye(H.shape[0])
    return np.linalg.cholesky(H)


def _edge(problem: LinearBilevel, x: np.ndarray, d: np.ndarray, lam: float,
          level: float) -> float:
    """The largest ``t >= 0`` (to bisection precision) with ``x + t d`` in the set."""

    def inside(t: float) -> bool:
        y = x + t * d
        return problem.train_objective(y[:-1], y[-1], lam) <= level

    hi = 1.0
    while inside(hi):
        hi *= 2.0
        if hi > 1e12:  # pragma: no cover - the set is bounded when lam > 0
            return hi
    lo = 0.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if inside(mid):
            lo = mid
        else:
            hi = mid
    return lo


def sample_sublevel_set(problem: LinearBilevel, lam: float, eps: float, n: int, *,
                        relative: bool = False, method: str = "boundary",
                        seed: int = 0) -> Samples:
    """``n`` points of ``S_eps`` for ``lam`` (see the module docstring for the samplers).

    ``eps`` is absolute, or a fraction of ``min f`` when ``relative``. Seeded: the same
    arguments give the same points.
    """
    method = one_of("method", method, SAMPLERS, "sampler")
    check(integer("n", n, low=1))
    base = problem.minimiser(lam)
    level = base.min_train_loss + problem.slack(lam, eps, relative=relative)
    rng = np.random.default_rng(seed)
    L = _direction_factor(problem, base.w, base.b, base.lam)
    x0 = np.append(base.w, base.b)
    points = np.empty((n, x0.size))
    x = x0.copy()
    for i in range(n):
        # d = L^-T z ~ N(0, H^-1)
        d = np.linalg.solve(L.T, rng.standard_normal(x0.size))
        if method == "boundary":
            points[i] = x0 + _edge(problem, x0, d, base.lam, level) * d
        else:
            t_plus = _edge(problem, x, d, base.lam, level)
            t_minus = _edge(problem, x, -d, base.lam, level)
            x = x + rng.uniform(-t_minus, t_plus) * d
            points[i] = x
    return Samples(w=points[:, :-1], b=points[:, -1], lam=base.lam, level=level)


def relaxation_gap(problem: LinearBilevel, lam: float, eps: float, n: int = 200, *,
                   relative: bool = False, method: str = "boundary", criterion: str = "loss",
                   seed: int = 0) -> RelaxationGap:
    """The pessimistic relaxation's validation score against the largest of ``n`` samples.

    ``criterion`` is ``loss`` (the convex validation loss) or ``error`` (0-1). A
    ``sampled_max`` above ``relaxation`` means the relaxation's member is not the worst
    case (by at least the difference); the true worst case is at least
    ``max(relaxation, sampled_max)``.
    """
    criterion = one_of("criterion", criterion, ("loss", "error"), "criterion")
    pess = problem.member(lam, eps, "pessimistic", relative=relative)
    pts = sample_sublevel_set(problem, lam, eps, n, relative=relative, method=method,
                              seed=seed)
    score = problem.val_loss if criterion == "loss" else problem.val_error
    sampled = max(score(w, b) for w, b in zip(pts.w, pts.b, strict=True))
    return RelaxationGap(pess.value(criterion), float(sampled), n)
