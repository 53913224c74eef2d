"""SIGKILL the driver at random moments; the resumed study must equal an uninterrupted one.

Real processes: ``stalwart run`` with two worker processes on a small calorimeter study.
"""

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from processes import SPEC, n_results, snapshot

pytestmark = pytest.mark.slow

def _as_from_a_terminal() -> None:
    # A shell that runs a job in the background with `&` (as CI may) makes it ignore
    # SIGINT, and Python keeps an inherited ignore; a driver started from a terminal
    # has the default disposition, which is what these tests are about.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(spec, study_dir, env=None):
    return subprocess.Popen([sys.executable, "-m", "stalwart", "run", str(spec), "--study-dir",
                             str(study_dir), "--quiet"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_as_from_a_terminal, env=env)


def test_sigkill_at_random_points_loses_nothing(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    ref = start(spec, tmp_path / "ref")
    _, err = ref.communicate(timeout=300)
    assert ref.returncode == 0, err
    ref_results, ref_decisions, ref_selection, _ = snapshot(tmp_path / "ref")
    assert ref_selection and len(ref_results) > 8

    rng = random.Random(2026)
    study = tmp_path / "killed"
    kills = 0
    for _ in range(4):
        before = n_results(study)
        p = start(spec, study)
        # Kill at a random point: sometimes at start-up, mostly while instances train.
        target = before + rng.randint(0, 4)
        deadline = time.monotonic() + 120
        while p.poll() is None and n_results(study) < target and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.4))
        if p.poll() is not None:
            break  # it finished before we struck
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        kills += 1
        assert n_results(study) >= before, "a committed result was lost"
    assert kills >= 3
    final = start(spec, study)
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err

    results, decisions, selection, events = snapshot(study)
    assert selection == ref_selection
    assert results == ref_results, "same per-instance results as the uninterrupted run"
    assert decisions == ref_decisions
    assert "duplicate_result" not in events


def test_second_driver_is_refused(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("epochs: 1", "epochs: 200"))  # a driver that stays busy
    first = start(spec, tmp_path / "s")
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "s" / "driver.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        second = subprocess.run([sys.executable, "-m", "stalwart", "run", str(spec), "--study-dir",
                                 str(tmp_path / "s")], capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert "being run by another driver" in second.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()


def test_ctrl_c_stops_cleanly_and_resumes(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("epochs: 1", "epochs: 3"))
    p = start(spec, tmp_path / "s")
    deadline = time.monotonic() + 120
    while n_results(tmp_path / "s") < 2 and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends: the whole group
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "Traceback" not in err and "run the same command again to resume" in err
    done = n_results(tmp_path / "s")
    assert done >= 2
    final = start(spec, tmp_path / "s")
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    _, _, selection, events = snapshot(tmp_path / "s")
    assert selection and "duplicate_result" not in events
