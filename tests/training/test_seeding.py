"""What each variation mode varies: subsample, initial weights, seeds."""

from __future__ import annotations

import pytest
import torch

from stalwart.core import Config, instance_seed
from stalwart.training import initial_model, seed_plan, subsample_indices


def _weights(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_subsample_indices() -> None:
    a = subsample_indices(100, 30, seed=5)
    assert a.dtype == torch.int64 and a.shape == (30,)
    assert torch.equal(a, a.sort().values) and a.unique().numel() == 30
    assert torch.equal(a, subsample_indices(100, 30, seed=5))
    assert not torch.equal(a, subsample_indices(100, 30, seed=6))
    assert torch.equal(subsample_indices(7, None, seed=1), torch.arange(7))
    with pytest.raises(ValueError, match="train_size"):
        subsample_indices(10, 11, seed=0)


def test_plan_seed_is_the_instance_seed() -> None:
    plan = seed_plan("abc", 3, study_seed=9)
    assert plan.instance == instance_seed(9, "abc", 3)
    with pytest.raises(ValueError, match="variation"):
        seed_plan("abc", 0, variation="all")  # type: ignore[arg-type]


def test_both_mode_varies_everything() -> None:
    p0, p1 = seed_plan("cfg", 0), seed_plan("cfg", 1)
    assert p0.init != p1.init and p0.order != p1.order and p0.dropout != p1.dropout
    assert p0.subsample != p1.subsample
    assert len({p0.init, p0.order, p0.dropout, p0.subsample}) == 4  # independent streams


def test_init_mode_fixes_the_subsample_for_every_config_and_instance() -> None:
    plans = [seed_plan(c, i, 4, "init") for c in ("a", "b") for i in range(3)]
    subsamples = [subsample_indices(1000, 50, p.subsample) for p in plans]
    assert all(torch.equal(subsamples[0], s) for s in subsamples)
    assert len({p.init for p in plans}) == len(plans)
    assert seed_plan("a", 0, 5, "init").subsample != plans[0].subsample  # study seed matters


def test_sampling_mode_fixes_randomness_per_config() -> None:
    plans = [seed_plan("a", i, 4, "sampling") for i in range(3)]
    assert len({(p.init, p.order, p.dropout) for p in plans}) == 1
    assert len({p.subsample for p in plans}) == 3
    assert seed_plan("b", 0, 4, "sampling").init != plans[0].init


def test_initial_weights_per_mode(calo, tiny_cnn) -> None:
    def w(i: int, mode: str) -> torch.Tensor:
        return _weights(initial_model(tiny_cnn, i, calo, study_seed=1, variation=mode))

    assert torch.equal(w(0, "sampling"), w(1, "sampling"))
    assert not torch.equal(w(0, "both"), w(1, "both"))
    assert not torch.equal(w(0, "init"), w(1, "init"))
    assert torch.equal(w(2, "both"), w(2, "both"))
    assert torch.equal(w(2, "both"), w(2, "init"))  # same instance seed drives init


def test_initial_model_sets_scales_from_the_pool(calo, tiny_cnn) -> None:
    cfg = dict(tiny_cnn, extra_inputs=["energy_sum"])
    model = initial_model(cfg, 0, calo)
    # relative loss: a pure scale by the mean energy (see stalwart.training.objectives)
    assert torch.equal(model.output_shift, torch.zeros(1))
    assert torch.allclose(model.output_scale, calo.y_train.mean(0))
    mse = initial_model(dict(cfg, loss="mse"), 0, calo)
    assert torch.allclose(mse.output_shift, calo.y_train.mean(0))
    assert torch.allclose(mse.output_scale, calo.y_train.std(0))
    assert torch.equal(model.feature_mean, torch.zeros(1))
    assert torch.allclose(model.feature_std, calo.features_train[:, :1].pow(2).mean(0).sqrt())
    # a fresh network predicts near the mean energy: a well-conditioned start
    pred = model(calo.x_val, calo.features_val)
    assert (pred - calo.y_train.mean()).abs().mean() < 3 * calo.y_train.std()
    assert Config(cfg).id != Config(tiny_cnn).id
