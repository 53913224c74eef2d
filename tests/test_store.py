import math
import subprocess
import sys

import pytest

from stalwart.core import Config, Decision, InstanceResult
from stalwart.errors import StudyLockedError, UserError
from stalwart.store import Store


def make_store(tmp_path):
    store = Store(tmp_path / "s", create=True)
    store.initialise("spec: 1\n", "identity", [Config(lr=0.1), Config(lr=0.2)])
    return store


def test_missing_study_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no study here"):
        Store(tmp_path / "nothing")


def test_results_round_trip_with_nan_and_failures(tmp_path):
    store = make_store(tmp_path)
    cid = Config(lr=0.1).id
    ok = InstanceResult(cid, 0, 123, metrics={"val_loss": 0.25, "val_accuracy": math.nan},
                        train_loss=0.3, epochs=2, wall_time=1.5, n_params=10)
    bad = InstanceResult(cid, 1, 124, status="failed", error="RuntimeError: boom")
    assert store.record(ok) and store.record(bad)
    assert not store.record(ok), "a second record of the same instance is ignored"
    got = store.results()
    assert got[(cid, 0)].metrics["val_loss"] == 0.25
    assert math.isnan(got[(cid, 0)].metrics["val_accuracy"])
    assert got[(cid, 1)].status == "failed" and got[(cid, 1)].error == "RuntimeError: boom"
    assert got[(cid, 0)].seed == 123 and store.n_results() == 2
    assert [c.id for c in store.configs()] == [Config(lr=0.1).id, Config(lr=0.2).id]


def test_huge_seed_survives(tmp_path):
    store = make_store(tmp_path)
    cid = Config(lr=0.1).id
    store.record(InstanceResult(cid, 0, 2**63 - 1))
    assert store.results()[(cid, 0)].seed == 2**63 - 1


def test_decisions_are_stored_once(tmp_path):
    store = make_store(tmp_path)
    d = Decision(1, "abc", "removed", "worse than median", value=2.0, threshold=1.0, n_instances=3)
    store.record_decisions([d])
    store.record_decisions([d])
    assert store.decisions() == [d]


def test_second_driver_is_refused_until_the_first_dies(tmp_path):
    store = make_store(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from stalwart.store import Store; s = Store(sys.argv[1]); "
         "s.acquire_driver(); print('locked', flush=True); time.sleep(60)", str(tmp_path / "s")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StudyLockedError, match="another driver"):
            store.acquire_driver()
    finally:
        holder.kill()
        holder.wait()
    store.acquire_driver()  # the kernel released the dead driver's lock
    store.close()
