"""Building models from configs: families, validation, seeding, extra inputs."""

from __future__ import annotations

import pytest
import torch

from stalwart.models import (
    ACTIVATIONS,
    MODEL_FAMILIES,
    build_model,
    check_model_config,
    count_parameters,
)

torch.set_num_threads(1)


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_families_registered() -> None:
    assert {"small_cnn", "mlp", "resnet18"} <= set(MODEL_FAMILIES)


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 8, 8)])
def test_resnet18_one_or_three_channels(shape: tuple[int, ...]) -> None:
    model = build_model({"model": "resnet18", "width": 4}, shape, n_outputs=3)
    assert model(torch.randn(2, *shape)).shape == (2, 3)


def test_resnet18_standard_size() -> None:
    model = build_model({"model": "resnet18"}, (3, 32, 32), n_outputs=10)
    assert count_parameters(model) == 11_173_962  # the usual CIFAR ResNet-18


def test_mlp_flat_and_image_inputs() -> None:
    cfg = {"model": "mlp", "hidden_sizes": [16, 8], "batch_norm": True, "dropout": 0.1}
    flat = build_model(cfg, (10,), n_outputs=2)
    assert flat(torch.randn(4, 10)).shape == (4, 2)
    image = build_model(cfg, (1, 5, 5), n_outputs=2)
    assert image(torch.randn(4, 1, 5, 5)).shape == (4, 2)
    assert count_parameters(flat) == (10 * 16 + 16) + 32 + (16 * 8 + 8) + 16 + (8 * 2 + 2)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_builds(activation: str) -> None:
    cfg = {"model": "small_cnn", "activation": activation, "conv_channels": [4],
           "pool_sizes": [2], "pool_strides": [2], "fc_sizes": [5]}
    model = build_model(cfg, (1, 9, 9), n_outputs=1)
    assert torch.isfinite(model(torch.randn(3, 1, 9, 9))).all()


def test_small_cnn_options() -> None:
    cfg = {"model": "small_cnn", "conv_channels": [8], "conv_bias": True, "padding": 1,
           "pool_sizes": [0], "fc_sizes": [], "kernel_size": 3}
    model = build_model(cfg, (2, 6, 6), n_outputs=4)
    assert count_parameters(model) == (8 * 2 * 9 + 8) + (8 * 36 * 4 + 4)
    no_conv = build_model({"model": "small_cnn", "conv_channels": [], "fc_sizes": [3]},
                          (1, 4, 4), n_outputs=1)
    assert count_parameters(no_conv) == (16 * 3 + 3) + (3 + 1)


def test_stack_too_deep_for_input_is_a_value_error() -> None:
    cfg = {"model": "small_cnn", "pool_sizes": [4, 4], "pool_strides": [4, 4]}
    with pytest.raises(ValueError, match="does not fit"):
        build_model(cfg, (1, 6, 6), n_outputs=1)


def test_check_model_config_messages() -> None:
    assert check_model_config({"model": "small_cnn"}) == []
    # training keys and "_" annotations are not the model's business
    assert check_model_config({"model": "mlp", "lr": 0.1, "optimizer": "sgd", "_note": "x"}) == []
    assert check_model_config({})[0].startswith("model: missing")
    assert check_model_config({"model": "vgg"})[0].startswith("model: unknown family 'vgg'")
    problems = check_model_config({
        "model": "small_cnn", "conv_channels": [8, 8, 8], "fc_sizes": [0], "activation": "swish",
        "dropout": 1.5, "width": 3, "conv_bias": "yes", "extra_inputs": "energy_sum",
    })
    keys = sorted(p.split(":")[0] for p in problems)
    assert keys == ["activation", "conv_bias", "conv_channels", "dropout", "extra_inputs",
                    "fc_sizes", "width"]
    assert "width: unknown key for model 'small_cnn'" in problems
    assert all(": " in p for p in problems)


def test_build_model_rejects_invalid_config() -> None:
    with pytest.raises(ValueError, match="hidden_sizes"):
        build_model({"model": "mlp", "hidden_sizes": "big"}, (4,), 1)


def test_generator_determines_init_and_leaves_global_rng_alone() -> None:
    cfg = {"model": "small_cnn", "init": "kaiming"}
    global_before = torch.random.get_rng_state()
    a = _state(build_model(cfg, (1, 15, 15), 1, generator=torch.Generator().manual_seed(1)))
    b = _state(build_model(cfg, (1, 15, 15), 1, generator=torch.Generator().manual_seed(1)))
    c = _state(build_model(cfg, (1, 15, 15), 1, generator=torch.Generator().manual_seed(2)))
    assert torch.equal(torch.random.get_rng_state(), global_before)
    assert _same(a, b) and not _same(a, c)


@pytest.mark.parametrize("init", ["kaiming", "kaiming_uniform", "xavier", "torch"])
def test_global_seed_determines_init(init: str) -> None:
    cfg = {"model": "mlp", "hidden_sizes": [8], "init": init}
    torch.manual_seed(3)
    a = _state(build_model(cfg, (5,), 2))
    torch.manual_seed(3)
    b = _state(build_model(cfg, (5,), 2))
    assert _same(a, b)


def test_extra_inputs_are_required_and_counted() -> None:
    cfg = {"model": "mlp", "hidden_sizes": [4], "extra_inputs": ["a", "b"]}
    model = build_model(cfg, (3,), 1)
    assert model.n_features == 2
    with pytest.raises(ValueError, match="features"):
        model(torch.randn(2, 3))
    assert model(torch.randn(2, 3), torch.randn(2, 2)).shape == (2, 1)
    assert model.uses_features and not build_model({"model": "mlp"}, (3,), 1).uses_features
    # a model picks its columns from a wider feature table
    x, table = torch.zeros(2, 3), torch.randn(2, 4)
    model.set_feature_columns([3, 1])
    picked = model(x, table)
    model.set_feature_columns([0, 1])
    assert torch.equal(picked, model(x, table[:, [3, 1]]))
    with pytest.raises(ValueError, match="columns"):
        model.set_feature_columns([0])
    with pytest.raises(ValueError, match="n_features"):
        build_model(cfg, (3,), 1, n_features=3)


def test_output_affine_and_feature_normalisation_are_saved_buffers() -> None:
    model = build_model({"model": "mlp", "hidden_sizes": [], "extra_inputs": ["e"]}, (2,), 1)
    model.set_output_affine(torch.tensor([10.0]), torch.tensor([2.0]))
    model.set_feature_normalisation(torch.tensor([5.0]), torch.tensor([0.0]))  # std 0 -> 1
    state = model.state_dict()
    assert {"output_shift", "output_scale", "feature_mean", "feature_std"} <= set(state)
    assert state["feature_std"].item() == 1.0
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    assert model(torch.randn(3, 2), torch.randn(3, 1)).eq(10.0).all()
