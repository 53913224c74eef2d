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
    assert set(rows) == {"clean", "fgsm", "pgd_linf", "gaussian_noise", "mean",
                         "verified_accuracy", "log_sensitivity"}
    assert rows["clean"]["value"] > 0.8
    assert rows["pgd_linf"]["value"] <= rows["fgsm"]["value"] + 0.02 < rows["clean"]["value"]
    assert rows["log_sensitivity"]["value"] < 100
    # issue 17: samples and steps on every row, mean corruption accuracy, verified accuracy
    # (a lower bound on robust accuracy at the same eps), the sensitivity's definition
    n = rows["clean"]["n_samples"]
    assert n > 100 and all(r["n_samples"] == n for r in rows.values())
    assert rows["fgsm"]["steps"] == 1 and rows["pgd_linf"]["steps"] == 5
    assert rows["mean"]["kind"] == "corruption"
    assert rows["mean"]["value"] == pytest.approx(rows["gaussian_noise"]["value"])
    assert rows["verified_accuracy"]["eps"] == 0.1 == rows["log_sensitivity"]["eps"]
    assert 0.0 <= rows["verified_accuracy"]["value"] <= rows["pgd_linf"]["value"]
    assert "log-volume" in rows["log_sensitivity"]["definition"]
    assert "nats" in rows["log_sensitivity"]["units"]


def test_eval_table_shows_samples_steps_and_definitions(checkpoint, capsys):
    assert main(["eval", str(checkpoint), "--attacks", "pgd_linf", "--eps", "0.02",
                 "--steps", "3", "--corruptions", "gaussian_noise,contrast",
                 "--n-samples", "64"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for needle in ("64 samples", "steps", "samples", "verified_accuracy", "mean",
                   "log_sensitivity: mean over the samples", "units: nats"):
        assert needle in out, needle


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


# ---- one line instead of a traceback (issue 16) --------------------------------------


def _one_line(capsys, needle):
    err = capsys.readouterr().err
    assert err.startswith("stalwart: error: ") and needle in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(("name", "content"), [
    ("_5.safetensors", b"\x00\xff" * 150),  # garbage
    ("_6.safetensors", b""),                 # empty
    ("_7.pt", b"PK\x03\x04 not a zip" * 10),  # garbage torch file
])
def test_eval_garbage_checkpoint_is_one_line(checkpoint, capsys, tmp_path, name, content):
    # inside the study (its config id, another instance): its config and dataset are found
    bad = checkpoint.parent / (checkpoint.stem.split("_")[0] + name)
    bad.write_bytes(content)
    try:
        assert main(["eval", str(bad), "--attacks", "fgsm", "--n-samples", "20"]) == 2
    finally:
        bad.unlink()
    _one_line(capsys, "not a readable checkpoint")


def test_eval_truncated_checkpoint_is_one_line(checkpoint, capsys, tmp_path):
    bad = checkpoint.parent / (checkpoint.stem[:-1] + "9" + checkpoint.suffix)
    bad.write_bytes(checkpoint.read_bytes()[:100])
    try:
        assert main(["eval", str(bad), "--attacks", "fgsm", "--n-samples", "20"]) == 2
    finally:
        bad.unlink()
    _one_line(capsys, "not a readable checkpoint")


def test_eval_corruptions_of_a_non_image_model_is_one_line(capsys, tmp_path):
    from stalwart.data import load_dataset
    from stalwart.training import initial_model, save_weights

    config = {"model": "mlp", "hidden_sizes": [8]}
    model = initial_model(config, 0, load_dataset("digits"))
    path = save_weights(model.state_dict(), tmp_path / "mlp.safetensors")
    argv = ["eval", str(path), "--config", json.dumps(config), "--dataset", "digits",
            "--attacks", "fgsm", "--n-samples", "20"]
    assert main([*argv, "--corruptions", "gaussian_noise"]) == 2
    _one_line(capsys, "--corruptions: need image inputs (N, C, H, W) with 1 or 3 channels; "
                      "digits gives (")
    assert main(argv) == 0  # attacks alone work on flat inputs


def test_eval_regression_refuses_explicit_attacks():
    from types import SimpleNamespace

    import torch

    from stalwart.cli.eval import _check_dataset_fits
    from stalwart.errors import UserError

    calo = SimpleNamespace(kind="regression", name="calorimeter",
                           x_test=torch.zeros(2, 1, 15, 15))
    _check_dataset_fits(calo, ["fgsm"], [], explicit_attacks=False)  # default: none run
    with pytest.raises(UserError, match="--attacks: accuracy under attacks"):
        _check_dataset_fits(calo, ["fgsm"], [], explicit_attacks=True)
    with pytest.raises(UserError, match="--corruptions: accuracy under attacks"):
        _check_dataset_fits(calo, [], ["gaussian_noise"], explicit_attacks=False)


@pytest.mark.parametrize(("flags", "needle"), [
    (["--n-samples", "-5"], "--n-samples: must be an integer >= 1, got -5"),
    (["--n-samples", "0"], "--n-samples: must be an integer >= 1, got 0"),
    (["--steps", "0"], "--steps: must be an integer >= 1"),
    (["--eps", "-0.1"], "--eps: must be a number > 0"),
    (["--sensitivity-eps", "nan"], "--sensitivity-eps: must be a number > 0"),
    (["--severity", "6"], "--severity: must be an integer >= 1 and <= 5"),
])
def test_eval_bad_numbers_are_one_line(checkpoint, capsys, flags, needle):
    assert main(["eval", str(checkpoint), *flags]) == 2
    _one_line(capsys, needle)


def test_eval_config_that_cannot_be_read(checkpoint, capsys, tmp_path):
    copy = tmp_path / "model.safetensors"
    copy.write_bytes(checkpoint.read_bytes())
    binary = tmp_path / "c.json"
    binary.write_bytes(b"\xff\xfe{")
    assert main(["eval", str(copy), "--config", str(binary), "--dataset", "digits"]) == 2
    _one_line(capsys, f"--config: cannot read {binary}")
    assert main(["eval", str(copy), "--config", str(tmp_path), "--dataset", "digits"]) == 2
    _one_line(capsys, f"--config: cannot read {tmp_path}")


def test_eval_help_lists_attack_and_corruption_names(capsys):
    from stalwart.robustness.attacks import ATTACKS
    from stalwart.robustness.corruptions import CORRUPTIONS

    with pytest.raises(SystemExit) as exc:
        main(["eval", "--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the epilog
    for name in [*ATTACKS, *CORRUPTIONS]:
        assert name in text
