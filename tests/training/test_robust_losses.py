"""Robust training losses: what each computes, its ramps, its errors, and a study using them."""

from __future__ import annotations

import textwrap

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from stalwart.models import build_model
from stalwart.robustness.attacks import make_attack
from stalwart.robustness.bounds import log_sensitivity
from stalwart.training import (
    TRAINING_DEFAULTS,
    TRAINING_KEYS,
    AdversarialLoss,
    IntervalBoundLoss,
    Ramp,
    SensitivityLoss,
    TradesLoss,
    TrainingLoss,
    TrainingSettings,
    check_training_config,
    check_training_fit,
    make_training_loss,
    objective_for,
    train_instance,
)
from stalwart.training.inner import apgd, pgd
from stalwart.training.robust_losses import has_interval_bounds

from .conftest import blobs, calorimeter_like

RANGE = (-3.0, 3.0)


def settings(**keys) -> TrainingSettings:
    return TrainingSettings.from_config({"epochs": 5, **keys})


def mlp(seed: int = 0, **keys) -> nn.Module:
    cfg = {"model": "mlp", "hidden_sizes": [16], **keys}
    return build_model(cfg, (1, 6, 6), 3, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def data():
    ds = blobs()
    return ds, ds.x_train[:48], ds.y_train[:48].long()


def grads(model: nn.Module, loss: torch.Tensor) -> list[torch.Tensor]:
    return [g.clone() for g in torch.autograd.grad(loss, list(model.parameters()))]


def same(a: list[torch.Tensor], b: list[torch.Tensor], tol: float = 1e-5) -> bool:
    return all(torch.allclose(u, v, atol=tol, rtol=tol) for u, v in zip(a, b, strict=True))


# ------------------------------------------------------------------------ the losses


def test_at_loss_is_cross_entropy_at_the_pgd_example_of_the_evaluation_attack(data):
    ds, x, y = data
    model = mlp()
    s = settings(training_loss="at", robust_eps=0.3, adv_steps=5)
    loss_fn = make_training_loss(s, objective_for(ds), seed=7, input_range=RANGE)
    assert isinstance(loss_fn, AdversarialLoss)
    loss = loss_fn.batch_loss(model, x, y)
    # the same PGD computed separately by the evaluation attack, with the same seed
    x_adv = make_attack("pgd_linf", eps=0.3, steps=5, seed=7, input_range=RANGE)(model, x, y)
    expected = F.cross_entropy(model(x_adv), y)
    assert torch.allclose(loss, expected, atol=1e-6)
    assert same(grads(model, loss), grads(model, expected))
    # and not the clean loss: the attack raised it
    assert float(loss.detach()) > float(F.cross_entropy(model(x), y).detach()) + 1e-3


def test_at_l2_and_apgd_stay_in_the_ball_and_raise_the_loss(data):
    _, x, y = data
    model = mlp()

    def ce(z: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(z), y, reduction="none")

    g = torch.Generator().manual_seed(0)
    for norm, eps in (("linf", 0.2), ("l2", 1.0)):
        for adv in (pgd(ce, x, eps=eps, norm=norm, steps=5, generator=g, input_range=RANGE),
                    apgd(ce, x, eps=eps, norm=norm, steps=10, generator=g, input_range=RANGE)):
            d = (adv - x).reshape(len(x), -1)
            size = d.abs().amax(1) if norm == "linf" else d.norm(dim=1)
            assert bool((size <= eps + 1e-5).all())
            assert float(ce(adv).mean().detach()) > float(ce(x).mean().detach())
    # APGD keeps each sample's best iterate: never below a random start's loss on average
    s = settings(training_loss="at", robust_eps=0.2, adv_attack="apgd", adv_steps=10)
    loss = make_training_loss(s, objective_for(blobs()), input_range=RANGE).batch_loss(model, x, y)
    assert float(loss.detach()) > float(F.cross_entropy(model(x), y).detach())


def test_trades_with_beta_zero_is_cross_entropy(data):
    ds, x, y = data
    model = mlp()
    loss_fn = make_training_loss(settings(training_loss="trades", trades_beta=0.0),
                                 objective_for(ds), input_range=RANGE)
    assert isinstance(loss_fn, TradesLoss)
    loss = loss_fn.batch_loss(model, x, y)
    expected = F.cross_entropy(model(x), y)
    assert torch.allclose(loss, expected)
    assert same(grads(model, loss), grads(model, expected))


@pytest.mark.parametrize("attack", ["kl", "ce"])
def test_trades_is_ce_plus_beta_times_the_kl_at_its_attack(data, attack):
    ds, x, y = data
    model = mlp()
    s = settings(training_loss="trades", trades_beta=6.0, trades_attack=attack,
                 robust_eps=0.3, adv_steps=5, adv_random_start=False)
    loss_fn = make_training_loss(s, objective_for(ds), seed=3, input_range=RANGE)
    loss = loss_fn.batch_loss(model, x, y)
    curves = loss_fn.epoch_curves()
    kl = curves["kl"]
    assert kl > 1e-4
    assert float(loss.detach()) == pytest.approx(curves["clean_loss"] + 6.0 * kl, rel=1e-5)
    # recompute the KL term by hand at a point the same attack reaches
    logits = model(x)
    p = F.softmax(logits, 1)
    if attack == "kl":
        start = x + 0.001 * torch.randn(x.shape, generator=torch.Generator().manual_seed(3))

        def objective(z):
            return (p.detach() * (p.detach().log() - F.log_softmax(model(z), 1))).sum(1)
    else:
        start = None

        def objective(z):
            return F.cross_entropy(model(z), y, reduction="none")
    x_adv = pgd(objective, x, eps=0.3, steps=5, random_start=False, start=start,
                input_range=RANGE)
    by_hand = (p * (F.log_softmax(logits, 1) - F.log_softmax(model(x_adv), 1))).sum(1).mean()
    assert float(by_hand.detach()) == pytest.approx(kl, rel=1e-4)


def test_sensitivity_with_lambda_zero_is_the_task_loss_for_both_kinds(data):
    ds, x, y = data
    model = mlp()
    loss_fn = make_training_loss(settings(training_loss="sensitivity", sens_lambda=0.0),
                                 objective_for(ds), input_range=RANGE)
    assert isinstance(loss_fn, SensitivityLoss)
    assert torch.allclose(loss_fn.batch_loss(model, x, y), F.cross_entropy(model(x), y))
    calo = calorimeter_like(n_pool=32, n_val=8, n_test=8)
    reg = build_model({"model": "small_cnn", "conv_channels": [4], "fc_sizes": [8]},
                      (1, 15, 15), 1, generator=torch.Generator().manual_seed(0))
    obj = objective_for(calo, "auto")
    loss_fn = make_training_loss(settings(training_loss="sensitivity", sens_lambda=0.0),
                                 obj, input_range=calo.input_range)
    xc, yc = calo.x_train, calo.y_train
    assert torch.allclose(loss_fn.batch_loss(reg, xc, yc), obj.loss(reg(xc), yc))


def test_sensitivity_penalty_is_the_metric_and_lowers_it(data):
    ds, x, y = data
    s = settings(training_loss="sensitivity", sens_lambda=0.05, robust_eps=0.05)
    loss_fn = make_training_loss(s, objective_for(ds), input_range=RANGE)
    model = mlp()
    # the penalty is the log-volume metric of robustness.bounds, differentiable
    vol = loss_fn.log_volume(model, x)
    assert vol.requires_grad
    metric = log_sensitivity(model, x, 0.05, input_range=RANGE)
    assert torch.allclose(vol.detach(), metric, atol=1e-4)
    # a few steps with lambda > 0 shrink it, against the same steps with lambda = 0
    after = {}
    for lam in (0.0, 0.05):
        model = mlp()
        f = make_training_loss(settings(training_loss="sensitivity", sens_lambda=lam,
                                        robust_eps=0.05), objective_for(ds), input_range=RANGE)
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        for _ in range(15):
            opt.zero_grad()
            f.batch_loss(model, x, y).backward()
            opt.step()
        after[lam] = float(log_sensitivity(model, x, 0.05, input_range=RANGE).mean())
    assert after[0.05] < after[0.0] - 1.0


def test_sensitivity_trains_the_calorimeter_regressor(calo):
    cfg = {"model": "small_cnn", "conv_channels": [4], "fc_sizes": [8], "epochs": 2,
           "extra_inputs": ["energy_sum"], "training_loss": "sensitivity",
           "sens_lambda": 0.01, "robust_eps": 0.01}
    r = train_instance(cfg, 0, calo, train_size=128)
    assert r.status == "ok", r.error
    assert "epoch2.log_volume" in r.metrics and "val_rmse_rel" in r.metrics


def test_ibp_with_kappa_one_is_cross_entropy_and_its_bound_is_sound(data):
    ds, x, y = data
    model = mlp()
    f = make_training_loss(settings(training_loss="ibp", ibp_kappa=1.0, robust_eps=0.1),
                           objective_for(ds), input_range=RANGE)
    assert isinstance(f, IntervalBoundLoss)
    assert torch.allclose(f.batch_loss(model, x, y), F.cross_entropy(model(x), y))
    # worst-case logits (margins, last layer elided) bound every point of the box
    worst = f.worst_logits(model, x, y).detach()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _ in range(50):
            z = (x + 0.1 * (2 * torch.rand(x.shape, generator=g) - 1)).clamp(*RANGE)
            out = model(z)
            margin = out.gather(1, y[:, None]) - out  # logit_y - logit_j >= -worst_j
            assert bool((margin >= -worst - 1e-4).all())


def test_ibp_training_certifies_most_of_the_training_set():
    ds = blobs(n_pool=240)
    base = {"model": "mlp", "hidden_sizes": [32], "epochs": 6, "lr": 0.01}
    ibp = {**base, "training_loss": "ibp", "robust_eps": 0.1, "robust_ramp_epochs": 2}
    r_plain = train_instance(base, 0, ds)
    r_ibp = train_instance(ibp, 0, ds)
    assert r_plain.status == r_ibp.status == "ok", (r_plain.error, r_ibp.error)
    assert r_ibp.metrics["epoch6.verified_acc"] > 0.5
    assert r_ibp.metrics["epoch1.strength"] < r_ibp.metrics["epoch6.strength"] == 1.0


# ------------------------------------------------------------------------ ramps


def test_ramp_warmup_then_linear_then_full():
    r = Ramp(warmup=2, ramp=4)
    assert [r(p) for p in (0, 1.99, 2, 3, 4, 6, 9)] == [0, 0, 0, 0.25, 0.5, 1, 1]
    assert Ramp()(0) == 1.0 and Ramp(warmup=1)(0.5) == 0.0 and Ramp(warmup=1)(1) == 1.0


def test_ramps_scale_eps_beta_lambda_and_kappa(data):
    ds, x, y = data
    obj = objective_for(ds)
    keys = {"robust_warmup_epochs": 1, "robust_ramp_epochs": 2, "robust_eps": 0.2,
            "epochs": 5}
    trades = make_training_loss(settings(training_loss="trades", **keys), obj)
    sens = make_training_loss(settings(training_loss="sensitivity", **keys), obj)
    ibp = make_training_loss(settings(training_loss="ibp", ibp_kappa=0.5, **keys), obj)
    for loss in (trades, sens, ibp):
        loss.set_progress(2.0)  # half-way up the ramp
    assert trades.eps == pytest.approx(0.1) and trades.beta == pytest.approx(3.0)
    assert sens.lam == pytest.approx(0.005) and ibp.kappa == pytest.approx(0.75)
    model = mlp()
    for loss in (trades, sens, ibp):
        loss.set_progress(0.5)  # warm-up: the task loss, no attack, no bounds
        assert torch.allclose(loss.batch_loss(model, x, y), F.cross_entropy(model(x), y))


# ------------------------------------------------------------------------ modes, state


@pytest.mark.parametrize("mode", ["eval", "train"])
@pytest.mark.parametrize("name", ["at", "trades"])
def test_attack_restores_modes_and_leaves_weights_alone(data, mode, name):
    ds, x, y = data
    model = mlp(dropout=0.2, batch_norm=True)
    model.train()
    model.net[1].eval()  # a mixed state must come back as it was
    flags = [m.training for m in model.modules()]
    s = settings(training_loss=name, adv_model_mode=mode, robust_eps=0.2, adv_steps=3)
    loss_fn = make_training_loss(s, objective_for(ds), input_range=RANGE)
    seen = []
    hook = model.net[0].register_forward_hook(lambda m, i, o: seen.append(model.training))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.random.fork_rng():
        loss_fn._attack(model, x, lambda z: F.cross_entropy(model(z), y, reduction="none"))
    hook.remove()
    assert set(seen) == {mode == "train"}
    assert [m.training for m in model.modules()] == flags
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None and p.requires_grad for p in model.parameters())


