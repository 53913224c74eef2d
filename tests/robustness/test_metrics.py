"""Metric evaluators and the eval-command engine on the trained digits model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from stalwart.data.base import Dataset
from stalwart.robustness.eval_command import evaluate_checkpoint
from stalwart.robustness.metrics import EVALUATORS, evaluator_params, make_evaluator

torch.set_num_threads(1)


def _dataset(x, y, kind="classification", features=None) -> Dataset:
    return Dataset(name="digits", task="digits", kind=kind, x_train=x, y_train=y, x_val=x,
                   y_val=y, x_test=x, y_test=y, n_classes=10, features_test=features)


@pytest.mark.parametrize(
    "name, params",
    [
        ("pgd_linf_acc", {"eps": 0.1, "steps": 5}),
        ("pgd_l2_acc", {"eps": 0.5, "steps": 5}),
        ("fgsm_acc", {"eps": 0.1}),
        ("apgd_ce_acc", {"eps": 0.1, "steps": 10}),
        ("autoattack_acc", {"eps": 0.1, "steps": 5, "n_target_classes": 2}),
        ("verified_acc", {"eps": 0.01}),
    ],
)
def test_accuracy_metrics(digits_model, name, params):
    model, x, y = digits_model
    evaluate = make_evaluator(name, n_samples=100, batch_size=64, **params)
    model.net.train()
    result = evaluate(model.net, _dataset(x, y))
    assert set(result) == {name}
    assert 0.0 <= result[name] <= 1.0
    assert model.net.training


def test_corruption_and_sensitivity_metrics(digits_model):
    model, x, y = digits_model
    ds = _dataset(x, y)
    out = make_evaluator("corruption_acc", corruptions=["contrast", "rotation"], severity=2,
                         n_samples=80)(model, ds)
    assert set(out) == {"corruption_acc", "corruption_acc/contrast", "corruption_acc/rotation"}
    assert out["corruption_acc"] == pytest.approx(
        (out["corruption_acc/contrast"] + out["corruption_acc/rotation"]) / 2)
    small = make_evaluator("log_sensitivity", eps=0.01, n_samples=50)(model.net, ds)
    large = make_evaluator("log_sensitivity", eps=0.05, n_samples=50, key="sens_05")(model.net, ds)
    assert large["sens_05"] > small["log_sensitivity"]


def test_regression_dataset_rules():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2))
    x, y = torch.rand(30, 5), torch.randn(30, 2)
    ds = _dataset(x, y, kind="regression")
    value = make_evaluator("log_sensitivity", eps=0.1)(model, ds)["log_sensitivity"]
    assert torch.isfinite(torch.tensor(value))
    with pytest.raises(ValueError, match="classification"):
        make_evaluator("pgd_linf_acc")(model, ds)
    rows = evaluate_checkpoint(model, ds, attacks=["pgd_linf"])
    assert [r["kind"] for r in rows] == ["sensitivity"]


def test_features_are_passed_to_models_that_use_them():
    class WithFeatures(nn.Module):
        uses_features = True

        def __init__(self) -> None:
            super().__init__()
            self.body, self.head = nn.Linear(4, 6), nn.Linear(6 + 1, 3)

        def forward(self, x, features=None):
            assert features is not None and features.shape[0] == x.shape[0]
            return self.head(torch.cat([torch.relu(self.body(x)), features], dim=1))

    torch.manual_seed(0)
    x, y, f = torch.rand(40, 4), torch.randint(0, 3, (40,)), torch.randn(40, 1)
    out = make_evaluator("pgd_linf_acc", eps=0.05, steps=3, n_samples=25, batch_size=10)(
        WithFeatures(), _dataset(x, y, features=f))
    assert 0.0 <= out["pgd_linf_acc"] <= 1.0


def test_validation_errors():
    with pytest.raises(ValueError, match="unknown robustness metric 'pgd'"):
        make_evaluator("pgd")
    with pytest.raises(ValueError, match="unknown parameter.*'epsilon'"):
        make_evaluator("pgd_linf_acc", epsilon=0.1)
    assert evaluator_params("pgd_linf_acc")["steps"] == 10
    assert set(EVALUATORS) >= {"pgd_linf_acc", "pgd_l2_acc", "fgsm_acc", "apgd_ce_acc",
                               "autoattack_acc", "corruption_acc", "log_sensitivity",
                               "verified_acc"}


def test_evaluate_checkpoint_rows(digits_model):
    model, x, y = digits_model
    rows = evaluate_checkpoint(model.net, _dataset(x, y), attacks=["fgsm", "pgd_linf"],
                               corruptions=["gaussian_noise"], severity=3, eps=0.1, steps=5,
                               n_samples=100)
    assert [(r["kind"], r["name"]) for r in rows] == [
        ("clean", "clean"), ("attack", "fgsm"), ("attack", "pgd_linf"),
        ("corruption", "gaussian_noise"), ("corruption", "mean"),
        ("verified", "verified_accuracy"), ("sensitivity", "log_sensitivity")]
    assert all(r["n_samples"] == 100 for r in rows)
    assert [r.get("steps") for r in rows[1:3]] == [1, 5]
    by_name = {r["name"]: r["value"] for r in rows}
    assert by_name["pgd_linf"] <= by_name["clean"]
    # A model IBP cannot bound (not a Sequential tree) still gets its accuracy rows.
    rows = evaluate_checkpoint(model, _dataset(x, y), attacks=[], n_samples=50)
    assert [r["kind"] for r in rows] == ["clean"]
    with pytest.raises(ValueError, match="unknown attack or corruption"):
        evaluate_checkpoint(model, _dataset(x, y), attacks=["nope"])
