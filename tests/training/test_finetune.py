"""Fine-tuning a pretrained backbone: what loads, what trains, what stays frozen."""

from __future__ import annotations

import pytest
import torch

from stalwart.models import build_model
from stalwart.training import TrainingSettings, train_instance
from stalwart.training.finetune import freeze_backbone, load_backbone, parameter_groups
from stalwart.training.weights import read_state, save_weights

from .conftest import blobs

HYBRID = {"model": "hybrid", "dim": 8, "depth": 1, "heads": 2, "stem_channels": [4],
          "epochs": 2, "batch_size": 32, "lr": 3e-3}
CNN = {"model": "small_cnn", "conv_channels": [4], "pool_sizes": [2], "pool_strides": [2],
       "padding": 1, "fc_sizes": [8], "epochs": 2, "batch_size": 32, "lr": 3e-3}


@pytest.fixture(scope="module")
def source_and_target():
    return blobs(seed=1), blobs(seed=2)


def _pretrained(tmp_path, config, source) -> str:
    result = train_instance(config, 0, source, weights_dir=tmp_path)
    assert result.status == "ok", result.error
    return result.weights_path


@pytest.mark.parametrize("config", [HYBRID, CNN], ids=["hybrid", "small_cnn"])
def test_linear_probe_trains_the_head_alone_and_keeps_the_backbone_as_pretrained(
        tmp_path, source_and_target, config) -> None:
    source, target = source_and_target
    backbone = _pretrained(tmp_path / "pre", config, source)
    result = train_instance({**config, "init_from": backbone, "finetune": "linear_probe"}, 0,
                            target, weights_dir=tmp_path / "ft")
    assert result.status == "ok", result.error
    before, after = read_state(backbone), read_state(result.weights_path)
    model = build_model(config, target.input_shape, 3)
    head = {n for n, p in model.named_parameters()
            if any(p is q for q in model.head_layer().parameters())}
    assert head and result.n_params == sum(after[n].numel() for n in head)
    for name, tensor in before.items():
        if name in head or name.startswith(("output_", "feature_")):
            continue
        # weights, BatchNorm running statistics and counters: all as pretrained
        assert torch.equal(tensor, after[name]), name
    assert any(not torch.equal(before[n], after[n]) for n in head)


def test_full_finetuning_starts_from_the_backbone(tmp_path, source_and_target) -> None:
    source, target = source_and_target
    backbone = _pretrained(tmp_path, CNN, source)
    model = build_model(CNN, target.input_shape, 3, generator=torch.Generator().manual_seed(9))
    loaded = load_backbone(model, backbone)
    saved = read_state(backbone)
    assert "features_net.0.weight" in loaded and "head.2.weight" not in loaded
    assert torch.equal(model.state_dict()["features_net.0.weight"], saved["features_net.0.weight"])
    # same seeds with and without the backbone: different results (the start differs)
    plain = train_instance(CNN, 0, target)
    tuned = train_instance({**CNN, "init_from": backbone}, 0, target)
    assert tuned.status == plain.status == "ok"
    assert tuned.metrics["val_loss"] != plain.metrics["val_loss"]


def test_a_backbone_of_another_architecture_is_refused_with_the_key(tmp_path, source_and_target):
    source, target = source_and_target
    backbone = _pretrained(tmp_path, CNN, source)
    result = train_instance({**CNN, "conv_channels": [6], "init_from": backbone}, 0, target)
    assert result.status == "failed"
    assert "init_from: tensor 'features_net.0.weight' has shape (4, 1, 3, 3)" in result.error
    missing = train_instance({**CNN, "init_from": str(tmp_path / "nope.pt")}, 0, target)
    assert "init_from: no weights file" in missing.error
    save_weights({"x": torch.zeros(1)}, tmp_path / "foreign.pt")
    foreign = train_instance({**CNN, "init_from": str(tmp_path / "foreign.pt")}, 0, target)
    assert "init_from:" in foreign.error and "has no tensor" in foreign.error


def test_parameter_groups_split_backbone_head_and_decay() -> None:
    model = build_model(HYBRID, (1, 6, 6), 3)
    s = TrainingSettings.from_config({**HYBRID, "lr": 0.01, "backbone_lr": 0.001,
                                      "weight_decay": 0.05, "decay_norm_bias": False})
    groups = {g["name"]: g for g in parameter_groups(model, s)}
    assert set(groups) == {"backbone", "backbone_no_decay", "head", "head_no_decay"}
    assert groups["backbone"]["lr"] == 0.001 and groups["head"]["lr"] == 0.01
    assert groups["backbone_no_decay"]["weight_decay"] == 0.0
    assert groups["backbone"]["weight_decay"] == 0.05
    no_decay = {id(p) for p in groups["backbone_no_decay"]["params"]}
    assert id(model.norm.weight) in no_decay and id(model.embed.cls) in no_decay
    assert id(model.project.weight) not in no_decay
    n = sum(p.numel() for g in groups.values() for p in g["params"])
    assert n == sum(p.numel() for p in model.parameters())
    freeze_backbone(model)
    probe = parameter_groups(model, TrainingSettings.from_config({**HYBRID}))
    assert [g["name"] for g in probe] == ["head"]


@pytest.mark.parametrize("keys, message", [
    ({"finetune": "linear_probe"}, "finetune: 'linear_probe' trains a head on a pretrained"),
    ({"finetune": "probe"}, "finetune: unknown protocol 'probe'"),
    ({"init_from": 3}, "init_from: must be the path of a weights file"),
    ({"backbone_lr": -1}, "backbone_lr:"),
    ({"init_from": "b.pt", "finetune": "linear_probe", "backbone_lr": 0.1},
     "backbone_lr: a linear probe freezes the backbone"),
    ({"init_from": "b.pt", "finetune": "linear_probe", "training_loss": "at",
      "adv_model_mode": "train"}, "adv_model_mode: a linear probe keeps"),
])
def test_bad_finetuning_keys_are_refused_by_key(keys, message) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        TrainingSettings.from_config({**CNN, **keys})


@pytest.mark.parametrize("family", [
    {"model": "vit", "dim": 8, "depth": 1, "heads": 2, "patch_size": 3},
    {"model": "hybrid", "dim": 8, "depth": 1, "heads": 2, "stem_channels": [4]},
])
def test_transformer_families_draw_every_weight_from_the_seed(family) -> None:
    """Attention's packed projection and the tokens are not Linear layers: they must come
    from the generator too, not from whatever state torch's global RNG is in."""
    states = []
    for global_seed in (0, 1):
        torch.manual_seed(global_seed)
        model = build_model(family, (1, 6, 6), 3, generator=torch.Generator().manual_seed(4))
        states.append(model.state_dict())
    for name in states[0]:
        assert torch.equal(states[0][name], states[1][name]), name


def test_vit_refuses_a_patch_size_that_does_not_divide_the_image() -> None:
    with pytest.raises(ValueError, match="patch_size: 4 does not divide the 6x6 images"):
        build_model({"model": "vit", "dim": 8, "heads": 2, "patch_size": 4}, (1, 6, 6), 3)
