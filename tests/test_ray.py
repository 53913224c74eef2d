"""The Ray executor, with real processes: a local Ray instance and a two-node cluster.

Every Ray process a test starts lives in a session of its own (``start_new_session``), and
the tests kill exactly those sessions when they end, pass or fail: ``ray stop`` would also
stop Ray processes of anyone else on the machine. Ray's temporary files go to a short
directory of their own (Ray's socket paths must stay under ~107 characters), and
``RAY_AUTH_MODE=disabled`` keeps Ray from writing a token to ``~/.ray`` for these
loopback-only clusters.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from processes import SPEC as KILL_RESUME_SPEC
from processes import n_results, processes, snapshot

pytest.importorskip("ray")

pytestmark = [pytest.mark.ray, pytest.mark.slow]

RAY = str(Path(sys.executable).with_name("ray"))

SPEC = KILL_RESUME_SPEC.replace("name: kill-resume", "name: ray-study")


# ---- processes ---------------------------------------------------------------------------
def _session(sid: int) -> list[int]:
    """Live (non-zombie) processes of session ``sid``."""
    return [
        pid
        for pid, _, s, state, _ in processes()
        if s == sid and state != "Z" and pid != os.getpid()
    ]


def _kill_sessions(sids: list[int]) -> None:
    """SIGKILL every process of these sessions, until none is left."""
    for _ in range(50):
        left = [pid for sid in sids for pid in _session(sid)]
        if not left:
            return
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    raise AssertionError(f"processes survived SIGKILL: {left}")


def _raylets() -> set[int]:
    return {pid for pid, _, _, state, cmd in processes() if state != "Z" and "raylet/raylet" in cmd}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RayProcesses:
    """Starts processes for a test, each in a session of its own, and kills them all."""

    def __init__(self, tmp: str) -> None:
        self.tmp = Path(tmp)
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled",
                    "RAY_TMPDIR": tmp, "OMP_NUM_THREADS": "1"}
        self.sessions: list[int] = []

    def spawn(self, args: list[str], **kw) -> subprocess.Popen:
        p = subprocess.Popen(args, env=self.env, start_new_session=True, **kw)
        self.sessions.append(p.pid)
        return p

    def stalwart(self, spec: Path, study: Path, *extra: str) -> subprocess.Popen:
        return self.spawn([sys.executable, "-m", "stalwart", "run", str(spec), "--study-dir",
                           str(study), "--quiet", *extra],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def ray_start(self, temp_dir: str, *args: str) -> int:
        """``ray start`` a node; returns the session id its daemons keep."""
        p = self.spawn([RAY, "start", "--num-cpus", "1", "--object-store-memory",
                        str(200 * 2**20), "--temp-dir", str(self.tmp / temp_dir),
                        "--dashboard-agent-listen-port", str(_free_port()), *args],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0, out
        return p.pid


@pytest.fixture
def procs() -> Iterator[RayProcesses]:
    tmp = tempfile.mkdtemp(prefix="st-ray-", dir="/tmp")
    raylets_before = _raylets()
    procs = RayProcesses(tmp)
    try:
        yield procs
    finally:
        _kill_sessions(procs.sessions)
        shutil.rmtree(tmp, ignore_errors=True)
        assert not (_raylets() - raylets_before), "a raylet of this test is still running"


def _finish(p: subprocess.Popen, timeout: float = 240) -> None:
    _, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, err


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "spec.yaml"
    path.write_text(SPEC)
    return path


@pytest.fixture(scope="module")
def reference(spec_file: Path, tmp_path_factory: pytest.TempPathFactory):
    """The study run by the local executor (two worker processes)."""
    study = tmp_path_factory.mktemp("reference") / "study"
    p = subprocess.Popen([sys.executable, "-m", "stalwart", "run", str(spec_file), "--study-dir",
                          str(study), "--quiet"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _finish(p)
    finally:
        _kill_sessions([p.pid])
    snap = snapshot(study)
    assert snap[2] and len(snap[0]) > 8 and all(r[0] == "ok" for r in snap[0].values())
    return snap


def assert_same_study(study: Path, reference) -> None:
    results, decisions, selection, events = snapshot(study)
    ref_results, ref_decisions, ref_selection, _ = reference
    assert selection == ref_selection
    assert results == ref_results, "same per-instance results as the local executor"
    assert decisions == ref_decisions
    assert "duplicate_result" not in events


# ---- tests -------------------------------------------------------------------------------
def test_local_ray_instance_matches_local_executor(spec_file, reference, procs, tmp_path):
    p = procs.stalwart(spec_file, tmp_path / "study", "--executor", "ray")
    _finish(p)
    assert_same_study(tmp_path / "study", reference)
    # The driver's ray.shutdown() stopped the private Ray instance it had started.
    deadline = time.monotonic() + 20
    while _session(p.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _session(p.pid), "Ray processes outlived the driver that started them"


def test_driver_killed_resumes_on_a_new_ray_session(spec_file, reference, procs, tmp_path):
    study = tmp_path / "study"
    first = procs.stalwart(spec_file, study, "--executor", "ray")
    deadline = time.monotonic() + 120
    while first.poll() is None and n_results(study) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.poll() is None, "the study finished before the driver could be killed"
    os.kill(first.pid, signal.SIGKILL)  # the driver alone: Ray must cope with its death
    first.wait()
    assert 4 <= n_results(study) < len(reference[0])
    # A new driver, a new Ray instance: nothing of the first session is needed.
    _finish(procs.stalwart(spec_file, study, "--executor", "ray"))
    assert_same_study(study, reference)


def test_two_node_cluster_survives_the_death_of_a_node(spec_file, reference, procs, tmp_path):
    port = _free_port()
    procs.ray_start("head", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
                    "--include-dashboard=false", "--ray-client-server-port", str(_free_port()))
    node2 = procs.ray_start("node2", "--address", f"127.0.0.1:{port}")
    raylet2 = [pid for pid, _, sid, _, cmd in processes() if sid == node2 and "raylet/raylet" in cmd]
    assert len(raylet2) == 1

    study = tmp_path / "study"
    p = procs.stalwart(spec_file, study, "--executor", "ray", "--address", f"127.0.0.1:{port}")

    def training_on_node2() -> bool:
        return any(s == node2 and cmd.startswith("ray::_train") for _, _, s, _, cmd in processes())

    # Strike once some results are committed and node 2 is training an instance: that
    # instance dies with the node and must be rerun on the head.
    deadline = time.monotonic() + 150
    while p.poll() is None and time.monotonic() < deadline:
        if n_results(study) >= 2 and training_on_node2():
            break
        time.sleep(0.05)
    assert p.poll() is None and training_on_node2(), "never caught node 2 training"
    before = n_results(study)
    os.kill(raylet2[0], signal.SIGKILL)

    _finish(p)
    assert n_results(study) > before
    assert_same_study(study, reference)


def test_an_instance_lost_more_than_max_retries_times_is_reported_failed(tmp_path):
    """The retry bound: Ray reruns a task whose worker dies, then the executor says why."""
    import ray

    from stalwart.core import Config, Trial
    from stalwart.execution.job import TrainingJob
    from stalwart.execution.ray import RayExecutor

    @ray.remote(max_retries=1)
    def dies() -> None:
        os._exit(1)  # a worker lost mid-training, like an OOM kill

    env = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled",
           "RAY_TMPDIR": tempfile.mkdtemp(prefix="st-ray-", dir="/tmp")}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    ex = RayExecutor(max_retries=1, num_cpus=1)
    try:
        ex.start(TrainingJob(dataset_name="iris", dataset_task=None, dataset_root=None,
                             dataset_seed=0, dataset_options={}, study_seed=3,
                             train_size=None, variation="both"))
        assert ex.slots == 1
        config = Config({"model": "mlp", "hidden_sizes": [4], "epochs": 1})
        trial = Trial(config.id, 0)
        ex._refs[dies.remote()] = (trial, config)  # stands in for a training that dies
        ex.submit(Trial(config.id, 1), config)  # and a real one beside it
        results = []
        while ex.n_running:
            results += ex.wait(timeout=60)
        by_instance = {t.instance: r for t, r in results}
        lost = by_instance[0]
        assert lost.status == "failed" and lost.error.startswith("WorkerLost: lost 2 times")
        assert (lost.config_id, lost.instance) == (config.id, 0)
        assert by_instance[1].status == "ok", by_instance[1].error
    finally:
        ex.shutdown()
        assert not ray.is_initialized()
        shutil.rmtree(env["RAY_TMPDIR"], ignore_errors=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
