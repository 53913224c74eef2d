"""Small synthetic datasets so the training tests run in seconds and need no files."""

from __future__ import annotations

import pytest
import torch

from stalwart.data.base import Dataset

torch.set_num_threads(1)


def calorimeter_like(n_pool: int = 256, n_val: int = 64, n_test: int = 64,
                     seed: int = 0) -> Dataset:
    """15x15 "clusters": a Gaussian shower of energy E (1..100 GeV) at a random position.

    ``y`` = E in GeV, shape (N, 1); features ``energy_sum`` (the deposited sum, about
    0.9 E with noise) and the barycentre; metric ``rmse_rel`` as for the real data.
    """
    g = torch.Generator().manual_seed(seed)
    n = n_pool + n_val + n_test
    energy = 1.0 + 99.0 * torch.rand(n, generator=g)
    cx, cy = 7 + torch.rand(n, generator=g) * 2 - 1, 7 + torch.rand(n, generator=g) * 2 - 1
    grid = torch.arange(15.0)
    profile = torch.exp(-((grid[None, :, None] - cx[:, None, None]) ** 2
                          + (grid[None, None, :] - cy[:, None, None]) ** 2) / 3.0)
    profile = profile / profile.sum((1, 2), keepdim=True)
    deposit = 0.9 * energy[:, None, None] * profile
    deposit = deposit + 0.02 * torch.randn(n, 15, 15, generator=g)
    x = (deposit / 10.0).unsqueeze(1).float()
    feats = torch.stack([deposit.sum((1, 2)), cx, cy], dim=1).float()
    y = energy[:, None].float()
    a, b = n_pool, n_pool + n_val
    return Dataset(
        name="synthetic_calorimeter", task="energy", kind="regression",
        x_train=x[:a], y_train=y[:a], x_val=x[a:b], y_val=y[a:b], x_test=x[b:], y_test=y[b:],
        n_outputs=1, features_train=feats[:a], features_val=feats[a:b], features_test=feats[b:],
        feature_names=("energy_sum", "barycentre_x", "barycentre_y"),
        input_range=(-1.0, 20.0), metric="rmse_rel",
    )


def blobs(n_pool: int = 240, n_val: int = 60, n_test: int = 60, seed: int = 0) -> Dataset:
    """Three classes of 1x6x6 images: a bright bar at a class-dependent row, plus noise."""
    g = torch.Generator().manual_seed(seed)
    n = n_pool + n_val + n_test
    y = torch.randint(0, 3, (n,), generator=g)
    x = 0.3 * torch.randn(n, 1, 6, 6, generator=g)
    x[torch.arange(n), 0, 2 * y, :] += 1.0
    a, b = n_pool, n_pool + n_val
    return Dataset(
        name="synthetic_blobs", task="classification", kind="classification",
        x_train=x[:a], y_train=y[:a], x_val=x[a:b], y_val=y[a:b], x_test=x[b:], y_test=y[b:],
        n_classes=3, n_outputs=3, input_range=(-3.0, 3.0), metric="accuracy",
    )


@pytest.fixture(scope="session")
def calo() -> Dataset:
    return calorimeter_like()


@pytest.fixture(scope="session")
def blob_data() -> Dataset:
    return blobs()


#: A tiny member of the paper's family for fast tests on 15x15 inputs.
TINY_CNN = {"model": "small_cnn", "conv_channels": [4, 8], "pool_sizes": [2, 2],
            "pool_strides": [2, 1], "fc_sizes": [6], "epochs": 2, "batch_size": 32,
            "lr": 3e-3}


@pytest.fixture
def tiny_cnn() -> dict:
    return dict(TINY_CNN)