def test_history_curves_are_in_the_stored_metrics():
    ds = blobs()
    cfg = {"model": "mlp", "hidden_sizes": [16], "epochs": 2, "training_loss": "at",
           "robust_eps": 0.2, "adv_steps": 2}
    r = train_instance(cfg, 0, ds)
    assert r.status == "ok", r.error
    for e in (1, 2):
        for key in ("train_loss", "clean_acc", "adv_acc", "adv_loss", "strength", "val_loss"):
            assert f"epoch{e}.{key}" in r.metrics
    assert r.metrics["epoch2.train_loss"] == pytest.approx(r.train_loss)
    plain = train_instance({**cfg, "training_loss": "task"}, 0, ds)
    assert not any(k.startswith("epoch") for k in plain.metrics)  # unchanged for plain runs


# ------------------------------------------------------------------------ errors


def test_keys_mirror_and_defaults():
    assert frozenset(TRAINING_DEFAULTS) == TRAINING_KEYS
    assert TrainingSettings.from_config({}).training_loss == "task"
    assert type(make_training_loss(settings(), objective_for(blobs()))) is TrainingLoss


@pytest.mark.parametrize(("keys", "message"), [
    ({"training_loss": "madry"}, "training_loss: unknown training loss 'madry'"),
    ({"trades_beta": -1}, "trades_beta: must be a number >= 0"),
    ({"robust_eps": 0}, "robust_eps: must be a number > 0"),
    ({"robust_norm": "l1"}, "robust_norm: unknown norm 'l1'"),
    ({"adv_attack": "fgsm"}, "adv_attack: unknown attack 'fgsm'"),
    ({"adv_steps": 0}, "adv_steps: must be an integer >= 1"),
    ({"adv_step_size": -0.1}, "adv_step_size: must be null or a number > 0"),
    ({"adv_model_mode": "test"}, "adv_model_mode: unknown mode 'test'"),
    ({"adv_random_start": "yes"}, "adv_random_start: must be true or false"),
    ({"trades_attack": "dlr"}, "trades_attack: unknown attack objective 'dlr'"),
    ({"sens_lambda": "big"}, "sens_lambda: must be a number >= 0"),
    ({"ibp_kappa": 1.5}, "ibp_kappa: must be a number >= 0 and <= 1"),
    ({"robust_ramp_epochs": -1}, "robust_ramp_epochs: must be an integer >= 0"),
    ({"training_loss": "ibp", "robust_norm": "l2"}, "robust_norm: training_loss 'ibp' bounds"),
    ({"training_loss": "at", "loss": "mse"}, "training_loss: 'at' attacks a classifier"),
    ({"training_loss": "at", "robust_warmup_epochs": 2, "robust_ramp_epochs": 3},
     "robust_warmup_epochs: warm-up (2) plus ramp (3) epochs must be below epochs (5)"),
])
def test_bad_values_are_key_path_errors(keys, message):
    problems = check_training_config({"epochs": 5, **keys})
    assert any(p.startswith(message) for p in problems), problems


