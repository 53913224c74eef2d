"""The user-trainer contract: what a trainer returns decides the instance's status."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from stalwart.core import Config, instance_seed
from stalwart.errors import SpecError
from stalwart.trainers import (
    call_trainer,
    check_for_processes,
    load_trainer,
    make_instance,
    trainer_name,
)

CFG = Config({"lr": 0.1})


def inst(i: int = 0, **kw):
    return make_instance(CFG, i, 7, **kw)


def good(config, instance):
    return {"val_accuracy": 0.5 + config["lr"], "train_loss": 0.25}


def test_a_number_is_the_metric_and_a_mapping_keeps_every_metric():
    r = call_trainer(lambda c, i: 0.75, CFG, inst(), "val_accuracy")
    assert (r.status, r.metrics) == ("ok", {"val_accuracy": 0.75})
    r = call_trainer(good, CFG, inst(3), "val_accuracy")
    assert r.status == "ok" and r.metrics == {"val_accuracy": 0.6, "train_loss": 0.25}
    assert (r.config_id, r.instance, r.seed) == (CFG.id, 3, instance_seed(7, CFG.id, 3))
    r = call_trainer(lambda c, i: np.float32(0.5), CFG, inst(), "m")
    assert r.status == "ok" and r.metrics == {"m": 0.5}


@pytest.mark.parametrize("value", [math.nan, math.inf, {"m": -math.inf, "other": 1.0}])
def test_nan_or_inf_is_diverged(value):
    r = call_trainer(lambda c, i: value, CFG, inst(), "m")
    assert r.status == "diverged" and "non-finite" in r.error


def test_an_exception_is_a_failed_instance_with_its_traceback():
    def boom(config, instance):
        raise RuntimeError("out of memory, pretend")

    r = call_trainer(boom, CFG, inst(), "m")
    assert r.status == "failed"
    assert "Traceback" in r.error and "RuntimeError: out of memory, pretend" in r.error
    assert "boom" in r.error  # the user's frame is in it


@pytest.mark.parametrize("value, words", [
    ("0.5", "returned str"), (None, "returned NoneType"), (True, "bool"),
    ({"other": 1.0}, "lacks the study's metric 'm' (has: other)"),
    ({"m": "high"}, "non-numeric value for 'm'"), ([0.5], "returned list"),
])
def test_a_wrong_type_or_a_missing_metric_is_a_failed_instance(value, words):
    r = call_trainer(lambda c, i: value, CFG, inst(), "m")
    assert r.status == "failed" and words in r.error


def test_instances_are_seeded_like_the_built_in_trainer():
    a, b = inst(0, pool_size=100, train_size=10), inst(1, pool_size=100, train_size=10)
    assert len(a.subsample) == 10 and a.subsample != b.subsample
    assert list(a.subsample) == sorted(a.subsample) and max(a.subsample) < 100
    assert a == inst(0, pool_size=100, train_size=10)  # reproducible
    fixed = [make_instance(CFG, i, 7, variation="init", pool_size=100, train_size=10)
             for i in range(2)]
    assert fixed[0].subsample == fixed[1].subsample
    assert fixed[0].randomness_seed != fixed[1].randomness_seed
    same_init = [make_instance(CFG, i, 7, variation="sampling", pool_size=100, train_size=10)
                 for i in range(2)]
    assert same_init[0].randomness_seed == same_init[1].randomness_seed
    assert same_init[0].subsample != same_init[1].subsample
    assert inst(0).subsample is None


def test_seed_everything_seeds_random_numpy_and_torch():
    import torch

    i = inst(4)
    i.seed_everything()
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    i.seed_everything()
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_artifacts_directory(tmp_path):
    i = inst(2, directory=tmp_path)
    assert i.artifacts == tmp_path / CFG.id / "2" and i.artifacts.is_dir()
    with pytest.raises(RuntimeError):
        _ = inst(2).artifacts


def test_load_trainer_by_name_next_to_the_spec(tmp_path):
    (tmp_path / "trainers_fixture.py").write_text(
        "def train(config, instance):\n    return config['lr'] * 2\nNOT_A_FUNCTION = 3\n")
    fn = load_trainer("trainers_fixture:train", search_path=tmp_path)
    assert fn({"lr": 2}, None) == 4
    assert trainer_name(fn) == "trainers_fixture:train"
    for name, words in [
        ("my_training", "must look like package.module:function"),
        ("no_such_module_xyz:train", "no module named 'no_such_module_xyz'"),
        ("trainers_fixture:missing", "has no 'missing'"),
        ("trainers_fixture:NOT_A_FUNCTION", "is a int, not a function"),
    ]:
        with pytest.raises(SpecError, match=words) as err:
            load_trainer(name, search_path=tmp_path)
        assert str(err.value).startswith("trainer: ")


def test_a_module_that_raises_on_import_is_one_line(tmp_path):
    (tmp_path / "broken_training.py").write_text("raise ImportError('needs keras')\n")
    with pytest.raises(SpecError, match="importing 'broken_training' failed: ImportError: needs keras"):
        load_trainer("broken_training:train", search_path=tmp_path)


def test_lambdas_and_closures_are_refused_for_worker_processes():
    def closure(config, instance):
        return 1.0

    for fn, words in [(lambda c, i: 1.0, "a lambda"),
                      (closure, "a function defined inside another function")]:
        with pytest.raises(SpecError, match=words):
            check_for_processes(fn, "local")
        check_for_processes(fn, "serial")  # runs in this process
        check_for_processes(fn, "ray")  # shipped by value
    check_for_processes(good, "local")
