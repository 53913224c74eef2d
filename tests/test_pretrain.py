"""``stalwart pretrain``, then a fine-tuning grid over the backbones it wrote (bundle axes)."""

from __future__ import annotations

import json

import pytest
import yaml

from stalwart.cli import main
from stalwart.store import Store

CNN = {"model": "small_cnn", "conv_channels": [4], "pool_sizes": [2], "pool_strides": [2],
       "padding": 1, "fc_sizes": [8]}
MLP = {"model": "mlp", "hidden_sizes": [16]}
DIGITS = {"name": "digits", "options": {"as_image": True}}


def _write(path, data) -> str:
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.fixture(scope="module")
def backbones(tmp_path_factory):
    d = tmp_path_factory.mktemp("pretrain")
    spec = _write(d / "pre.yaml", {
        "name": "pre", "seed": 3, "dataset": DIGITS,
        "search_space": {"fixed": {"epochs": 2, "batch_size": 64},
                         "configs": [{"_name": "cnn", **CNN},
                                     {"_name": "cnn_adv", **CNN, "training_loss": "at",
                                      "adv_steps": 2, "robust_eps": 0.05}]},
        "instances": {"n": 1}, "metric": {"name": "val_accuracy", "direction": "maximize"},
        "strategy": {"name": "exhaustive"}})
    assert main(["pretrain", spec, "--out", str(d / "bb")]) == 0
    return d


def test_pretrain_writes_each_backbone_with_its_description(backbones, capsys) -> None:
    described = json.loads((backbones / "bb" / "cnn_adv.safetensors.json").read_text())
    assert described["kind"] == "adversarial (at)" and described["model"] == CNN
    assert described["dataset"]["name"] == "digits" and "val_accuracy" in described["metrics"]
    assert (backbones / "bb" / "cnn.safetensors").is_file()
    # a rerun trains nothing
    spec = str(backbones / "pre.yaml")
    assert main(["pretrain", spec, "--out", str(backbones / "bb")]) == 0
    out = capsys.readouterr().out
    assert out.count("already pretrained") == 2


def _grid(d, backbone_bundles, **extra):
    return _write(d / "ft.yaml", {
        "name": "ft", "seed": 4, "dataset": DIGITS,
        "search_space": [
            {"fixed": {"epochs": 2, "batch_size": 64, "decay_norm_bias": False,
                       "backbone_lr": 0.001},
             "product": {"backbone": backbone_bundles, "training_loss": ["task", "trades"]}},
            {"fixed": {"epochs": 2, "batch_size": 64, "finetune": "linear_probe", "lr": 0.01},
             "product": {"backbone": backbone_bundles}}],
        "instances": {"n": 1}, "metric": {"name": "val_accuracy", "direction": "maximize"},
        "strategy": {"name": "exhaustive"}, **extra})


def test_a_grid_over_backbones_and_protocols_runs(backbones, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(backbones)  # init_from paths are relative to where stalwart runs
    bundles = [{**CNN, "init_from": "bb/cnn.safetensors"},
               {**CNN, "init_from": "bb/cnn_adv.safetensors"}]
    spec = _grid(tmp_path, bundles)
    assert main(["run", spec, "--study-dir", str(tmp_path / "s"), "--executor", "serial",
                 "--quiet"]) == 0
    with Store(tmp_path / "s") as store:
        configs, results = store.configs(), store.results()
    assert len(configs) == 6  # 2 backbones x 2 losses (full) + 2 linear probes
    assert {c["init_from"] for c in configs} == {"bb/cnn.safetensors", "bb/cnn_adv.safetensors"}
    assert all(r.status == "ok" for r in results.values())
    probes = [r for (cid, _), r in results.items()
              if next(c for c in configs if c.id == cid).get("finetune") == "linear_probe"]
    assert len(probes) == 2 and all(r.n_params == 8 * 10 + 10 for r in probes)


@pytest.mark.parametrize("bundle, message", [
    ({**CNN, "init_from": "bb/missing.safetensors"},
     "search_space[0].product.backbone[1].init_from: no weights file 'bb/missing.safetensors'"),
    ({**CNN, "conv_channels": [6], "init_from": "bb/cnn.safetensors"},
     "search_space[0].product.backbone[1].conv_channels: the backbone 'bb/cnn.safetensors' was "
     "pretrained with conv_channels [4], this config has [6]"),
    ({**MLP, "init_from": "bb/cnn.safetensors"},
     "search_space[0].product.backbone[1].init_from: 'bb/cnn.safetensors' is a 'small_cnn' "
     "backbone; this config's model is 'mlp'"),
])
def test_a_wrong_backbone_is_refused_before_training(backbones, tmp_path, monkeypatch, capsys,
                                                      bundle, message) -> None:
    monkeypatch.chdir(backbones)
    spec = _grid(tmp_path, [{**CNN, "init_from": "bb/cnn.safetensors"}, bundle])
    assert main(["run", spec, "--study-dir", str(tmp_path / "s"), "--executor", "serial"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"stalwart: error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "s").exists()


def test_a_bundle_axis_cannot_mix_bundles_and_values(tmp_path, capsys) -> None:
    spec = _grid(tmp_path, [{**CNN}, 3])
    assert main(["run", spec, "--dry-run"]) == 2
    assert "axis 'backbone' mixes mappings" in capsys.readouterr().err


def test_pretrain_refuses_names_that_are_not_file_names(tmp_path, capsys) -> None:
    spec = _write(tmp_path / "pre.yaml", {
        "name": "pre", "dataset": DIGITS,
        "search_space": {"configs": [{"_name": "../up", **CNN}]},
        "instances": {"n": 1}, "metric": {"name": "val_accuracy", "direction": "maximize"},
        "strategy": {"name": "exhaustive"}})
    assert main(["pretrain", spec, "--out", str(tmp_path / "bb")]) == 2
    assert "_name '../up' is not a plain file name" in capsys.readouterr().err


def test_an_out_path_that_is_a_file_is_refused(backbones, tmp_path, capsys) -> None:
    (tmp_path / "afile").write_text("")
    spec = str(backbones / "pre.yaml")
    assert main(["pretrain", spec, "--out", str(tmp_path / "afile")]) == 2
    err = capsys.readouterr().err
    assert "--out:" in err and "is a file" in err and err.count("\n") == 1
