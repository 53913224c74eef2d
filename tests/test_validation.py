"""stalwart.validation: structure (stalwart.spec) plus names (the registries), and the metric check."""

import subprocess
import sys

import pytest
from test_spec import base_spec

import stalwart.data
from stalwart.errors import DataError, SpecError
from stalwart.spec import parse_structure
from stalwart.validation import check_metric, parse_spec


def test_the_spec_layer_checks_structure_only():
    spec = parse_structure(base_spec(dataset={"name": "nope"}))  # names are validation's job
    assert spec.dataset.name == "nope"
    with pytest.raises(SpecError, match="^dataset.name: unknown dataset 'nope'"):
        parse_spec(base_spec(dataset={"name": "nope"}))
    with pytest.raises(SpecError, match="^instances.nn: unknown key$"):
        parse_structure(base_spec(instances={"nn": 1}))


def test_importing_the_spec_layer_imports_no_registry():
    code = ("import sys, stalwart.spec; print(sorted(m for m in ('stalwart.validation', "
            "'stalwart.space', 'stalwart.selection', 'stalwart.data', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.fixture
def no_loading(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the metric check loaded the dataset")

    monkeypatch.setattr(stalwart.data, "_load_cached", refuse)


@pytest.mark.parametrize(("dataset", "metric"), [
    ({"name": "calorimeter", "task": "energy"}, "val_rmse_rel"),
    ({"name": "calorimeter", "task": "position"}, "test_rmse"),
    ({"name": "calorimeter"}, "val_loss"),
    ({"name": "cifar10", "root": "/nowhere", "options": {"download": False}}, "val_accuracy"),
    ({"name": "digits"}, "test_accuracy"),
])
def test_reported_metrics_pass_without_loading_the_dataset(no_loading, dataset, metric):
    check_metric(parse_spec(base_spec(dataset=dataset, metric={"name": metric})))


def test_an_unreported_metric_names_the_reported_ones(no_loading):
    spec = parse_spec(base_spec(dataset={"name": "calorimeter", "task": "position"}))
    with pytest.raises(SpecError) as err:
        check_metric(spec)  # base_spec asks for val_rmse_rel, the energy task's metric
    assert str(err.value) == ("metric.name: 'val_rmse_rel' is not reported for dataset 'calorimeter' "
                              "(choose from test_loss, test_rmse, val_loss, val_rmse)")


def test_an_evaluator_reports_its_metric(no_loading):
    spec = parse_spec(base_spec(metric={"name": "pgd_linf_acc", "direction": "maximize",
                                        "evaluators": [{"name": "pgd_linf_acc", "eps": 0.1}]}))
    check_metric(spec)


def test_an_unknown_task_is_a_one_line_data_error(no_loading):
    spec = parse_spec(base_spec(dataset={"name": "calorimeter", "task": "momentum"}))
    with pytest.raises(DataError, match="^unknown task 'momentum' for dataset 'calorimeter'; "
                                        "valid tasks: energy, position$"):
        check_metric(spec)
