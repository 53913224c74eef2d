import pytest
from fakes import FakeExecutor, fake_value

from stalwart.errors import UserError
from stalwart.selection import get_criterion, ranking
from stalwart.space import expand
from stalwart.spec import StudySpec
from stalwart.study import open_study, run_study


def make_spec(strategy="halving", n=6, budget=None, seed=0, **params) -> StudySpec:
    lrs = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.9, 0.002, 0.005, 0.02]
    return StudySpec.model_validate({
        "name": "fake",
        "seed": seed,
        "dataset": {"name": "digits"},
        "search_space": {"product": {"lr": lrs}, "fixed": {"noise": 0.4}},
        "instances": {"n": n},
        "metric": {"name": "val_loss", "direction": "minimize"},
        "strategy": {"name": strategy, **params},
        "budget": {"max_trainings": budget},
    })


def run(spec, tmp_path, name="study", **kw):
    store = open_study(spec, tmp_path / name)
    store.acquire_driver()
    ex = FakeExecutor(**kw)
    try:
        outcome = run_study(spec, store, ex)
    finally:
        results, decisions = store.results(), store.decisions()
        store.close()
    return outcome, ex, results, decisions


def test_exhaustive_selects_the_table_best(tmp_path):
    spec = make_spec("exhaustive", n=5)
    outcome, ex, results, _ = run(spec, tmp_path)
    configs = expand(spec)
    assert outcome.n_trainings == len(ex.trained) == len(configs) * 5
    values = {c.id: [fake_value(c, i) for i in range(5)] for c in configs}
    best = ranking(values, get_criterion("mean"), "minimize")[0]
    assert outcome.selection.id == best


def test_halving_trains_less_and_records_divergence(tmp_path):
    spec = make_spec("halving", n=6, warmup=2)
    outcome, ex, results, decisions = run(spec, tmp_path)
    assert outcome.n_trainings < outcome.n_exhaustive
    assert len(ex.trained) == len(set(ex.trained)), "no instance trained twice"
    diverged = [r for r in results.values() if r.status == "diverged"]
    assert diverged and all(r.config_id != outcome.selection.id for r in diverged)
    removed = {d.config_id for d in decisions if d.action == "removed"}
    assert {r.config_id for r in diverged} <= removed
    assert outcome.selection.id not in removed


@pytest.mark.parametrize("strategy,params", [("halving", {"warmup": 2}), ("racing", {"start": 3}),
                                             ("exhaustive", {})])
@pytest.mark.parametrize("stop_after", [1, 7, 23])
def test_resume_after_interrupt_equals_uninterrupted(tmp_path, strategy, params, stop_after):
    spec = make_spec(strategy, n=6, **params)
    ref, _, ref_results, ref_decisions = run(spec, tmp_path, "ref")
    with pytest.raises(KeyboardInterrupt):
        run(spec, tmp_path, "resumed", interrupt_after=stop_after)
    outcome, ex, results, decisions = run(spec, tmp_path, "resumed")
    assert len(ex.trained) == ref.n_trainings - stop_after, "stored instances are not retrained"
    assert outcome.selection.id == ref.selection.id
    assert set(results) == set(ref_results)
    assert [(d.step, d.config_id, d.action) for d in decisions] == \
           [(d.step, d.config_id, d.action) for d in ref_decisions]


def test_budget_caps_trainings(tmp_path):
    outcome, ex, _, _ = run(make_spec("exhaustive", n=5, budget=17), tmp_path)
    assert outcome.n_trainings == 17 and outcome.selection is not None


def test_resuming_with_another_spec_is_refused(tmp_path):
    run(make_spec("halving", warmup=2), tmp_path)
    with pytest.raises(UserError, match="different spec"):
        open_study(make_spec("halving", warmup=2, seed=5), tmp_path / "study")
    # a bigger budget or other workers are the same study
    open_study(make_spec("halving", warmup=2, budget=1000), tmp_path / "study").close()


def test_adaptive_surrogate_gets_the_configs_hyperparameters_from_the_study(tmp_path):
    spec = make_spec("adaptive", n=6)
    spec = StudySpec.model_validate({
        **spec.model_dump(), "strategy": {"name": "adaptive", "surrogate": 0.5, "parallel": 1},
        "search_space": {"product": {
            "lr": [0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3],
            "noise": [0.1, 0.2, 0.3, 0.4]}}})
    outcome, ex, _, decisions = run(spec, tmp_path)
    configs = expand(spec)
    skipped = [d for d in decisions if d.action == "removed" and d.n_instances == 0]
    assert skipped and all(d.reason.startswith("skipped untrained") for d in skipped)
    assert len({t.config_id for t in ex.trained}) < len(configs)  # some never trained
    assert abs(outcome.selection.get("lr") - 0.01) < 1e-12  # fake_value's best level
    # the same spec again: the same skips (their order follows the config ids only)
    again = run(spec, tmp_path, name="again")[3]
    assert again == decisions


def test_adaptive_surrogate_on_a_single_axis_is_refused_before_training(tmp_path):
    from stalwart.validation import check_spec

    spec = make_spec("adaptive", n=6, surrogate=0.5)  # lr alone: one level per config
    with pytest.raises(UserError, match="^strategy: adaptive.surrogate: no hyperparameter "):
        check_spec(spec)
