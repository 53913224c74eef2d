"""Attacks: parity with torchattacks, threat-model guarantees, side-effect freedom, seeds."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from stalwart.robustness.attacks import (
    APGD,
    APGDT,
    ATTACKS,
    FGSM,
    PGD,
    AutoAttack,
    attack_params,
    checkpoint_iterations,
    make_attack,
    robust_accuracy,
)
from stalwart.robustness.attacks.base import flat_norm, project_l1_box

torchattacks = pytest.importorskip("torchattacks")

torch.set_num_threads(1)

EPS = 0.1  # on the [0, 1] digits: clean ~97%, FGSM ~48%, PGD ~45% (non-trivial)


def _acc(model: nn.Module, adv: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return int((model(adv).argmax(1) == y).sum()) / len(y)


# --------------------------------------------------------------------------- parity


def test_fgsm_matches_torchattacks(digits_model):
    model, x, y = digits_model
    ours = robust_accuracy(copy.deepcopy(model), FGSM(EPS), x, y, batch_size=1000)
    theirs = _acc(model, torchattacks.FGSM(copy.deepcopy(model), eps=EPS)(x, y), y)
    assert 0.05 < ours < 0.95  # neither trivial nor clean
    assert abs(ours - theirs) <= 0.01


def test_pgd_linf_matches_torchattacks(digits_model):
    model, x, y = digits_model
    attack = PGD(EPS, alpha=EPS / 4, steps=10, seed=7)
    ours = robust_accuracy(copy.deepcopy(model), attack, x, y, batch_size=1000)
    torch.manual_seed(123)  # torchattacks draws its random start from the global RNG
    ta = torchattacks.PGD(copy.deepcopy(model), eps=EPS, alpha=EPS / 4, steps=10)
    theirs = _acc(model, ta(x, y), y)
    assert 0.05 < ours < 0.95
    assert abs(ours - theirs) <= 0.01, (ours, theirs)


def test_pgd_l2_matches_torchattacks(digits_model):
    model, x, y = digits_model
    eps = 0.5  # 64-dim inputs in [0, 1]: robust accuracy ~46%
    attack = PGD(eps, alpha=eps / 4, steps=10, norm="l2", seed=7)
    ours = robust_accuracy(copy.deepcopy(model), attack, x, y, batch_size=1000)
    torch.manual_seed(123)
    ta = torchattacks.PGDL2(copy.deepcopy(model), eps=eps, alpha=eps / 4, steps=10)
    theirs = _acc(model, ta(x, y), y)
    assert 0.05 < ours < 0.95
    assert abs(ours - theirs) <= 0.01, (ours, theirs)


@pytest.mark.parametrize("norm, eps, seed", [("linf", EPS, 0), ("linf", EPS, 1),
                                             ("linf", EPS, 2), ("l2", 0.5, 0)])
def test_apgd_ce_at_least_as_strong_as_torchattacks(digits_model, norm, eps, seed):
    model, x, y = digits_model
    attack = APGD(eps, steps=50, norm=norm, loss="ce", seed=seed)
    # One batch, so our private generator yields the same random starts as torchattacks'
    # seeded global RNG. With other batch sizes the starts differ and the two agree only
    # up to random-start noise (about +-0.5 pp here, in either direction).
    ours = robust_accuracy(copy.deepcopy(model), attack, x, y, batch_size=1000)
    ta = torchattacks.APGD(copy.deepcopy(model), norm="L2" if norm == "l2" else "Linf",
                           eps=eps, steps=50, loss="ce", seed=seed)
    theirs = _acc(model, ta(x, y), y)
    # Same algorithm and the same random-number stream: no tolerance needed.
    assert ours <= theirs, (ours, theirs)
    assert ours < robust_accuracy(model, FGSM(eps) if norm == "linf" else
                                  PGD(eps, steps=1, norm="l2", random_start=False), x, y)


# --------------------------------------------------------------------------- algorithm details


def test_checkpoints_follow_the_published_recursion():
    # p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)
    p = [0.0, 0.22]
    while p[-1] + max(p[-1] - p[-2] - 0.03, 0.06) <= 1.0:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    assert checkpoint_iterations(100) == [round(100 * v) for v in p[1:]]


def test_l1_projection_is_feasible_and_nearest():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(16, 30, generator=gen)
    adv = x + 2.0 * torch.randn(16, 30, generator=gen)
    eps = 1.5
    proj = project_l1_box(x, adv, eps, 0.0, 1.0)
    assert (flat_norm(proj - x, "l1") <= eps + 1e-5).all()
    assert proj.min() >= 0.0 and proj.max() <= 1.0
    # Any other feasible point is at least as far from ``adv``.
    for _ in range(20):
        other = project_l1_box(x, x + torch.randn(16, 30, generator=gen), eps, 0.0, 1.0)
        assert ((proj - adv).norm(dim=1) <= (other - adv).norm(dim=1) + 1e-4).all()
    # Feasible points are fixed points.
    assert torch.allclose(project_l1_box(x, proj, eps, 0.0, 1.0), proj, atol=1e-6)


def test_autoattack_is_per_sample_worst_case(digits_model):
    model, x, y = digits_model
    x, y = x[:200], y[:200]
    ce = robust_accuracy(model, APGD(EPS, steps=20), x, y)
    targeted = robust_accuracy(model, APGDT(EPS, steps=20, n_target_classes=3), x, y)
    ensemble = robust_accuracy(model, AutoAttack(EPS, steps=20, n_target_classes=3), x, y)
    assert ensemble <= min(ce, targeted + 0.05)
    assert ensemble <= ce  # its first member *is* this APGD-CE run


def test_apgd_l1_breaks_points_within_budget(digits_model):
    model, x, y = digits_model
    x, y = x[:200], y[:200]
    attack = APGD(4.0, steps=30, norm="l1")
    adv = attack(model, x, y)
    assert (flat_norm(adv - x, "l1") <= 4.0 + 1e-4).all()
    assert adv.min() >= 0.0 and adv.max() <= 1.0
    assert _acc(model, adv, y) < _acc(model, x, y) - 0.2


# --------------------------------------------------------------------------- guarantees


def _small(name: str) -> dict:
    params = attack_params(name)
    small = {}
    if "steps" in params:
        small["steps"] = 5
    if "n_target_classes" in params:
        small["n_target_classes"] = 2
    small["eps"] = {"linf": 0.1, "l2": 1.0, "l1": 3.0}[ATTACKS[name][1].get("norm", "linf")]
    return small


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_respects_ball_range_mode_and_weights(digits_model, name):
    model, x, y = digits_model
    model = copy.deepcopy(model)
    model.train()
    model.net[5].eval()  # a deliberately mixed state must survive too
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = x[:48], y[:48]
    attack = make_attack(name, input_range=(0.0, 1.0), **_small(name))
    adv = attack(model, x, y)

    assert adv.shape == x.shape and not adv.requires_grad
    assert adv.min() >= 0.0 and adv.max() <= 1.0
    assert (flat_norm(adv - x, attack.norm) <= attack.eps * (1 + 1e-5) + 1e-6).all()
    assert model.training and not model.net[5].training
    assert all(m.training for i, m in enumerate(model.net) if i != 5)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("name", ["pgd_linf", "pgd_l2", "apgd_ce_linf", "apgd_l1"])
def test_seed_reproducibility(digits_model, name):
    model, x, y = digits_model
    x, y = x[:32], y[:32]
    params = _small(name)
    a = make_attack(name, seed=3, **params)(model, x, y)
    b = make_attack(name, seed=3, **params)(model, x, y)
    c = make_attack(name, seed=4, **params)(model, x, y)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_global_rng_untouched(digits_model):
    model, x, y = digits_model
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    PGD(EPS, steps=2)(model, x[:8], y[:8])
    assert torch.equal(torch.rand(3), expected)


def test_input_range_is_honoured():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    x = torch.rand(10, 12) * 2.0 - 1.0  # inputs in [-1, 1]
    y = torch.randint(0, 3, (10,))
    for name in ("fgsm", "pgd_linf", "apgd_ce_l2", "apgd_l1"):
        params = _small(name)
        adv = make_attack(name, input_range=(-1.0, 1.0), **params)(model, x, y)
        assert adv.min() >= -1.0 and adv.max() <= 1.0


def test_features_are_passed_through():
    class WithFeatures(nn.Module):
        uses_features = True

        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Linear(6, 4)
            self.head = nn.Linear(4 + 2, 3)

        def forward(self, x, features=None):
            return self.head(torch.cat([torch.relu(self.body(x)), features], dim=1))

    torch.manual_seed(0)
    model = WithFeatures()
    x, feats, y = torch.rand(20, 6), torch.randn(20, 2), torch.randint(0, 3, (20,))
    acc = robust_accuracy(model, PGD(0.2, steps=3), x, y, batch_size=7, features=feats)
    assert 0.0 <= acc <= 1.0


def test_make_attack_errors():
    with pytest.raises(ValueError, match="unknown attack 'pgd_l3'.*pgd_l2"):
        make_attack("pgd_l3")
    with pytest.raises(ValueError, match="unknown parameter.*'stepz'"):
        make_attack("pgd_linf", stepz=3)
    with pytest.raises(ValueError, match="fixes"):
        make_attack("pgd_linf", norm="l2")
    with pytest.raises(ValueError, match="eps"):
        FGSM(-1.0)
    assert make_attack("apgd_l1").eps == 12.0
