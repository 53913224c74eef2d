"""The executor registry: one name per executor, read by the CLI and by stalwart.study.run."""

import sys

import pytest

from stalwart.cli import build_parser
from stalwart.errors import UserError
from stalwart.execution import EXECUTORS, make_executor
from stalwart.execution.base import SerialExecutor


def test_names_and_the_cli_choices_are_the_registry():
    assert list(EXECUTORS) == ["local", "serial", "ray"]
    args = build_parser().parse_args(["run", "spec.yaml"])
    assert args.executor == "local"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "spec.yaml", "--executor", "dask"])


def test_builds_by_name():
    assert isinstance(make_executor("serial"), SerialExecutor)
    local = make_executor("local", workers=3, max_retries=2)
    assert (type(local).__name__, local.slots, local.max_retries) == ("LocalExecutor", 3, 2)


@pytest.mark.parametrize(("name", "workers", "message"), [
    ("dask", None, "--executor: unknown executor 'dask' (choose from local, serial, ray)"),
    ("local", 0, "--workers: must be >= 1"),
])
def test_bad_choices_are_one_line_user_errors(name, workers, message):
    with pytest.raises(UserError) as err:
        make_executor(name, workers=workers)
    assert str(err.value) == message


def test_missing_ray_is_a_one_line_user_error(monkeypatch):
    monkeypatch.delitem(sys.modules, "stalwart.execution.ray", raising=False)
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without Ray looks like
    with pytest.raises(UserError) as err:
        make_executor("ray")
    message = str(err.value)
    assert message.startswith("--executor ray: ") and "pip install 'stalwart[ray]'" in message
    assert "\n" not in message


def test_importing_the_registry_imports_no_executor():
    import subprocess

    code = ("import sys, stalwart.execution; "
            "print(sorted(m for m in ('ray', 'torch', 'stalwart.execution.local', "
            "'stalwart.execution.ray') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_lost_pool_resubmits_the_dead_workers_trial_first_then_in_submission_order(monkeypatch):
    from stalwart.core import Config, Trial
    from stalwart.execution.local import LocalExecutor

    ex = LocalExecutor(2, max_retries=1)
    configs = {c: Config(lr=i) for i, c in enumerate("abcd")}
    trials = [Trial(c, 0) for c in "abcd"]
    for i, t in enumerate(trials):
        ex._order[t] = i
    resubmitted: list[Trial] = []
    monkeypatch.setattr(ex, "_new_pool", lambda: None)
    monkeypatch.setattr(ex, "submit", lambda t, config: resubmitted.append(t))
    monkeypatch.setattr(ex, "_dead_workers_trials", lambda: {"c:0": "killed by SIGKILL"})
    lost = [(trials[i], configs[trials[i].config_id]) for i in (3, 1, 2, 0)]  # a set's order, as the pool fails them
    assert ex._recover(lost) == []
    assert [t.config_id for t in resubmitted] == ["c", "a", "b", "d"]
    assert ex._deaths == {trials[2]: 1}, "only the trial on the dead worker is charged"
    resubmitted.clear()
    failed = ex._recover([(t, configs[t.config_id]) for t in trials])  # the same worker's trial dies again
    assert [t.config_id for t, _ in failed] == ["c"] and len(resubmitted) == 3
    assert "died 2 times" in failed[0][1].error
