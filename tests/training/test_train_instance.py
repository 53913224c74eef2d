"""train_instance: reproducibility, variation, statuses, metrics, weights, settings."""

from __future__ import annotations

import math

import pytest
import torch

from stalwart.core import Config, InstanceResult, instance_seed
from stalwart.models import build_model
from stalwart.training import initial_model, load_weights, predict, train_instance


def _key(r: InstanceResult) -> tuple:
    return (r.status, r.metrics, r.train_loss, r.epochs, r.n_params, r.seed)


def test_regression_result_fields(calo, tiny_cnn) -> None:
    r = train_instance(tiny_cnn, 0, calo, study_seed=3, train_size=128)
    assert r.status == "ok", r.error
    assert set(r.metrics) == {"val_loss", "test_loss", "val_rmse_rel", "test_rmse_rel"}
    # the loss is the mean squared relative error: its square root is RMSE(E)/E
    assert math.isclose(math.sqrt(r.metrics["val_loss"]), r.metrics["val_rmse_rel"],
                        rel_tol=1e-5)
    assert r.config_id == Config(tiny_cnn).id and r.instance == 0
    assert r.seed == instance_seed(3, r.config_id, 0)
    assert r.epochs == 2 and r.train_loss is not None and r.wall_time > 0
    assert r.n_params == 4 * 9 + 8 * 4 * 9 + (8 * 9 * 6 + 6) + 7
    assert r.error is None and r.weights_path is None


def test_classification_result_fields(blob_data) -> None:
    cfg = {"model": "mlp", "hidden_sizes": [16], "epochs": 8, "lr": 1e-2, "batch_size": 32}
    r = train_instance(cfg, 0, blob_data)
    assert r.status == "ok", r.error
    assert set(r.metrics) == {"val_loss", "test_loss", "val_accuracy", "test_accuracy"}
    assert r.metrics["test_accuracy"] > 0.9  # the classes are easy: training works


def test_same_instance_is_bitwise_reproducible(calo, tiny_cnn) -> None:
    cfg = dict(tiny_cnn, dropout=0.2)
    a = train_instance(cfg, 1, calo, study_seed=7, train_size=100)
    b = train_instance(cfg, 1, calo, study_seed=7, train_size=100)
    assert a.status == "ok" and _key(a) == _key(b)
    c = train_instance(cfg, 2, calo, study_seed=7, train_size=100)
    assert c.metrics["val_loss"] != a.metrics["val_loss"]
    d = train_instance(cfg, 1, calo, study_seed=8, train_size=100)
    assert d.metrics["val_loss"] != a.metrics["val_loss"]


@pytest.mark.parametrize("variation", ["init", "sampling"])
def test_each_variation_mode_still_varies_instances(calo, tiny_cnn, variation) -> None:
    runs = [train_instance(tiny_cnn, i, calo, train_size=100, variation=variation)
            for i in range(2)]
    assert runs[0].metrics["val_loss"] != runs[1].metrics["val_loss"]


def test_sampling_mode_without_subsampling_is_identical_across_instances(calo, tiny_cnn) -> None:
    # init/order/dropout fixed per config and the whole pool used: nothing varies.
    a, b = (train_instance(tiny_cnn, i, calo, variation="sampling") for i in range(2))
    assert a.metrics == b.metrics and a.seed != b.seed


def test_divergence_is_recorded_not_raised(calo, tiny_cnn) -> None:
    cfg = dict(tiny_cnn, optimizer="sgd", lr=1e6, epochs=3)
    r = train_instance(cfg, 0, calo, train_size=128)
    assert r.status == "diverged"
    assert r.error.startswith("diverged: ") and r.metrics == {}
    assert math.isnan(r.value("val_loss"))


