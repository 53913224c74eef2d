"""The runnable examples run, with fast settings, and say what they found."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from stalwart.api import StudyResult

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


def test_custom_trainer_selects_a_config_through_the_api(tmp_path):
    # Run as a user runs it: a script whose trainer the local executor's workers import.
    proc = subprocess.run([sys.executable, str(EXAMPLES / "custom_trainer.py"), "--fast",
                           "--directory", str(tmp_path / "s")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "selected {" in proc.stdout and "trainings: " in proc.stdout
    result = StudyResult.load(tmp_path / "s")
    assert result.valid
    df = result.results()
    assert (df.status == "ok").all() and df["val_accuracy"].max() > 0.3