def test_unfit_combinations_are_refused_before_training(calo):
    at_reg = train_instance({"model": "small_cnn", "conv_channels": [4], "fc_sizes": [8],
                             "training_loss": "at", "epochs": 1}, 0, calo)
    assert at_reg.status == "failed" and at_reg.epochs == 0
    assert "training_loss: 'at' needs a classification dataset" in at_reg.error
    s = settings(training_loss="ibp")
    assert check_training_fit(s, task_kind="classification", has_interval_bounds=False,
                              model_name="vit")[0].startswith(
        "training_loss: 'ibp' needs interval bounds, which model 'vit'")
    assert check_training_fit(s, task_kind="regression", has_interval_bounds=True)
    assert not check_training_fit(settings(training_loss="sensitivity"),
                                  task_kind="regression", has_interval_bounds=True)

    class NoBounds(nn.Module):
        def forward(self, x, features=None):
            return x.flatten(1)

        def interval_forward(self, lower, upper, features=None):
            raise TypeError("NoBounds has no interval bounds")

    assert not has_interval_bounds(NoBounds(), torch.zeros(2, 3))
    assert has_interval_bounds(mlp(), torch.zeros(2, 1, 6, 6))


# ------------------------------------------------------------------------ a study


STUDY = textwrap.dedent("""
    name: digits-robust-training
    dataset: {name: digits, options: {as_image: true}}
    model: small_cnn
    search_space:
      fixed: {epochs: 2, pool_sizes: [2], pool_strides: [2], fc_sizes: [16], padding: 1,
              conv_channels: [4], lr: 0.01, robust_eps: 0.05, adv_steps: 2}
      configs:
        - {training_loss: task}
        - {training_loss: at}
        - {training_loss: trades, trades_beta: 1.0}
        - {training_loss: trades, trades_beta: 6.0}
    instances: {n: 2, train_size: 400}
    metric:
      name: pgd_linf_acc
      direction: maximize
      evaluators: [{name: pgd_linf_acc, eps: 0.05, steps: 3, n_samples: 100}]
    criterion: mean
    strategy: exhaustive
""")


