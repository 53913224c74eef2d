"""The three members of the eps-optimal set of a linear classifier (arXiv 2412.03666)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from stalwart.bilevel import LinearBilevel

from .conftest import random_problem


def test_minimiser_matches_scikit_learn(logistic: LinearBilevel) -> None:
    # sklearn: C * sum_i loss_i + ||w||^2 / 2  ==  n * C * (mean loss + ||w||^2 / (2 n C))
    lam = 0.1
    n = logistic.X_train.shape[0]
    ref = LogisticRegression(C=1.0 / (n * lam), tol=1e-10, max_iter=10_000)
    ref.fit(logistic.X_train, logistic.y_train)
    got = logistic.minimiser(lam)
    f_ref = logistic.train_objective(ref.coef_[0], ref.intercept_[0], lam)
    assert got.min_train_loss <= f_ref + 1e-9
    np.testing.assert_allclose(got.w, ref.coef_[0], atol=1e-4)
    assert got.b == pytest.approx(ref.intercept_[0], abs=1e-4)


@pytest.mark.parametrize("lam", [0.01, 0.3, 3.0])
def test_eps_zero_pessimistic_equals_optimistic(logistic: LinearBilevel, lam: float) -> None:
    ms = logistic.members(lam, 0.0)
    assert ms["pessimistic"].val_loss == pytest.approx(ms["optimistic"].val_loss, abs=1e-5)
    assert ms["pessimistic"].val_loss == pytest.approx(ms["plain"].val_loss, abs=1e-5)
    np.testing.assert_allclose(ms["pessimistic"].w, ms["optimistic"].w, atol=1e-3)


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), loss=st.sampled_from(["logistic", "hinge"]),
       log_lam=st.floats(-3, 1), eps=st.floats(0.001, 0.3), relative=st.booleans())
def test_pessimistic_never_below_optimistic(seed: int, loss: str, log_lam: float, eps: float,
                                            relative: bool) -> None:
    problem = random_problem(seed, n=16, d=3, loss=loss)
    ms = problem.members(10.0 ** log_lam, eps, relative=relative)
    tol = 1e-6 * (1 + ms["optimistic"].val_loss)
    assert ms["pessimistic"].val_loss >= ms["optimistic"].val_loss - tol
    assert ms["plain"].val_loss >= ms["optimistic"].val_loss - tol
    for m in ms.values():  # every member lies in S_eps, exactly as NumPy evaluates f
        assert problem.train_objective(m.w, m.b, m.lam) <= m.level
        assert m.train_loss <= m.level


@pytest.mark.parametrize("fixture", ["logistic", "hinge"])
def test_relaxation_member_lies_in_the_eps_set(fixture: str, request) -> None:
    problem: LinearBilevel = request.getfixturevalue(fixture)
    for lam in (0.01, 0.1, 1.0):
        m = problem.member(lam, 0.05, "pessimistic", relative=True)
        assert m.level == pytest.approx(m.min_train_loss * 1.05)
        assert problem.train_objective(m.w, m.b, lam) <= m.level
        # the slack is used: the worst case is on the boundary, not at the minimiser
        assert m.train_loss >= m.min_train_loss + 0.5 * m.eps


def test_relative_and_absolute_eps(logistic: LinearBilevel) -> None:
    base = logistic.minimiser(0.1)
    rel = logistic.member(0.1, 0.1, "optimistic", relative=True)
    ab = logistic.member(0.1, 0.1 * base.min_train_loss, "optimistic")
    assert rel.eps == pytest.approx(ab.eps)
    assert rel.val_loss == pytest.approx(ab.val_loss, abs=1e-6)


def test_larger_eps_widens_the_gap(logistic: LinearBilevel) -> None:
    gaps = []
    for eps in (0.01, 0.05, 0.2):
        ms = logistic.members(0.1, eps, relative=True)
        gaps.append(ms["pessimistic"].val_loss - ms["optimistic"].val_loss)
    assert gaps[0] < gaps[1] < gaps[2]


def test_class_weight_changes_the_minimiser() -> None:
    a = random_problem(3).minimiser(0.1)
    b = random_problem(3, class_weight=3.0).minimiser(0.1)
    assert b.b > a.b  # heavier positives push the bias towards predicting them


def test_validation_error_is_the_zero_one_error(logistic: LinearBilevel) -> None:
    m = logistic.minimiser(0.1)
    pred = np.where(logistic.X_val @ m.w + m.b > 0, 1.0, -1.0)
    assert m.val_error == pytest.approx(np.mean(pred != logistic.y_val))
    assert m.value("error") == m.val_error and m.value("loss") == m.val_loss
