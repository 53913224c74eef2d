import textwrap

import pytest

from stalwart.errors import SpecError
from stalwart.validation import load_spec, parse_spec


def base_spec(**over):
    spec = {
        "name": "t",
        "dataset": {"name": "calorimeter", "task": "energy"},
        "model": "small_cnn",
        "search_space": {
            "fixed": {"epochs": 1, "conv_channels": [4, 8], "fc_sizes": [8]},
            "product": {"lr": [0.001, 0.01], "batch_size": [32, 64]},
        },
        "instances": {"n": 4, "train_size": 200},
        "metric": {"name": "val_rmse_rel", "direction": "minimize"},
        "strategy": {"name": "halving", "warmup": 2},
    }
    spec.update(over)
    return spec


def error_of(data) -> str:
    with pytest.raises(SpecError) as exc:
        parse_spec(data)
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_valid_spec_parses_with_defaults_and_shorthands():
    spec = parse_spec(base_spec(criterion="pd", strategy="exhaustive"))
    assert spec.criterion.name == "pd" and spec.strategy.name == "exhaustive"
    assert spec.instances.variation == "both" and spec.seed == 0


def test_strategy_params_travel_as_extras():
    spec = parse_spec(base_spec())
    assert spec.strategy.params == {"warmup": 2}


def test_unknown_key_is_named():
    assert error_of(base_spec(datset={})) == "datset: unknown key"
    data = base_spec()
    data["instances"]["nn"] = 3
    assert error_of(data) == "instances.nn: unknown key"


def test_wrong_type_and_impossible_value_are_named():
    data = base_spec()
    data["instances"]["n"] = "many"
    assert error_of(data).startswith("instances.n: ")
    data = base_spec()
    data["instances"]["n"] = 0
    assert error_of(data).startswith("instances.n: ")


def test_grid_value_error_names_its_index():
    data = base_spec()
    data["search_space"]["product"]["lr"] = [0.001, 0.01, -1.0]
    msg = error_of(data)
    assert msg.startswith("search_space.product.lr[2]: "), msg


def test_fixed_and_explicit_config_errors_are_named():
    data = base_spec()
    data["search_space"]["fixed"]["optimizer"] = "sgdd"
    assert error_of(data).startswith("search_space.fixed.optimizer: ")
    data = base_spec()
    data["search_space"]["configs"] = [{"lr": 0.1}, {"lr": 0.1, "bogus_key": 1}]
    assert error_of(data).startswith("search_space.configs[1].bogus_key: ")


def test_unknown_dataset_strategy_and_criterion():
    assert error_of(base_spec(dataset={"name": "nope"})).startswith("dataset.name: unknown dataset 'nope'")
    assert error_of(base_spec(strategy={"name": "magic"})).startswith("strategy: ")
    assert error_of(base_spec(strategy={"name": "halving", "warmupp": 3})).startswith("strategy: ")
    assert error_of(base_spec(criterion={"name": "median_of_means"})).startswith("criterion: ")


def test_nan_in_spec_is_rejected():
    data = base_spec()
    data["search_space"]["fixed"]["weight_decay"] = float("nan")
    assert error_of(data) == "search_space.fixed.weight_decay: must be a finite number"


def test_load_spec_file_errors(tmp_path):
    with pytest.raises(SpecError, match="no such spec file"):
        load_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match=r"invalid YAML \(line"):
        load_spec(bad)
    notmap = tmp_path / "list.yaml"
    notmap.write_text("- 1\n- 2\n")
    with pytest.raises(SpecError, match="must be a YAML mapping"):
        load_spec(notmap)


def test_load_spec_reads_yaml(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(textwrap.dedent("""
        dataset: {name: digits}
        model: mlp
        search_space:
          product: {lr: [0.01, 0.1]}
          fixed: {epochs: 1}
        metric: {name: val_accuracy, direction: maximize}
    """))
    spec = load_spec(p)
    assert spec.dataset.name == "digits" and spec.metric.direction == "maximize"


def test_identity_ignores_workers_and_budget():
    a = parse_spec(base_spec(workers=1))
    b = parse_spec(base_spec(workers=2, budget={"max_trainings": 10}))
    c = parse_spec(base_spec(seed=1))
    assert a.identity() == b.identity() != c.identity()
