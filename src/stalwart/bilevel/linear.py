"""The inner problem of pessimistic tuning: a regularised linear classifier and its eps-set.

For a hyperparameter ``lam > 0`` the inner (training) problem is

    f(w, b) = sum_i s_i loss(y_i (w . x_i + b)) / sum_i s_i + lam / 2 ||w||^2

with ``loss`` the logistic loss ``log(1 + exp(-m))`` or the hinge ``max(0, 1 - m)``, labels
``y_i`` in ``{-1, +1}``, sample weights ``s_i = class_weight`` for positives and 1 for
negatives, and an unregularised bias ``b``. Its *eps-optimal set* is the sublevel set

    S_eps = {(w, b) : f(w, b) <= min f + eps},

the trainings a tuner cannot tell apart from the best one (Ustun, Xu, Zeng and Qian,
"Hyperparameter Tuning Through Pessimistic Bilevel Optimization", arXiv 2412.03666).
Over it:

- the *optimistic* member minimises the validation loss (a convex problem, exact);
- the *pessimistic* member should maximise it; the maximum of a convex function over a
  convex set is not a convex problem, so, as in the paper, it is relaxed to minimising the
  loss on the validation set with *flipped* labels inside ``S_eps`` (convex), and the true
  validation loss is then evaluated at that member;
- the *plain* member is the inner minimiser itself (what ordinary tuning uses).

All three are solved with cvxpy (``cp.logistic`` / ``cp.pos``), the minimum first. The
problems are built once per :class:`LinearBilevel` with ``lam`` and the level as cvxpy
parameters, so a hyperparameter search re-solves without re-compiling. A constrained
solution that the solver leaves a hair outside ``S_eps`` (interior-point tolerance) is
pulled back along the segment to the minimiser, which lies inside by convexity, so every
member returned satisfies ``f(w, b) <= level`` exactly as evaluated in NumPy.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import cvxpy as cp
import numpy as np

from stalwart.errors import UserError

from ._checks import binary_labels, matrix, non_negative, one_of, positive

Loss = Literal["logistic", "hinge"]
Mode = Literal["plain", "optimistic", "pessimistic"]
LOSSES: tuple[str, ...] = ("logistic", "hinge")
MODES: tuple[str, ...] = ("plain", "optimistic", "pessimistic")
_OK = ("optimal", "optimal_inaccurate")


def pointwise_loss(margins: np.ndarray, loss: str) -> np.ndarray:
    """The loss of each margin ``m = y (w . x + b)``, in NumPy (stable logistic)."""
    if loss == "logistic":
        return np.logaddexp(0.0, -margins)
    return np.maximum(0.0, 1.0 - margins)


def _cp_loss(margins: cp.Expression, loss: str) -> cp.Expression:
    return cp.logistic(-margins) if loss == "logistic" else cp.pos(1.0 - margins)


@dataclass(frozen=True)
class Member:
    """One training ``(w, b)`` of the eps-set and what it scores.

    Attributes
    ----------
    mode:
        which member: ``plain`` (the inner minimiser), ``optimistic`` or ``pessimistic``.
    lam, eps:
        the hyperparameter and the absolute slack used (``level = min_train_loss + eps``).
    w, b:
        the linear classifier.
    train_loss:
        ``f(w, b)``, the regularised training objective.
    min_train_loss, level:
        ``min f`` and the sublevel ``min f + eps``.
    val_loss, val_error:
        the mean (class-weighted) validation loss and the 0-1 validation error at ``w, b``.
    status:
        the cvxpy status of the solve that produced it.
    """

    mode: str
    lam: float
    eps: float
    w: np.ndarray
    b: float
    train_loss: float
    min_train_loss: float
    level: float
    val_loss: float
    val_error: float
    status: str

    def value(self, criterion: str = "loss") -> float:
        """The validation score a tuner minimises: ``val_loss`` or ``val_error``."""
        return self.val_loss if criterion == "loss" else self.val_error


class LinearBilevel:
    """Training and validation data with the three members of ``S_eps`` for any ``lam``.

    Parameters
    ----------
    X_train, y_train:
        ``(n, d)`` features and binary labels (0/1 or -1/+1, both classes present).
    X_val, y_val:
        ``(m, d)`` validation features and binary labels.
    loss:
        ``"logistic"`` (L2-regularised logistic regression) or ``"hinge"`` (linear SVM).
    class_weight:
        weight of the positive class in both the training and validation losses.
    solver:
        the cvxpy solver (CLARABEL handles the exponential cone of the logistic loss).
    """

    def __init__(self, X_train: object, y_train: object, X_val: object, y_val: object, *,
                 loss: str = "logistic", class_weight: float = 1.0,
                 solver: str = "CLARABEL") -> None:
        self.loss = one_of("loss", loss, LOSSES, "loss")
        self.class_weight = positive("class_weight", class_weight)
        self.y_train = binary_labels("y_train", y_train, both=True)
        self.X_train = matrix("X_train", X_train, rows=len(self.y_train))
        self.y_val = binary_labels("y_val", y_val)
        self.X_val = matrix("X_val", X_val, rows=len(self.y_val), cols=self.X_train.shape[1])
        self.solver = solver
        self.dim = self.X_train.shape[1]
        self._s_train = self._weights(self.y_train)
        self._s_val = self._weights(self.y_val)
        self._lam = cp.Parameter(nonneg=True, name="lam")
        self._level = cp.Parameter(name="level")
        self._w = cp.Variable(self.dim, name="w")
        self._b = cp.Variable(name="b")
        self._objective = self._cp_mean_loss(self.X_train, self.y_train, self._s_train) + (
            self._lam / 2 * cp.sum_squares(self._w))
        self._problems: dict[str, cp.Problem] = {}
        self._minimisers: dict[float, Member] = {}

    # ------------------------------------------------------------------ losses in NumPy

    def _weights(self, y: np.ndarray) -> np.ndarray:
        s = np.where(y > 0, self.class_weight, 1.0)
        return s / s.sum()

    def train_objective(self, w: np.ndarray, b: float, lam: float) -> float:
        """``f(w, b)`` for ``lam``, in float64 NumPy (the reference for membership)."""
        m = self.y_train * (self.X_train @ w + b)
        return float(self._s_train @ pointwise_loss(m, self.loss) + lam / 2 * (w @ w))

    def val_loss(self, w: np.ndarray, b: float) -> float:
        """Mean (class-weighted) validation loss, the same convex loss as training."""
        m = self.y_val * (self.X_val @ w + b)
        return float(self._s_val @ pointwise_loss(m, self.loss))

    def val_error(self, w: np.ndarray, b: float) -> float:
        """0-1 validation error (a zero margin counts as an error)."""
        m = self.y_val * (self.X_val @ w + b)
        return float(np.mean(m <= 0.0))

    # ------------------------------------------------------------------ cvxpy problems

    def _cp_mean_loss(self, X: np.ndarray, y: np.ndarray, s: np.ndarray) -> cp.Expression:
        margins = cp.multiply(y, X @ self._w + self._b)
        return s @ _cp_loss(margins, self.loss)

    def _problem(self, name: str) -> cp.Problem:
        if name not in self._problems:
            if name == "min":
                prob = cp.Problem(cp.Minimize(self._objective))
            else:
                y = self.y_val if name == "optimistic" else -self.y_val  # flipped labels
                target = self._cp_mean_loss(self.X_val, y, self._s_val)
                prob = cp.Problem(cp.Minimize(target), [self._objective <= self._level])
            self._problems[name] = prob
        return self._problems[name]

    def _solve(self, name: str) -> str:
        prob = self._problem(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "solution may be inaccurate"
            try:
                prob.solve(solver=self.solver)
            except cp.error.SolverError:
                prob.solve(solver="SCS")
        if prob.status not in _OK or self._w.value is None:
            raise RuntimeError(f"cvxpy could not solve the {name} problem: {prob.status}")
        return str(prob.status)

    def _member(self, mode: str, lam: float, eps: float, w: np.ndarray, b: float,
                min_loss: float, level: float, status: str) -> Member:
        return Member(mode=mode, lam=lam, eps=eps, w=w, b=b,
                      train_loss=self.train_objective(w, b, lam), min_train_loss=min_loss,
                      level=level, val_loss=self.val_loss(w, b),
                      val_error=self.val_error(w, b), status=status)

    # ------------------------------------------------------------------ public

    def minimiser(self, lam: float) -> Member:
        """The inner minimiser for ``lam`` (the *plain* member; cached per ``lam``)."""
        lam = positive("lam", lam)
        if lam not in self._minimisers:
            self._lam.value = lam
            status = self._solve("min")
            w, b = np.array(self._w.value, dtype=np.float64), float(self._b.value)
            f = self.train_objective(w, b, lam)
            self._minimisers[lam] = self._member("plain", lam, 0.0, w, b, f, f, status)
        return self._minimisers[lam]

    def slack(self, lam: float, eps: float, *, relative: bool = False) -> float:
        """The absolute slack: ``eps``, or ``eps * min f`` when ``relative``."""
        eps = non_negative("eps", eps)
        return eps * self.minimiser(lam).min_train_loss if relative else eps

    def member(self, lam: float, eps: float, mode: str, *, relative: bool = False) -> Member:
        """The ``plain``, ``optimistic`` or ``pessimistic`` member of ``S_eps`` for ``lam``.

        ``eps`` is absolute, or a fraction of ``min f`` when ``relative``. The pessimistic
        member is the paper's relaxation (flipped validation labels); its ``val_loss`` and
        ``val_error`` are the true ones at the member found.
        """
        mode = one_of("mode", mode, MODES, "mode")
        lam = positive("lam", lam)
        eps = non_negative("eps", eps)
        base = self.minimiser(lam)
        if mode == "plain":
            return base
        slack = eps * base.min_train_loss if relative else eps
        level = base.min_train_loss + slack
        self._lam.value = lam
        # a hair of room for the interior-point solver (S_0 has no interior); the answer is
        # pulled back inside the exact level below
        self._level.value = level + 1e-9 * max(1.0, abs(level))
        status = self._solve(mode)
        w, b = np.array(self._w.value, dtype=np.float64), float(self._b.value)
        w, b = self._pull_inside(w, b, base.w, base.b, lam, level)
        return self._member(mode, lam, slack, w, b, base.min_train_loss, level, status)

    def members(self, lam: float, eps: float, *, relative: bool = False) -> dict[str, Member]:
        """All three members for ``lam`` (the minimum solved once)."""
        return {m: self.member(lam, eps, m, relative=relative) for m in MODES}

    def _pull_inside(self, w: np.ndarray, b: float, w0: np.ndarray, b0: float, lam: float,
                     level: float) -> tuple[np.ndarray, float]:
        """The point nearest ``(w, b)`` on the segment to ``(w0, b0)`` with ``f <= level``."""
        if self.train_objective(w, b, lam) <= level:
            return w, b
        if self.train_objective(w0, b0, lam) > level:  # pragma: no cover - level >= f(w0)
            raise UserError("eps: the level is below the minimiser's training loss")
        lo, hi = 0.0, 1.0  # fraction of the way from (w0, b0) to (w, b); lo is inside
        for _ in range(60):
            mid = (lo + hi) / 2
            if self.train_objective(w0 + mid * (w - w0), b0 + mid * (b - b0), lam) <= level:
                lo = mid
            else:
                hi = mid
        return w0 + lo * (w - w0), b0 + lo * (b - b0)
