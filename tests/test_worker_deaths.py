"""SIGKILL worker processes seconds apart: the study must equal an uninterrupted one.

A dying worker breaks Python's process pool, which fails every queued future and
terminates the other workers. Only the trial that was on the dead worker may be charged
an attempt; before that was so, two deaths a few seconds apart marked every queued
training as failed and the study "selected" a config with no valid result.
"""

import os
import random
import signal
import time
from pathlib import Path

import pytest
from processes import SPEC, finished, n_results, processes, snapshot
from test_kill_resume import start

pytestmark = pytest.mark.slow

# Long enough for three kills seconds apart with progress between them: 50 epochs were,
# until the trainer's channels_last layout made these CNN trainings about 1.7x faster.
DEATHS_SPEC = SPEC.replace("name: kill-resume", "name: worker-deaths").replace(
    "epochs: 1,", "epochs: 80,")


def spec_with_retries(n: int) -> str:
    # A run that kills k workers allows k - 1 retries (the default 1 for two deaths, as in
    # the bug report): a queued trial charged for every break (the old bug) fails, while a
    # trial charged only for its own worker's death fails only if all k kills hit it,
    # which waiting for the trials hit so far to finish before the next kill rules out.
    return DEATHS_SPEC.replace("training: {threads: 1}", f"training: {{threads: 1, max_retries: {n}}}")


def worker_pids(driver_pid: int) -> list[int]:
    """The driver's pool workers (spawned children running spawn_main, not the tracker)."""
    return [
        pid
        for pid, ppid, _, _, cmd in processes()
        if ppid == driver_pid and "spawn_main" in cmd and "resource_tracker" not in cmd
    ]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    d = tmp_path_factory.mktemp("deaths")
    spec = d / "spec.yaml"
    spec.write_text(spec_with_retries(1))
    ref = start(spec, d / "ref")
    _, err = ref.communicate(timeout=300)
    assert ref.returncode == 0, err
    return spec, snapshot(d / "ref")


def trial_of(track_root: Path, pid: int) -> str | None:
    """The trial a worker runs, from the marker it writes for the driver
    (``<tmp>/stalwart-workers-*/<pid>`` holding ``config_id:instance``)."""
    for marker in track_root.glob(f"stalwart-workers-*/{pid}"):
        try:
            return marker.read_text()
        except OSError:
            return None
    return None


@pytest.mark.parametrize("n_kills", [2, 3])
def test_workers_killed_seconds_apart_change_nothing(reference, tmp_path, n_kills):
    _, (ref_results, ref_decisions, ref_selection, _) = reference
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_with_retries(n_kills - 1))
    rng = random.Random(100 + n_kills)
    study = tmp_path / "killed"
    track_root = tmp_path / "tmp"  # the driver's temporary directory: its workers' markers
    track_root.mkdir()
    p = start(spec, study, env={**os.environ, "TMPDIR": str(track_root)})
    kills = 0
    hit: set[str] = set()  # trials that were on a killed worker
    try:
        deadline = time.monotonic() + 240
        while kills < n_kills and p.poll() is None and time.monotonic() < deadline:
            # A trial may be charged for every kill only if every kill hits it: before
            # the next kill, wait until the trials hit so far have finished.
            if n_results(study) < 1 or not finished(study, hit):
                time.sleep(0.05)
                continue
            time.sleep(rng.uniform(0.0, 1.5))
            pids = worker_pids(p.pid)
            if not pids:
                time.sleep(0.1)  # a new pool is starting
                continue
            victim = rng.choice(pids)
            before = trial_of(track_root, victim)
            os.kill(victim, signal.SIGKILL)
            kills += 1
            after = trial_of(track_root, victim)  # had it begun another trial meanwhile?
            hit |= {k for k in (before, after) if k}
            time.sleep(rng.uniform(1.5, 3.0))  # "seconds apart"
        _, err = p.communicate(timeout=300)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert kills == n_kills, f"the study ended before every worker was killed: {err}"
    assert p.returncode == 0, err
    results, decisions, selection, events = snapshot(study)
    assert all(status == "ok" for status, _, _ in results.values()), {
        k: v for k, v in results.items() if v[0] != "ok"}
    assert results == ref_results, "same per-instance results as the uninterrupted run"
    assert decisions == ref_decisions
    assert selection == ref_selection
    assert "duplicate_result" not in events
