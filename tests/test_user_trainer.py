"""A spec that names its own trainer (``trainer: module:function``), through the CLI."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from processes import n_results, snapshot

from stalwart.cli import main

TRAINER = textwrap.dedent("""
    import math
    import time

    import numpy as np

    SLEEP = 0.0

    def train(config, instance):
        time.sleep(SLEEP)
        rng = np.random.default_rng(instance.seed)
        if config["lr"] == 0.5:
            raise RuntimeError("exploded on purpose")
        if config["lr"] == 0.7:
            return math.nan
        if config["lr"] == 0.9:
            return "a string"
        return {"val_accuracy": 0.9 - abs(config["lr"] - 0.1) + 0.01 * rng.standard_normal(),
                "first_row": float(instance.subsample[0])}

    NOT_CALLABLE = 3
""")

SPEC = textwrap.dedent("""
    name: user-trainer
    seed: 3
    trainer: {trainer}
    search_space:
      product: {{lr: [0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9]}}
    instances: {{n: 4, train_size: 50, pool_size: 200}}
    metric: {{name: val_accuracy, direction: maximize}}
    strategy: {{name: halving, warmup: 2}}
    training: {{threads: 1}}
""")


def write(tmp_path, trainer="my_training:train", sleep=0.0):
    # A module name of its own per test: Python caches imported modules by name.
    module = "ut_" + "".join(ch if ch.isalnum() else "_" for ch in tmp_path.name)
    (tmp_path / f"{module}.py").write_text(TRAINER.replace("SLEEP = 0.0", f"SLEEP = {sleep}"))
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(trainer=trainer.replace("my_training", module)))
    return spec


def cli(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def values(study_dir):
    results, _, selection, _ = snapshot(study_dir)
    return {k: (status, {m: v for m, v in metrics.items()}, seed)
            for k, (status, metrics, seed) in results.items()}, selection


def test_the_trainer_is_found_next_to_the_spec_and_failures_are_kept(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path.parent)  # not the spec's directory: found through the spec
    spec = write(tmp_path)
    code, _, err = cli(["run", spec, "--study-dir", tmp_path / "s", "--executor", "serial",
                        "--quiet"], capsys)
    assert code == 0, err
    results, selection = values(tmp_path / "s")
    statuses = {}
    for (cid, _), (status, _, _) in results.items():
        statuses.setdefault(cid, set()).add(status)
    assert sorted(map(sorted, statuses.values())).count(["failed"]) == 2  # raised, wrong type
    assert sorted(map(sorted, statuses.values())).count(["diverged"]) == 1
    code, out, _ = cli(["show", tmp_path / "s"], capsys)
    assert code == 0
    assert "RuntimeError: exploded on purpose" in out
    assert "trainer returned str, expected a number or a dict" in out
    code, out, _ = cli(["show", tmp_path / "s", "--errors"], capsys)
    assert "Traceback (most recent call last)" in out and 'raise RuntimeError("exploded' in out


@pytest.mark.parametrize("trainer, words", [
    ("no_such_module:train", "trainer: no module named 'no_such_module'"),
    ("my_training:missing", "trainer: module 'my_training' has no 'missing'"),
    ("my_training:NOT_CALLABLE", "trainer: 'my_training:NOT_CALLABLE' is a int, not a function"),
    ("my_training", "trainer: must look like package.module:function"),
])
def test_a_trainer_that_cannot_be_loaded_is_one_line_before_anything_runs(
        tmp_path, capsys, trainer, words):
    spec = write(tmp_path, trainer=trainer)
    module = spec.read_text().split("trainer: ")[1].split(":")[0].split("\n")[0]
    code, _, err = cli(["run", spec, "--study-dir", tmp_path / "s"], capsys)
    words = words.replace("my_training", module)
    assert code == 2 and err.strip().count("\n") == 0 and words in err, err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("extra, key", [
    ("dataset: {name: digits}", "dataset: not used with a user trainer"),
    ("model: mlp", "model: not used with a user trainer"),
])
def test_settings_a_user_trainer_cannot_honour_are_refused(tmp_path, capsys, extra, key):
    spec = write(tmp_path)
    spec.write_text(spec.read_text() + extra + "\n")
    code, _, err = cli(["run", spec, "--dry-run"], capsys)
    assert code == 2 and key in err, err


def test_local_workers_give_the_serial_results(tmp_path, capsys):
    spec = write(tmp_path)
    assert cli(["run", spec, "--study-dir", tmp_path / "serial", "--executor", "serial",
                "--quiet"], capsys)[0] == 0
    assert cli(["run", spec, "--study-dir", tmp_path / "local", "--workers", "2",
                "--quiet"], capsys)[0] == 0
    assert values(tmp_path / "local") == values(tmp_path / "serial")


@pytest.mark.slow
def test_sigkill_of_the_driver_with_a_user_trainer_loses_and_repeats_nothing(tmp_path):
    spec = write(tmp_path, sleep=0.15)
    ref = subprocess.run([sys.executable, "-m", "stalwart", "run", str(spec), "--study-dir",
                          str(tmp_path / "ref"), "--quiet"], capture_output=True, text=True,
                         timeout=300)
    assert ref.returncode == 0, ref.stderr
    rng = random.Random(7)
    study = tmp_path / "killed"
    kills = 0
    for _ in range(3):
        before = n_results(study)
        p = subprocess.Popen([sys.executable, "-m", "stalwart", "run", str(spec), "--study-dir",
                              str(study), "--quiet"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 120
        while p.poll() is None and n_results(study) < before + rng.randint(1, 4) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        if p.poll() is not None:
            break
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        kills += 1
        assert n_results(study) >= before, "a committed result was lost"
    assert kills >= 2
    final = subprocess.run([sys.executable, "-m", "stalwart", "run", str(spec), "--study-dir",
                            str(study), "--quiet"], capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    assert values(study) == values(tmp_path / "ref")
    _, _, _, events = snapshot(study)
    assert "duplicate_result" not in events


@pytest.mark.slow
@pytest.mark.ray
def test_ray_workers_give_the_local_results(tmp_path, capsys):
    pytest.importorskip("ray")
    spec = write(tmp_path)
    assert cli(["run", spec, "--study-dir", tmp_path / "serial", "--executor", "serial",
                "--quiet"], capsys)[0] == 0
    code, _, err = cli(["run", spec, "--study-dir", tmp_path / "ray", "--executor", "ray",
                        "--quiet"], capsys)
    assert code == 0, err
    assert values(tmp_path / "ray") == values(tmp_path / "serial")
