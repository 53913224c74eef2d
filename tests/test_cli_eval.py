"""`stalwart eval` on a checkpoint that a study saved."""

import json
import textwrap

import pytest

from stalwart.cli import main

SPEC = textwrap.dedent("""
    name: digits-eval
    dataset: {name: digits, options: {as_image: true}}
    model: small_cnn
    search_space:
      fixed: {epochs: 3, conv_channels: [8], pool_sizes: [2], pool_strides: [2], fc_sizes: [32],
              padding: 1, lr: 0.01}
    instances: {n: 1}
    metric: {name: val_accuracy, direction: maximize}
    strategy: exhaustive
    training: {save_weights: true}
""")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval")
    (d / "spec.yaml").write_text(SPEC)
    assert main(["run", str(d / "spec.yaml"), "--study-dir", str(d / "s"), "--executor", "serial",
                 "--quiet"]) == 0
    files = list((d / "s" / "weights").iterdir())
    assert len(files) == 1
    return files[0]


def test_eval_reports_clean_attack_corruption_and_sensitivity(checkpoint, capsys):
    assert main(["eval", str(checkpoint), "--attacks", "fgsm,pgd_linf", "--eps", "0.1",
                 "--steps", "5", "--corruptions", "gaussian_noise", "--format", "json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"clean", "fgsm", "pgd_linf", "gaussian_noise", "log_sensitivity"}
    assert rows["clean"]["value"] > 0.8
    assert rows["pgd_linf"]["value"] <= rows["fgsm"]["value"] + 0.02 < rows["clean"]["value"]
    assert rows["log_sensitivity"]["value"] < 100


def test_eval_with_explicit_config_and_table(checkpoint, capsys, tmp_path):
    cfg = tmp_path / "c.json"
    from stalwart.store import Store

    with Store(checkpoint.parent.parent) as s:
        cfg.write_text(s.configs()[0].to_json())
    copy = tmp_path / "model.safetensors"
    copy.write_bytes(checkpoint.read_bytes())
    assert main(["eval", str(copy), "--config", str(cfg), "--dataset", "digits", "--attacks", "fgsm",
                 "--eps", "0.05", "--n-samples", "100"]) == 2  # digits flat != image config
    assert "does not fit" in capsys.readouterr().err


def test_eval_bad_inputs(checkpoint, capsys, tmp_path):
    assert main(["eval", str(tmp_path / "none.pt")]) == 2
    assert main(["eval", str(checkpoint), "--attacks", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no such checkpoint" in err and "unknown attack 'nope'" in err