def test_a_study_selects_the_training_loss_by_robust_accuracy(tmp_path, capsys):
    from processes import run_and_show

    doc = run_and_show(tmp_path, STUDY, capsys)
    assert doc["metric"] == "pgd_linf_acc" and doc["trainings"] == 8
    values = [v for c in doc["configs"] for v in c["values"]]
    assert len(values) == 8 and all(0.0 <= v <= 1.0 for v in values)
    assert doc["selection"]["criterion"] is not None


def test_a_bad_loss_key_in_a_spec_is_refused_with_its_path(tmp_path, capsys):
    from stalwart.cli import main

    (tmp_path / "s.yaml").write_text(STUDY.replace("trades_beta: 6.0", "trades_beta: -6.0"))
    assert main(["run", str(tmp_path / "s.yaml"), "--study-dir", str(tmp_path / "st")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stalwart: error: search_space") and "trades_beta" in err, err


def test_a_robust_loss_that_needs_a_classifier_is_refused_when_the_spec_is_checked(tmp_path):
    from stalwart.errors import SpecError
    from stalwart.validation import load_runnable_spec

    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "name: at-on-regression\n"
        "dataset: {name: calorimeter, task: energy, options: {n_pool: 600, n_val: 100, n_test: 100}}\n"
        "model: small_cnn\n"
        "search_space: {fixed: {epochs: 1}, product: {training_loss: [task, at]}}\n"
        "instances: {n: 2}\nmetric: {name: val_rmse_rel, direction: minimize}\nstrategy: exhaustive\n")
    with pytest.raises(SpecError, match=r"search_space.product.training_loss\[1\]: 'at' needs a "
                                        "classification dataset"):
        load_runnable_spec(spec)
