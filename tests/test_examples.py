"""The runnable examples run, with fast settings, and say what they found."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_optuna_racing_prunes_and_picks_a_good_config(capsys):
    pytest.importorskip("optuna")
    out = load("optuna_racing").main(["--trials", "8", "--instances", "4", "--epochs", "2"])
    assert out["pruned"] >= 1 and out["trainings"] < 8 * 4
    assert out["value"] > 0.5  # far above chance (0.1) on digits
    assert "trainings:" in capsys.readouterr().out
