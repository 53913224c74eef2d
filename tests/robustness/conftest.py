"""Shared fixtures: a tiny CNN trained in a couple of seconds on sklearn's 8x8 digits."""

from __future__ import annotations

import pytest
import torch
from torch import nn

torch.set_num_threads(1)


class TinyCNN(nn.Module):
    """conv(1->8) - ReLU - conv(8->16, stride 2) - ReLU - Dropout - Linear: ~10k weights."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Dropout(0.1),
            nn.Linear(16 * 4 * 4, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0  # [0, 1]
    y = torch.tensor(data.target, dtype=torch.int64)
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))
    x, y = x[perm], y[perm]
    return x[:1200], y[:1200], x[1200:], y[1200:]


def _fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int) -> None:
    """Adam at 3e-3, batches of 100 in a seeded order; leaves no gradient behind."""
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(1)
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0], generator=gen)
        for start in range(0, x.shape[0], 100):
            idx = perm[start : start + 100]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    for p in model.parameters():
        p.grad = None


def train_digits_model() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """(trained TinyCNN in train mode, x_test (597, 1, 8, 8) in [0, 1], y_test (597,))."""
    torch.manual_seed(0)
    x_tr, y_tr, x_te, y_te = _digits()
    model = TinyCNN()
    _fit(model, x_tr, y_tr, epochs=25)
    model.train()  # tests check attacks restore this mode
    return model, x_te, y_te


@pytest.fixture(scope="session")
def digits_model() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """Session-cached :func:`train_digits_model` (tests must not modify the model)."""
    return train_digits_model()


def train_digits_small_cnn() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """(stalwart ``small_cnn`` trained on the 8x8 digits, in eval mode, x_test, y_test)."""
    from stalwart.models import build_model

    torch.manual_seed(0)
    x_tr, y_tr, x_te, y_te = _digits()
    model = build_model({"model": "small_cnn", "conv_channels": [8], "pool_sizes": [2],
                         "pool_strides": [2], "fc_sizes": [32], "padding": 1},
                        (1, 8, 8), n_outputs=10)
    _fit(model, x_tr, y_tr, epochs=15)
    return model.eval(), x_te, y_te


@pytest.fixture(scope="session")
def digits_small_cnn() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """Session-cached :func:`train_digits_small_cnn` (tests must not modify the model)."""
    return train_digits_small_cnn()
