"""Would a surrogate over the hyperparameters pay on our digits table? (issue 12, optional)

Below one instance of every config, a strategy must skip configs without training them,
on a model's word. This measures, offline, what the simplest such model would skip on
``benchmarks/data/digits_mlp_exhaustive.csv``: an OLS of one instance's value on the
hyperparameters as categorical main effects (statsmodels), fitted on a random fraction of
the configs (one random instance each, as adaptive's first round would have them); an
untrained config is skipped when the model's one-sided prediction bound (observation
noise included) says it is worse than the best trained value, at adaptive's first-look
level for each correction. Reported over ``--draws`` random draws: the share of configs
skipped, the share of the exhaustive training time that saves (their first instance;
adaptive would drop most of them after it anyway), and how many skipped configs were
within the tolerance, or within 0.02, of the best.

Usage::

    .venv/bin/python benchmarks/surrogate_feasibility.py [--fraction 0.25] [--draws 50]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "benchmarks" / "data" / "digits_mlp_exhaustive.csv"
PARAMS = ["activation", "batch_size", "dropout", "hidden_sizes", "lr", "optimizer"]
N_INSTANCES = 20
TOLERANCE = 0.005


def first_look_level(correction: str, k: int, alpha: float) -> float:
    """adaptive's ``a(m)`` at its first look (``m = 2``) for ``k`` configs."""
    harmonic = float(np.sum(1.0 / np.arange(1, 2 * N_INSTANCES)))
    if correction == "none":
        return alpha
    spent = alpha / harmonic
    return spent / 2 if correction == "looks" else spent / (2 * (k - 1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fraction", type=float, default=0.25, help="configs trained first")
    p.add_argument("--draws", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    d = pd.read_csv(TABLE)
    values = d[[f"val_accuracy_{i}" for i in range(1, N_INSTANCES + 1)]].to_numpy()
    times = d[[f"time_{i}" for i in range(1, N_INSTANCES + 1)]].to_numpy()
    means = values.mean(axis=1)
    gap = means.max() - means
    k = len(d)
    frame = d[PARAMS].astype(str)
    formula = "y ~ " + " + ".join(f"C({c})" for c in PARAMS)
    rng = np.random.default_rng(args.seed)
    settings = [("bonferroni", 0.5), ("looks", 0.95), ("none", 0.95)]
    rows: dict[str, list[tuple[float, float, int, int]]] = {c: [] for c, _ in settings}
    for _ in range(args.draws):
        perm = rng.permutation(k)
        n_fit = math.ceil(args.fraction * k)
        fit, rest = perm[:n_fit], perm[n_fit:]
        column = rng.integers(N_INSTANCES, size=k)
        y = values[np.arange(k), column]
        model = smf.ols(formula, data=frame.iloc[fit].assign(y=y[fit])).fit()
        pred = model.get_prediction(frame.iloc[rest]).summary_frame()
        se_obs = np.sqrt(pred["mean_se"].to_numpy() ** 2 + model.scale)
        lead = float(y[fit].max())
        for correction, confidence in settings:
            level = first_look_level(correction, k, 1 - confidence)
            crit = stats.t.ppf(1 - level, model.df_resid)
            skipped = rest[lead - pred["mean"].to_numpy() > crit * se_obs]
            rows[correction].append((
                len(skipped) / k,
                float(times[skipped, column[skipped]].sum() / times.sum()),
                int(np.sum(gap[skipped] <= TOLERANCE)),
                int(np.sum(gap[skipped] <= 0.02)),
            ))
    print(f"{TABLE.name}: {k} configs, OLS on categorical main effects of "
          f"{', '.join(PARAMS)}, fitted on {args.fraction:.0%} of the configs, "
          f"{args.draws} draws\n")
    print("| correction (confidence) | configs skipped | exhaustive time saved | "
          f"skipped within {TOLERANCE} of best | skipped within 0.02 |")
    print("|---|---|---|---|---|")
    for correction, confidence in settings:
        r = np.array(rows[correction])
        print(f"| {correction} ({confidence}) | {100 * r[:, 0].mean():.1f}% "
              f"| {100 * r[:, 1].mean():.2f}% | {int(r[:, 2].sum())} in {args.draws} draws "
              f"| {int(r[:, 3].sum())} in {args.draws} draws |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
