"""Hyperparameter search over ``lam``: a log grid and golden-section search, per mode.

The outer problem of (pessimistic) bilevel tuning (arXiv 2412.03666) picks the ``lam``
whose member of the eps-optimal set scores best on validation:

- ``plain``: the inner minimiser's validation score (ordinary tuning);
- ``optimistic``: the best member's (``min`` over ``S_eps``);
- ``pessimistic``: the worst member's, via the flipped-label relaxation.

:func:`grid_search` evaluates a grid of ``lam`` values; :func:`golden_search` runs
``scipy.optimize.minimize_scalar(method="bounded")`` on ``log10 lam`` (Brent's bounded
method: golden-section steps, with parabolic steps where they are safe), which needs far
fewer evaluations when the validation curve is unimodal. Both return every evaluation, so
the curve can be inspected, and the best member.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from stalwart.errors import UserError

from ._checks import non_negative, one_of, positive
from .linear import MODES, LinearBilevel, Member

CRITERIA: tuple[str, ...] = ("loss", "error")


@dataclass(frozen=True)
class SearchResult:
    """A hyperparameter search for one mode.

    Attributes
    ----------
    mode, criterion:
        the member scored and the validation score minimised (``loss`` or ``error``).
    best:
        the member with the lowest score (the first such in evaluation order on ties).
    evaluated:
        every member evaluated, in evaluation order.
    """

    mode: str
    criterion: str
    best: Member
    evaluated: tuple[Member, ...]

    @property
    def lam(self) -> float:
        """The selected ``lam``."""
        return self.best.lam

    @property
    def value(self) -> float:
        """The selected ``lam``'s validation score."""
        return self.best.value(self.criterion)


def _checked(mode: str, eps: float, criterion: str) -> tuple[str, float, str]:
    return (one_of("mode", mode, MODES, "mode"), non_negative("eps", eps),
            one_of("criterion", criterion, CRITERIA, "criterion"))


def _best(mode: str, criterion: str, members: list[Member]) -> SearchResult:
    scores = [m.value(criterion) for m in members]
    return SearchResult(mode, criterion, members[int(np.argmin(scores))], tuple(members))


def log_grid(low: float = 1e-4, high: float = 1e2, num: int = 13) -> np.ndarray:
    """``num`` values of ``lam`` evenly spaced in ``log10`` from ``low`` to ``high``."""
    low, high = positive("low", low), positive("high", high)
    if high <= low:
        raise UserError(f"high: must be > low ({low:g}), got {high:g}")
    if not isinstance(num, int) or num < 1:
        raise UserError(f"num: must be an integer >= 1, got {num!r}")
    return np.logspace(math.log10(low), math.log10(high), num)


def grid_search(problem: LinearBilevel, lams: Sequence[float], *, eps: float,
                mode: str = "pessimistic", relative: bool = False,
                criterion: str = "loss") -> SearchResult:
    """The best ``lam`` of ``lams`` for ``mode``: every value is solved."""
    mode, eps, criterion = _checked(mode, eps, criterion)
    lams = list(lams)
    if not lams:
        raise UserError("lams: must contain at least one value")
    members = [problem.member(lam, eps, mode, relative=relative) for lam in lams]
    return _best(mode, criterion, members)


def grid_search_all(problem: LinearBilevel, lams: Sequence[float], *, eps: float,
                    relative: bool = False, criterion: str = "loss") -> dict[str, SearchResult]:
    """:func:`grid_search` for every mode, the minimum at each ``lam`` solved once."""
    return {mode: grid_search(problem, lams, eps=eps, mode=mode, relative=relative,
                              criterion=criterion) for mode in MODES}


def golden_search(problem: LinearBilevel, bounds: tuple[float, float] = (1e-4, 1e2), *,
                  eps: float, mode: str = "pessimistic", relative: bool = False,
                  criterion: str = "loss", xatol: float = 0.02,
                  maxiter: int = 60) -> SearchResult:
    """Golden-section (bounded Brent) search of ``log10 lam`` within ``bounds``.

    Parameters
    ----------
    bounds:
        ``(low, high)`` values of ``lam``, ``0 < low < high``.
    xatol:
        the absolute tolerance in ``log10 lam`` (0.02 is a factor 1.05 in ``lam``).
    maxiter:
        the most function evaluations.

    The result's ``best`` is the best member evaluated (not only the last iterate), so a
    non-unimodal curve still returns the best ``lam`` seen.
    """
    mode, eps, criterion = _checked(mode, eps, criterion)
    if not isinstance(bounds, tuple | list) or len(bounds) != 2:
        raise UserError(f"bounds: must be a pair (low, high), got {bounds!r}")
    low, high = positive("bounds[0]", bounds[0]), positive("bounds[1]", bounds[1])
    if high <= low:
        raise UserError(f"bounds: high must be > low, got {tuple(bounds)}")
    xatol = positive("xatol", xatol)
    members: list[Member] = []

    def score(t: float) -> float:
        member = problem.member(10.0 ** t, eps, mode, relative=relative)
        members.append(member)
        return member.value(criterion)

    minimize_scalar(score, bounds=(math.log10(low), math.log10(high)), method="bounded",
                    options={"xatol": xatol, "maxiter": maxiter})
    return _best(mode, criterion, members)
