"""Issue 17: attacks without wasted passes, and the memory format that runs fastest."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from stalwart.robustness import verified_accuracy
from stalwart.robustness._utils import fast_memory_format, logits_fn
from stalwart.robustness.attacks import PGD, make_attack, robust_accuracy
from stalwart.robustness.attacks.base import LOSSES, loss_and_grad
from stalwart.robustness.bounds import log_sensitivity

torch.set_num_threads(1)


class _SelectingPGD(PGD):
    """PGD as it was: the best restart chosen by one more forward pass, even for one run,
    and each step projected onto the ball, then clipped to the box."""

    def _perturb(self, fn, x, y, gen):
        loss_fn = LOSSES[self.loss]
        best = x.clone()
        best_fooled = torch.zeros(x.shape[0], dtype=torch.bool)
        best_loss = torch.full((x.shape[0],), -torch.inf, dtype=x.dtype)
        for _ in range(self.restarts):
            adv = self._start(x, gen)
            for _ in range(self.steps):  # the step as it was: ball projection, then box
                _, _, grad = loss_and_grad(fn, adv, y, loss_fn)
                adv = self._project(x, adv + self._step(grad))
            with torch.no_grad():
                logits = fn(adv)
                loss = loss_fn(logits, y)
                fooled = logits.argmax(dim=1) != y
            better = (fooled & ~best_fooled) | ((fooled == best_fooled) & (loss > best_loss))
            best[better] = adv[better]
            best_loss[better] = loss[better]
            best_fooled |= fooled
        return best


class _Counting(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.inner(x)


@pytest.mark.parametrize(("norm", "eps", "loss"), [("linf", 0.1, "ce"), ("l2", 0.5, "ce"),
                                                   ("linf", 0.1, "dlr")])
def test_single_restart_pgd_skips_the_selection_pass_same_result(digits_model, norm, eps,
                                                                  loss):
    model, x, y = digits_model
    model = copy.deepcopy(model).eval()
    x, y = x[:200], y[:200]
    params = {"eps": eps, "steps": 7, "norm": norm, "loss": loss, "seed": 5}
    counted = _Counting(model)
    ours = PGD(**params)(counted, x, y)
    assert counted.calls == 7  # one forward(+backward) per step, nothing more
    counted.calls = 0
    reference = _SelectingPGD(**params)(counted, x, y)
    assert counted.calls == 8
    assert torch.equal(ours, reference)


def test_restarts_still_keep_each_points_worst_run(digits_model):
    model, x, y = digits_model
    model = copy.deepcopy(model).eval()
    x, y = x[:100], y[:100]
    params = {"eps": 0.1, "steps": 3, "restarts": 3, "seed": 2}
    assert torch.equal(PGD(**params)(model, x, y), _SelectingPGD(**params)(model, x, y))


# ---- memory format ------------------------------------------------------------------


def test_fast_memory_format_choices(digits_model):
    model, x, _ = digits_model
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    assert fast_memory_format(model, x) == torch.channels_last  # a CNN on the CPU
    assert fast_memory_format(mlp, x) == torch.contiguous_format  # flattens its input
    assert fast_memory_format(model, x.flatten(1)) == torch.contiguous_format  # not 4-D
    assert fast_memory_format(model, x, "contiguous") == torch.contiguous_format
    assert fast_memory_format(mlp, x, "channels_last") == torch.channels_last
    with pytest.raises(ValueError, match="memory_format"):
        fast_memory_format(model, x, "nhwc")
    fn = logits_fn(model.eval(), None, torch.channels_last)
    with torch.no_grad():
        assert torch.allclose(fn(x), model(x), atol=1e-5)
    model.train()


@pytest.mark.parametrize("name", ["fgsm", "pgd_linf", "pgd_l2", "apgd_ce_linf"])
def test_channels_last_changes_results_by_float_rounding_only(digits_model, name):
    model, x, y = digits_model
    model = copy.deepcopy(model).eval()
    eps = 0.5 if name.endswith("l2") else 0.1
    fast = make_attack(name, eps=eps, steps=5, seed=1) if name != "fgsm" else \
        make_attack(name, eps=eps)
    slow = copy.deepcopy(fast)
    fast.memory_format, slow.memory_format = "channels_last", "contiguous"
    a, b = fast(model, x, y), slow(model, x, y)
    # a signed gradient can flip where a coordinate's gradient is ~0: a few coordinates
    # may differ by a step, no more
    differs = (a - b).abs() > 1e-5
    assert differs.float().mean() < 0.01
    acc_fast = robust_accuracy(model, fast, x, y, batch_size=1000)
    acc_slow = robust_accuracy(model, slow, x, y, batch_size=1000)
    assert abs(acc_fast - acc_slow) <= 2 / len(y)


def test_interval_metrics_in_channels_last_match_contiguous(digits_small_cnn):
    model, x, y = digits_small_cnn
    x, y = x[:200], y[:200]
    assert fast_memory_format(model, x) == torch.channels_last
    sens = log_sensitivity(model, x, 0.01, input_range=(0.0, 1.0))
    flat = nn.Sequential(nn.Flatten(), nn.Unflatten(1, (1, 8, 8)), *model.features_net,
                         nn.Flatten(), *model.head).eval()  # 2-D input: contiguous path
    sens_ref = log_sensitivity(flat, x.flatten(1), 0.01, input_range=(0.0, 1.0))
    assert torch.allclose(sens, sens_ref, atol=1e-3)
    assert verified_accuracy(model, x, y, 0.01, input_range=(0.0, 1.0)) == \
        verified_accuracy(flat, x.flatten(1), y, 0.01, input_range=(0.0, 1.0))


def test_weights_laid_out_restores_each_parameter(digits_model):
    from stalwart.robustness._utils import weights_laid_out

    model, x, _ = digits_model
    conv = model.net[2]  # 8 -> 16 channels: channels_last is a different layout
    before, values = conv.weight.data, conv.weight.detach().clone()
    with weights_laid_out(model, torch.channels_last):
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)
        assert not conv.weight.is_contiguous()
        assert torch.equal(conv.weight, values)
    assert conv.weight.data.data_ptr() == before.data_ptr() and conv.weight.is_contiguous()
    with pytest.raises(RuntimeError), weights_laid_out(model, torch.channels_last):
        raise RuntimeError("restored on errors too")
    assert conv.weight.data.data_ptr() == before.data_ptr()