def test_invalid_config_fails_with_error_text(calo, tiny_cnn) -> None:
    r = train_instance(dict(tiny_cnn, optimizer="adamax"), 0, calo)
    assert r.status == "failed"
    assert r.error.startswith("ValueError: optimizer: unknown optimizer 'adamax'")
    r = train_instance(dict(tiny_cnn, extra_inputs=["nope"]), 0, calo)
    assert r.status == "failed" and "extra_inputs" in r.error
    r = train_instance(tiny_cnn, 0, calo, train_size=10**6)
    assert r.status == "failed" and "train_size" in r.error
    r = train_instance({"model": "mlp", "lr": float("nan")}, 0, calo)
    assert r.status == "failed" and r.error.startswith("ValueError")


def test_extra_inputs_pick_named_columns(calo, tiny_cnn) -> None:
    cfg = dict(tiny_cnn, extra_inputs=["barycentre_y", "energy_sum"])
    model = initial_model(cfg, 0, calo)
    assert model.feature_columns.tolist() == [2, 0]
    r = train_instance(cfg, 0, calo, train_size=96)
    assert r.status == "ok", r.error


def test_evaluator_failure_is_a_failed_status(calo, tiny_cnn) -> None:
    def broken(model, dataset):
        raise RuntimeError("boom")

    r = train_instance(dict(tiny_cnn, epochs=1), 0, calo, evaluators=[broken])
    assert r.status == "failed" and r.error == "RuntimeError: boom"


def test_evaluators_get_the_trained_model_in_eval_mode(calo, tiny_cnn) -> None:
    seen = {}

    def mean_pred(model, dataset):
        seen["training"] = model.training
        with torch.no_grad():
            return {"mean_pred": float(model(dataset.x_test).mean())}

    r = train_instance(tiny_cnn, 0, calo, evaluators=[mean_pred])
    assert r.status == "ok" and seen == {"training": False}
    assert 1.0 < r.metrics["mean_pred"] < 100.0  # in GeV: the output scaling is in the model


def test_weights_save_and_load_back(calo, tiny_cnn, tmp_path) -> None:
    cfg = dict(tiny_cnn, extra_inputs=["energy_sum"])
    r = train_instance(cfg, 4, calo, weights_dir=tmp_path)
    assert r.status == "ok", r.error
    assert r.weights_path == str(tmp_path / f"{Config(cfg).id}_4.safetensors")
    fresh = build_model(cfg, calo.input_shape, 1)
    load_weights(fresh, r.weights_path)
    # the column map is saved too: callers pass the dataset's whole feature table
    assert fresh.feature_columns.tolist() == [0] and fresh.uses_features
    feats = calo.features_test
    pred = predict(fresh, calo.x_test, feats)
    assert torch.equal(pred, predict(fresh, calo.x_test, feats[:, :1]))
    rel = ((pred - calo.y_test) / calo.y_test).pow(2).mean().sqrt().item()
    assert math.isclose(rel, r.metrics["test_rmse_rel"], rel_tol=1e-5)
    # the torch.save path loads with weights_only=True
    pt = tmp_path / "copy.pt"
    torch.save(fresh.state_dict(), pt)
    again = load_weights(build_model(cfg, calo.input_shape, 1), pt)
    assert torch.equal(predict(again, calo.x_test, feats), pred)


def test_early_stopping_stops_when_validation_stalls(calo, tiny_cnn) -> None:
    # lr so small that the updates vanish below float32 resolution: the validation loss
    # never improves after epoch 1, so patience 1 stops training at epoch 2.
    r = train_instance(dict(tiny_cnn, epochs=20, patience=1, lr=1e-12), 0, calo)
    assert r.status == "ok", r.error
    assert r.epochs == 2


