"""Robust selection inside an ordinary Optuna study: stalwart's racing test as a pruner.

A trial is one configuration of a small PyTorch MLP on scikit-learn's digits; its steps
are *instances* (each a new seed: initialisation, data order and a 600-image training
subsample). ``RacingPruner`` prunes a trial once its instances are significantly worse
than the best finished trial's, so the clearly bad configurations cost two or three
trainings instead of ``--instances``. The study's best trial is the configuration with
the best mean validation accuracy over its instances.

Run::

    python examples/optuna_racing.py                 # 24 trials x up to 8 instances, ~10 s here
    python examples/optuna_racing.py --trials 6 --instances 4 --epochs 2   # a quick look
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import optuna
import torch
from sklearn.datasets import load_digits
from torch import nn

from stalwart.integrations.optuna import RacingPruner


def load() -> tuple[torch.Tensor, ...]:
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    g = torch.Generator().manual_seed(0)  # one fixed split: the pool and the validation set
    perm = torch.randperm(len(y), generator=g)
    pool, val = perm[:1400], perm[1400:]
    return x[pool], y[pool], x[val], y[val]


def train_instance(params: dict, seed: int, data: tuple[torch.Tensor, ...], epochs: int) -> float:
    """Validation accuracy of one instance: a new seed for init, order and subsample."""
    x_pool, y_pool, x_val, y_val = data
    g = torch.Generator().manual_seed(seed)
    rows = torch.randperm(len(y_pool), generator=g)[:600]
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, params["hidden"]), nn.ReLU(),
                          nn.Dropout(params["dropout"]), nn.Linear(params["hidden"], 10))
    opt = torch.optim.AdamW(model.parameters(), lr=params["lr"],
                            weight_decay=params["weight_decay"])
    for _ in range(epochs):
        for batch in torch.randperm(len(rows), generator=g).split(32):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x_pool[rows[batch]]), y_pool[rows[batch]]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        return float((model(x_val).argmax(1) == y_val).float().mean())


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trials", type=int, default=24)
    p.add_argument("--instances", type=int, default=8)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    data = load()
    trainings = 0

    def objective(trial: optuna.Trial) -> float:
        nonlocal trainings
        params = {
            "lr": trial.suggest_float("lr", 1e-4, 3e-1, log=True),
            "hidden": trial.suggest_categorical("hidden", [8, 32, 128]),
            "dropout": trial.suggest_categorical("dropout", [0.0, 0.3]),
            "weight_decay": trial.suggest_categorical("weight_decay", [0.0, 1e-2]),
        }
        values = []
        for i in range(args.instances):
            values.append(train_instance(params, seed=1000 * trial.number + i, data=data,
                                         epochs=args.epochs))
            trainings += 1
            trial.report(values[-1], step=i)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(np.mean(values))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=args.seed),
        pruner=RacingPruner(test="welch", alpha=0.05, start=3),
    )
    start = time.perf_counter()
    study.optimize(objective, n_trials=args.trials)
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    best = study.best_trial
    print(f"best: {best.params}  mean val accuracy {best.value:.4f} over "
          f"{len(best.intermediate_values)} instances")
    print(f"trainings: {trainings} of {args.trials * args.instances} without pruning "
          f"({pruned} of {args.trials} trials pruned), {time.perf_counter() - start:.0f} s")
    return {"best": best.params, "value": best.value, "trainings": trainings,
            "pruned": pruned}


if __name__ == "__main__":
    main()
