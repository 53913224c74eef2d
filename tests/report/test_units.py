"""The report's pieces: robustness metric names, steps of a running study, driver state,
escaping and the atomic write."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from stalwart.core import Decision, InstanceResult
from stalwart.errors import UserError
from stalwart.report import html as h
from stalwart.report.build import write_report
from stalwart.report.robustness import (
    EVALUATOR_METRICS,
    clean_key,
    corruption_keys,
    robustness_keys,
)
from stalwart.report.steps import NOW, steps
from stalwart.report.study_data import driver_running, read_study
from stalwart.store import Store

ROOT = Path(__file__).resolve().parents[2]


def test_the_evaluator_names_match_the_registry():
    """Read from the source, so that the test (like the report) never imports torch."""
    tree = ast.parse((ROOT / "src/stalwart/robustness/metrics.py").read_text())
    registry = next(n.value for n in ast.walk(tree) if isinstance(n, ast.AnnAssign)
                    and getattr(n.target, "id", None) == "EVALUATORS")
    assert {k.value for k in registry.keys} == set(EVALUATOR_METRICS)


def test_robustness_metrics_are_found_by_name():
    names = ["val_accuracy", "test_accuracy", "pgd_linf_acc", "my_linf_acc", "adv_accuracy",
             "corruption_acc", "corruption_acc/fog", "epoch3.adv_acc", "log_sensitivity",
             "train_loss", "l2_robust_acc", "mine"]
    assert robustness_keys(names, ["mine"]) == [
        "pgd_linf_acc", "corruption_acc", "log_sensitivity", "adv_accuracy", "l2_robust_acc",
        "mine", "my_linf_acc"]
    assert corruption_keys(names) == ["corruption_acc/fog"]
    assert clean_key(names) == "test_accuracy" and clean_key(["val_accuracy"]) == "val_accuracy"
    assert robustness_keys(["val_accuracy", "val_loss"]) == []


def _r(cid: str, i: int, v: float) -> InstanceResult:
    return InstanceResult(cid, i, 0, metrics={"m": v}, wall_time=1.0)


def test_steps_of_a_running_study_end_with_now():
    results = {"a": [_r("a", i, 1.0) for i in range(3)], "b": [_r("b", i, 2.0) for i in range(3)],
               "c": [_r("c", i, 3.0) for i in range(2)]}
    ds = [Decision(0, "c", "removed", "worse than median", 3.0, 2.0, n_instances=2)]
    got = steps(["a", "b", "c"], ds, results, over=False)
    assert [(s.index, s.n_instances, s.alive, s.removed) for s in got] == [
        (0, 2, ["a", "b", "c"], ["c"]), (NOW, 3, ["a", "b"], [])]
    assert got[0].trainings == 6 and got[-1].trainings == 8 and got[-1].seconds == 8.0
    assert [s.index for s in steps(["a", "b", "c"], ds, results, over=True)] == [0]
    assert [s.index for s in steps(["a", "b", "c"], [], results, over=True)] == [NOW]


def test_a_step_of_configs_skipped_untrained_shows_the_first_instances():
    results = {"a": [_r("a", i, 1.0) for i in range(3)], "b": [_r("b", 0, 2.0)], "c": []}
    ds = [Decision(2, "c", "removed", "skipped untrained: ...", n_instances=0),
          Decision(4, "b", "removed", "worse than a", 2.0, 1.0, n_instances=1),
          Decision(5, "a", "selected", "last survivor", 1.0, n_instances=3)]
    got = steps(["a", "b", "c"], ds, results, over=True)
    assert [(s.index, s.n_instances, s.removed) for s in got] == [
        (2, 1, ["c"]), (4, 1, ["b"]), (5, 3, [])]
    assert got[0].trainings == 2 and got[-1].trainings == 4


def test_a_held_driver_lock_reads_as_running(study_dir, tmp_path):
    if not Path("/proc/locks").exists():
        pytest.skip("no /proc/locks on this system")
    assert driver_running(study_dir) is False
    with Store(study_dir) as store:
        store.acquire_driver()
        assert driver_running(study_dir) is True
        assert read_study(study_dir).state == "finished"  # finished wins over a lock
    assert driver_running(study_dir) is False
    assert driver_running(tmp_path) is False  # no lock file: nobody ever drove it


def test_text_is_escaped_and_numbers_formatted():
    assert h.esc("<a href='x'>&</a>") == "&lt;a href=&#x27;x&#x27;&gt;&amp;&lt;/a&gt;"
    t = h.table(["<h>", "n"], [["<b>", 1.23456789], ["x", float("nan")]])
    assert "&lt;h&gt;" in t and "&lt;b&gt;" in t and "1.235" in t and ">-<" in t
    assert "<b>" not in t and h.pct(0.1234) == "12.3%" and h.plain("$x$") == r"\$x\$"
    page = h.Page("<t>")
    page.section("s", "<s>").add(h.paragraph("<p>"))
    text = page.render(refresh=2.5)
    assert "<title>&lt;t&gt;</title>" in text and 'content="3"' in text
    assert "<p>" not in text.replace('<p class="note">', "")


def test_the_output_is_replaced_in_one_piece(tmp_path):
    out = tmp_path / "r.html"
    out.write_text("old")
    write_report("new", out)
    assert out.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["r.html"]
    with pytest.raises(UserError, match="is a directory"):
        write_report("x", tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        write_report("x", tmp_path / "no" / "r.html")

