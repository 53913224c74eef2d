"""Benchmark: the minima of a small network's loss landscape and their IBP sensitivity.

Basin-hopping (``scipy.optimize.basinhopping``, L-BFGS-B local minimisations with torch
autograd gradients) over the flattened weights of a tanh MLP, by
:func:`stalwart.bilevel.landscape.catalogue_minima`; prints the table of distinct minima
(training objective, cross-entropies, errors, interval-bound sensitivity: the mean
log-volume of the IBP output box over l_inf balls of radius ``--eps`` around the
validation inputs, arXiv 1810.11726), Spearman's rho between training loss and sensitivity
with a percentile-bootstrap confidence interval, and writes the figure of one against the
other to ``--figure`` and, with ``--json``, the catalogue (without the weights), the
correlation and the task to a ``stalwart.landscape/1`` JSON file, which
``stalwart report landscape.json -o landscape.html`` turns into a page.

Tasks (scikit-learn's bundled data): ``digits`` (8x8 images scaled to [0, 1], ``--train``
training and ``--val`` validation images, 10 classes, default MLP 64-4-10: 310 weights)
or ``iris`` (standardised, 75/75, default MLP 4-8-3: 67 weights).

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/landscape.py [--task digits] \
        [--niter 40] [--figure landscape.png] [--json landscape.json]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
try:
    import stalwart  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402
from sklearn.datasets import load_digits, load_iris  # noqa: E402

from stalwart.bilevel.landscape import (  # noqa: E402
    catalogue_minima,
    landscape_json,
    loss_sensitivity_correlation,
    minima_figure,
    mlp,
)


def task(name: str, n_train: int, n_val: int, seed: int) -> tuple[np.ndarray, ...]:
    if name == "iris":
        X, y = load_iris(return_X_y=True)
        X = (X - X.mean(0)) / X.std(0)
    else:
        X, y = load_digits(return_X_y=True)
        X = X / 16.0
    idx = np.random.default_rng(seed).permutation(len(y))
    tr, va = idx[:n_train], idx[n_train:n_train + n_val]
    return X[tr], y[tr], X[va], y[va]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=["digits", "iris"], default="digits")
    parser.add_argument("--hidden", type=int, nargs="+", default=None,
                        help="hidden widths (default: 4 for digits, 8 for iris)")
    parser.add_argument("--train", type=int, default=None, help="default 200 / 75")
    parser.add_argument("--val", type=int, default=None, help="default 300 / 75")
    parser.add_argument("--niter", type=int, default=40)
    parser.add_argument("--stepsize", type=float, default=3.0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--eps", type=float, default=None, help="default 0.02 / 0.05")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resamples", type=int, default=5000)
    parser.add_argument("--figure", type=Path, default=None, help="PNG path")
    parser.add_argument("--json", type=Path, default=None,
                        help="write the catalogue (stalwart.landscape/1) here, for "
                        "`stalwart report`")
    args = parser.parse_args()
    torch.set_num_threads(1)
    digits = args.task == "digits"
    hidden = args.hidden or ([4] if digits else [8])
    n_train = args.train or (200 if digits else 75)
    n_val = args.val or (300 if digits else 75)
    eps = args.eps if args.eps is not None else (0.02 if digits else 0.05)
    Xt, yt, Xv, yv = task(args.task, n_train, n_val, args.seed)
    sizes = (Xt.shape[1], *hidden, int(max(yt.max(), yv.max())) + 1)
    t0 = time.perf_counter()
    cat = catalogue_minima(mlp(sizes, seed=args.seed), Xt, yt, Xv, yv, niter=args.niter,
                           stepsize=args.stepsize, temperature=args.temperature,
                           weight_decay=args.weight_decay, eps=eps, seed=args.seed)
    took = time.perf_counter() - t0
    corr = loss_sensitivity_correlation(cat, n_resamples=args.resamples, seed=args.seed)
    print(f"{args.task}: MLP {'-'.join(map(str, sizes))} tanh ({cat.n_params} weights), "
          f"{n_train} train / {n_val} val, weight decay {args.weight_decay:g}, "
          f"basin-hopping {args.niter} steps (step {args.stepsize:g}, T "
          f"{args.temperature:g}), sensitivity eps {eps:g}\n")
    print(cat.table())
    print(f"\n{cat.n_minimisations} local minimisations, {len(cat.minima)} distinct minima, "
          f"{cat.n_not_stationary} not stationary (gradient norm > 1e-4, not catalogued)")
    print(f"Spearman rho(training loss, sensitivity) = {corr.rho:.3f}, 95% bootstrap CI "
          f"[{corr.low:.3f}, {corr.high:.3f}] over n = {corr.n} minima "
          f"({args.resamples} resamples)")
    vals = np.array([[m.val_loss, m.sensitivity] for m in cat.minima])
    if len(vals) >= 3:
        from scipy.stats import spearmanr

        rv = spearmanr(vals[:, 0], vals[:, 1]).statistic
        rl = spearmanr([m.train_loss for m in cat.minima], vals[:, 0]).statistic
        print(f"(for reference, no CI: rho(validation loss, sensitivity) = {rv:.3f}; "
              f"rho(training loss, validation loss) = {rl:.3f})")
    if args.figure is not None:
        minima_figure(cat, corr).savefig(args.figure, dpi=120)
        print(f"figure: {args.figure}")
    if args.json is not None:
        meta = {"dataset": args.task, "sizes": list(sizes), "activation": "tanh",
                "n_train": n_train, "n_val": n_val, "eps": eps,
                "weight_decay": args.weight_decay, "steps": args.niter,
                "stepsize": args.stepsize, "temperature": args.temperature, "seed": args.seed,
                "resamples": args.resamples, "confidence": 0.95,
                "command": f"OMP_NUM_THREADS=1 python {shlex.join(sys.argv)}"}
        args.json.write_text(json.dumps(landscape_json(cat, corr, meta), indent=1,
                                        allow_nan=False) + "\n", encoding="utf-8")
        print(f"json: {args.json}")
    print(f"\n$ OMP_NUM_THREADS=1 python {shlex.join(sys.argv)}")
    print(f"basin-hopping {took:.0f} s, total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