def test_restore_best_reports_the_best_epoch(calo, tiny_cnn, monkeypatch) -> None:
    # restore_best is part of the config id, hence of the seeds; pin the seeds to one id
    # so both runs follow the same trajectory and differ only in the final weights.
    from stalwart.training import trainer

    real = trainer.seed_plan
    monkeypatch.setattr(trainer, "seed_plan", lambda _cid, *a: real("pinned", *a))
    cfg = dict(tiny_cnn, epochs=6, lr=0.05)
    best = train_instance(cfg, 0, calo, train_size=128)
    last = train_instance(dict(cfg, restore_best=False), 0, calo, train_size=128)
    assert best.status == last.status == "ok" and best.epochs == last.epochs == 6
    assert best.metrics["val_loss"] < last.metrics["val_loss"]  # an earlier epoch was better
    # the training loss reported is the kept epoch's, not the last one's
    assert best.train_loss != last.train_loss


@pytest.mark.parametrize("extra", [
    {"optimizer": "sgd", "momentum": 0.9, "nesterov": True, "schedule": "cosine"},
    {"optimizer": "adam", "weight_decay": 0.01, "schedule": "onecycle"},
    {"optimizer": "nadam", "l2": 1e-3, "grad_clip": 1.0},
    {"optimizer": "radam", "restore_best": False},
    {"loss": "mse"},
    {"loss": "mae"},
])
def test_optimizers_schedules_losses_run(calo, tiny_cnn, extra) -> None:
    r = train_instance(dict(tiny_cnn, **extra), 0, calo, train_size=96)
    assert r.status == "ok", r.error
    assert set(r.metrics) >= {"val_loss", "val_rmse_rel"}


def test_l2_and_weight_decay_differ(calo, tiny_cnn) -> None:
    base = dict(tiny_cnn, optimizer="adamw")
    wd = train_instance(dict(base, weight_decay=0.1), 0, calo, train_size=96, variation="init")
    l2 = train_instance(dict(base, l2=0.1), 0, calo, train_size=96, variation="init")
    assert wd.metrics != l2.metrics


def test_threads_determinism_and_global_rng_restored(calo, tiny_cnn) -> None:
    threads = torch.get_num_threads()
    rng = torch.random.get_rng_state()
    r = train_instance(dict(tiny_cnn, dropout=0.3, epochs=1), 0, calo, train_size=64,
                       threads=threads + 1, deterministic=True)
    assert r.status == "ok", r.error
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.equal(torch.random.get_rng_state(), rng)


def test_bad_device_fails_cleanly(calo, tiny_cnn) -> None:
    r = train_instance(tiny_cnn, 0, calo, device="not-a-device")
    assert r.status == "failed" and r.error.startswith("RuntimeError")


def test_memory_format_changes_speed_not_results(calo, tiny_cnn, monkeypatch) -> None:
    """channels_last (auto's choice for a CNN on a CPU) lays out only where numbers sit: the
    same seeds give the same training up to float rounding, and the saved weights load into
    a contiguous model."""
    from stalwart.training import trainer

    real = trainer.seed_plan
    monkeypatch.setattr(trainer, "seed_plan", lambda _cid, *a: real("pinned", *a))
    def input_channel_stride(model, dataset):  # 1 for channels_last, 9 (3x3) contiguous
        return {"stride": float(model.features_net[0].weight.stride()[1])}

    runs = {fmt: train_instance(dict(tiny_cnn, memory_format=fmt), 0, calo, train_size=128,
                                evaluators=[input_channel_stride])
            for fmt in ("contiguous", "channels_last", "auto")}
    assert all(r.status == "ok" for r in runs.values())
    assert [runs[f].metrics["stride"] for f in ("contiguous", "channels_last", "auto")] == [
        9.0, 1.0, 1.0]
    base = runs["contiguous"].metrics["val_loss"]
    for fmt in ("channels_last", "auto"):
        assert runs[fmt].metrics["val_loss"] == pytest.approx(base, rel=1e-4)
    bad = train_instance(dict(tiny_cnn, memory_format="nhwc"), 0, calo, train_size=128)
    assert bad.status == "failed" and "memory_format: unknown memory format 'nhwc'" in bad.error
