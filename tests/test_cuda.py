"""The CUDA path of training, attacks and interval bounds, where a GPU is at hand.

Skipped on a machine without CUDA (this project's CI machine has none); on one with a GPU
(`stalwart`'s GPU checks run them there) each check compares the CUDA result with the CPU
result of the same seeds and weights, so a device bug shows as a disagreement.
"""

from __future__ import annotations

import pytest
import torch
from training.conftest import blobs

from stalwart.models import build_model
from stalwart.robustness.attacks import make_attack, robust_accuracy
from stalwart.robustness.bounds import log_sensitivity, verified_accuracy
from stalwart.training import train_instance

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

CNN = {"model": "small_cnn", "conv_channels": [4, 8], "pool_sizes": [2, 0], "padding": 1,
       "fc_sizes": [16], "epochs": 3, "batch_size": 32, "lr": 3e-3}


@pytest.mark.parametrize("loss", [{}, {"training_loss": "at", "robust_eps": 0.1, "adv_steps": 3},
                                  {"training_loss": "ibp", "robust_eps": 0.05}],
                         ids=["plain", "at", "ibp"])
def test_training_on_cuda_matches_the_cpu(loss) -> None:
    data = blobs()
    runs = {dev: train_instance({**CNN, **loss}, 0, data, device=dev, deterministic=True)
            for dev in ("cpu", "cuda")}
    assert runs["cpu"].status == runs["cuda"].status == "ok", runs["cuda"].error
    assert runs["cuda"].metrics["val_accuracy"] == pytest.approx(
        runs["cpu"].metrics["val_accuracy"], abs=0.05)


def test_attacks_and_bounds_on_cuda_match_the_cpu() -> None:
    data = blobs()
    model = build_model(CNN, data.input_shape, 3, generator=torch.Generator().manual_seed(0))
    model.eval()
    x, y = data.x_test, data.y_test
    out = {}
    for dev in ("cpu", "cuda"):
        m, xd, yd = model.to(dev), x.to(dev), y.to(dev)
        attack = make_attack("pgd_linf", eps=0.1, steps=5, input_range=data.input_range)
        out[dev] = (robust_accuracy(m, attack, xd, yd),
                    float(log_sensitivity(m, xd, 0.05, input_range=data.input_range).mean()),
                    verified_accuracy(m, xd, yd, 0.05, input_range=data.input_range))
    (a_cpu, s_cpu, v_cpu), (a_gpu, s_gpu, v_gpu) = out["cpu"], out["cuda"]
    assert a_gpu == pytest.approx(a_cpu, abs=0.05)
    assert s_gpu == pytest.approx(s_cpu, rel=1e-3)
    assert v_gpu == pytest.approx(v_cpu, abs=1e-6)
