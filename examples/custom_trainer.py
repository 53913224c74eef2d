"""Bring your own model: a PyTorch CNN and training loop of your own, selected robustly.

Stalwart never sees the model: ``train(config, instance)`` builds it, trains it on the
instance's subsample of scikit-learn's digits and returns its validation accuracy. The
study trains several instances of every config (new initialisation, data order and
600-image subsample each), drops the weak configs by successive halving and selects the
config whose *first quartile* of accuracy over instances is best: good typically, and
rarely bad.

Run::

    python examples/custom_trainer.py            # 12 configs, ~1 min on 2 cores
    python examples/custom_trainer.py --fast     # 4 configs, a few seconds

Run it again and the study resumes from ``studies/digits-custom``: nothing is retrained.
"""

from __future__ import annotations

import argparse
import functools

import torch
from sklearn.datasets import load_digits
from torch import nn

import stalwart as sw


@functools.cache
def digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A fixed split: the first 1,400 images are the training pool, the rest validation."""
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(y)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    return x[perm[:1400]], y[perm[:1400]], x[perm[1400:]], y[perm[1400:]]


class SmallCNN(nn.Module):
    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * channels * 4, hidden), nn.ReLU(),
                                  nn.Linear(hidden, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def train(config: dict, instance: sw.Instance) -> dict[str, float]:
    """One instance: the study passes the hyperparameters and the instance's randomness."""
    instance.seed_everything()  # initialisation and data order from the instance's seed
    x_pool, y_pool, x_val, y_val = digits()
    rows = torch.tensor(instance.subsample)  # this instance's 600 training images
    model = SmallCNN(config["channels"], config["hidden"])
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    for _ in range(config["epochs"]):
        model.train()
        for batch in rows[torch.randperm(len(rows))].split(32):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x_pool[batch]), y_pool[batch])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_val).argmax(1) == y_val).float().mean().item()
    return {"val_accuracy": accuracy, "train_loss": loss.item()}


def main(argv: list[str] | None = None) -> sw.StudyResult:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--fast", action="store_true", help="4 configs, 4 instances, 2 epochs")
    p.add_argument("--directory", default=None, help="the study's store (default studies/<name>)")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    space = {"lr": [0.0003, 0.003, 0.03], "channels": [4, 16], "hidden": [16, 64],
             "epochs": [4]}
    if args.fast:
        space = {"lr": [0.003, 0.03], "channels": [4], "hidden": [16, 64], "epochs": [2]}
    study = sw.Study(
        "digits-custom-fast" if args.fast else "digits-custom",
        space=space,
        instances={"n": 4 if args.fast else 8, "train_size": 600, "pool_size": 1400},
        metric="val_accuracy", direction="maximize",
        criterion="q1",
        strategy={"name": "halving", "warmup": 2, "final_survivors": 2},
        directory=args.directory,
        training={"threads": 1},
    )
    result = study.run(train, executor="local", workers=args.workers)
    df = result.results()
    print(f"selected {result.selection} ({result.selection_id})")
    print(df.groupby("config_id")["val_accuracy"].describe()[["count", "mean", "25%", "min"]]
          .sort_values("25%", ascending=False).head(5).to_string())
    print(f"trainings: {len(df)} of {result.summary.n_exhaustive} for an exhaustive search")
    return result


if __name__ == "__main__":
    main()
