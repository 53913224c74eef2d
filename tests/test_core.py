import math

import pytest

from stalwart.core import Config, InstanceResult, instance_seed


def test_config_id_ignores_key_order_and_tuple_vs_list():
    a = Config({"lr": 0.01, "conv_channels": (8, 16)})
    b = Config({"conv_channels": [8, 16], "lr": 0.01})
    assert a.id == b.id and a == b and len(a.id) == 12


def test_config_id_distinguishes_values_and_int_from_float():
    assert Config(lr=0.01).id != Config(lr=0.02).id
    assert Config(epochs=1).id != Config(epochs=1.0).id


def test_config_is_immutable_and_round_trips_json():
    c = Config({"a": [1, 2], "b": {"c": True}})
    with pytest.raises(TypeError):
        c["a"] = 3  # type: ignore[index]
    assert Config.from_json(c.to_json()).id == c.id


def test_config_rejects_non_finite_and_objects():
    with pytest.raises(ValueError):
        Config(lr=math.nan)
    with pytest.raises(TypeError):
        Config(x=object())


def test_instance_seed_depends_on_every_part():
    base = instance_seed(0, "abc", 0)
    assert base == instance_seed(0, "abc", 0)
    assert len({base, instance_seed(1, "abc", 0), instance_seed(0, "abd", 0), instance_seed(0, "abc", 1)}) == 4
    assert 0 <= base < 2**63


def test_result_value_is_nan_unless_ok():
    ok = InstanceResult("c", 0, 1, metrics={"val_loss": 0.5})
    assert ok.value("val_loss") == 0.5 and math.isnan(ok.value("missing"))
    bad = InstanceResult("c", 0, 1, status="diverged", metrics={"val_loss": 0.5})
    assert math.isnan(bad.value("val_loss"))
    assert InstanceResult.from_dict(ok.to_dict()) == ok
