"""Training keys: defaults and ``"key: message"`` validation."""

from __future__ import annotations

import pytest

from stalwart.training import (
    TRAINING_DEFAULTS,
    TRAINING_KEYS,
    TrainingSettings,
    check_training_config,
)


def test_keys_and_defaults() -> None:
    assert TRAINING_KEYS == frozenset(TRAINING_DEFAULTS)
    assert {"optimizer", "lr", "batch_size", "epochs", "weight_decay", "l2", "schedule",
            "patience", "grad_clip", "momentum", "nesterov", "betas"} <= TRAINING_KEYS
    s = TrainingSettings.from_config({"model": "mlp"})
    assert (s.optimizer, s.lr, s.batch_size, s.epochs) == ("adamw", 1e-3, 64, 10)
    assert s.patience is None and s.grad_clip is None and s.restore_best


def test_valid_config_has_no_problems() -> None:
    cfg = {"optimizer": "sgd", "momentum": 0.9, "nesterov": True, "lr": 0.1, "epochs": 3,
           "schedule": "onecycle", "patience": 2, "grad_clip": 1.0, "l2": 1e-4,
           "weight_decay": 0.01, "betas": [0.8, 0.99], "unrelated_model_key": 1}
    assert check_training_config(cfg) == []


def test_problems_name_their_key() -> None:
    problems = check_training_config({
        "optimizer": "lbfgs", "lr": 0, "batch_size": 0, "epochs": 1.5, "betas": [0.9],
        "schedule": "step", "patience": 0, "grad_clip": -1, "l2": -1, "weight_decay": "x",
        "loss": "hinge", "restore_best": 1,
    })
    keys = sorted(p.split(":")[0] for p in problems)
    assert keys == sorted(["optimizer", "lr", "batch_size", "epochs", "betas", "schedule",
                           "patience", "grad_clip", "l2", "weight_decay", "loss",
                           "restore_best"])
    assert "optimizer: unknown optimizer 'lbfgs' (known: sgd, adam, adamw, nadam, radam)" in problems


def test_nesterov_needs_sgd_momentum() -> None:
    assert check_training_config({"optimizer": "adam", "nesterov": True}) == [
        "nesterov: needs optimizer 'sgd' with momentum > 0"
    ]


def test_from_config_raises_with_all_problems() -> None:
    with pytest.raises(ValueError, match="lr: .*; epochs: "):
        TrainingSettings.from_config({"lr": -1, "epochs": 0})
