"""Attacks run the model in the mode asked for (eval or train) and leave it as it was."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from stalwart.robustness.attacks import ATTACKS, FGSM, PGD, attack_params, make_attack

torch.set_num_threads(1)


class Probe(nn.Module):
    """Identity that records the ``training`` flag of every forward it sees."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(self.training)
        return x


def _model(seed: int = 0) -> nn.Sequential:
    """(N, 1, 6, 6) -> 4 logits, with BatchNorm2d (fine on one sample) and Dropout."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), Probe(),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(4 * 36, 4),
    )
    with torch.no_grad():  # running statistics far from any batch's: the modes differ
        model[1].running_mean.fill_(3.0)
        model[1].running_var.fill_(9.0)
    return model


def _data(n: int = 24) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand(n, 1, 6, 6, generator=g), torch.randint(0, 4, (n,), generator=g)


def _small(name: str) -> dict:
    params = attack_params(name)
    small = {k: v for k, v in (("steps", 3), ("n_target_classes", 2)) if k in params}
    small["eps"] = {"linf": 0.1, "l2": 0.5, "l1": 2.0}[ATTACKS[name][1].get("norm", "linf")]
    return small


@pytest.mark.parametrize("mode", ["eval", "train"])
@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_every_attack_restores_modes_and_state_in_both_modes(name: str, mode: str) -> None:
    model = _model()
    model.train(mode == "eval")  # start in the other mode than the attack's...
    model[5].train(mode == "train")  # ...with one module deliberately mixed
    flags = [m.training for m in model.modules()]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = _data()
    torch.manual_seed(2)  # train-mode dropout draws from the global RNG
    adv = make_attack(name, model_mode=mode, **_small(name))(model, x, y)

    assert adv.shape == x.shape and not adv.requires_grad
    assert [m.training for m in model.modules()] == flags
    for key, value in model.state_dict().items():  # running statistics included
        assert torch.equal(value, before[key]), key
    assert all(p.grad is None for p in model.parameters())
    assert model[3].seen and set(model[3].seen) == {mode == "train"}


def test_train_mode_really_changes_the_attack() -> None:
    model, (x, y) = _model(), _data()
    model.eval()
    torch.manual_seed(3)
    in_train = PGD(0.1, steps=3, model_mode="train")(model, x, y)
    torch.manual_seed(3)
    again = PGD(0.1, steps=3, model_mode="train")(model, x, y)
    in_eval = PGD(0.1, steps=3)(model, x, y)
    assert torch.equal(in_train, again)  # reproducible under a seeded global RNG
    assert not torch.equal(in_train, in_eval)
    assert not model.training


def test_batchnorm_uses_batch_statistics_in_train_mode() -> None:
    # Without dropout the only difference between the modes is BatchNorm's statistics.
    model = _model()
    model[5].p = 0.0
    x, y = _data()
    bn_train = nn.BatchNorm2d(4).train()
    bn_train.load_state_dict(model[1].state_dict())

    def logits(bn: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        h = model[3](model[2](bn(model[0](inputs))))
        return model[6](model[5](model[4](h)))

    # FGSM's step is the sign of the input gradient of CE at x in the mode's forward.
    x_req = x.clone().requires_grad_(True)
    loss = nn.functional.cross_entropy(logits(bn_train, x_req), y, reduction="none").sum()
    (grad,) = torch.autograd.grad(loss, [x_req])
    expected = (x + 0.1 * grad.sign()).clamp(0.0, 1.0)
    assert torch.allclose(FGSM(0.1, model_mode="train")(model, x, y), expected)
    assert not torch.allclose(FGSM(0.1)(model, x, y), expected)


def test_model_mode_is_checked_and_listed() -> None:
    assert attack_params("pgd_linf")["model_mode"] == "eval"
    assert make_attack("apgd_ce_linf", model_mode="train").model_mode == "train"
    assert all(a.model_mode == "train"
               for a in make_attack("autoattack_linf", model_mode="train").attacks)
    with pytest.raises(ValueError, match="model_mode: unknown mode 'training'"):
        PGD(0.1, model_mode="training")  # type: ignore[arg-type]
