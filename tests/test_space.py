from stalwart.space import expand
from stalwart.spec import StudySpec


def spec_with(space) -> StudySpec:
    # model_validate only: the space logic needs no registries
    return StudySpec.model_validate({"dataset": {"name": "digits"}, "model": "mlp", "search_space": space})


def test_product_times_fixed_in_order():
    configs = expand(spec_with({"fixed": {"epochs": 2}, "product": {"lr": [0.1, 0.01], "batch_size": [8, 16]}}))
    assert [(c["lr"], c["batch_size"]) for c in configs] == [(0.1, 8), (0.1, 16), (0.01, 8), (0.01, 16)]
    assert all(c["epochs"] == 2 and c["model"] == "mlp" for c in configs)


def test_explicit_configs_merge_over_fixed_and_duplicates_drop():
    configs = expand(spec_with({
        "fixed": {"epochs": 2, "lr": 0.1},
        "product": {"lr": [0.1, 0.01]},
        "configs": [{"lr": 0.1}, {"lr": 0.5, "epochs": 3}],
    }))
    assert [(c["lr"], c["epochs"]) for c in configs] == [(0.1, 2), (0.01, 2), (0.5, 3)]


def test_list_of_blocks_is_a_union():
    configs = expand(spec_with([
        {"fixed": {"model": "mlp"}, "product": {"lr": [0.1]}},
        {"fixed": {"model": "small_cnn"}, "product": {"lr": [0.1, 0.2]}},
    ]))
    assert [c["model"] for c in configs] == ["mlp", "small_cnn", "small_cnn"]


def test_ids_are_stable_across_expansions():
    s = spec_with({"product": {"lr": [0.1, 0.01]}})
    assert [c.id for c in expand(s)] == [c.id for c in expand(s)]
