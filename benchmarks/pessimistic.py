"""Benchmark: pessimistic vs optimistic vs plain tuning of a linear classifier's lambda.

The experiment of Ustun, Xu, Zeng and Qian, "Hyperparameter Tuning Through Pessimistic
Bilevel Optimization" (arXiv 2412.03666), on scikit-learn's bundled datasets: L2-regularised
logistic regression (or a linear SVM, ``--loss hinge``) with strength ``lam`` chosen on a
validation set by

* ``plain``: the inner minimiser's validation loss (ordinary tuning);
* ``optimistic``: the best member of the eps-optimal set ``S_eps = {f <= min f + eps}``;
* ``pessimistic``: the worst member, by the flipped-label relaxation (:mod:`stalwart.bilevel`).

Each method deploys the member it selected (``--deploy own``, the paper's setting) or the
inner minimiser at its selected ``lam`` (``--deploy minimiser``: only ``lam`` differs).
Datasets: ``breast_cancer``; ``wine`` classes 0 vs 1; ``digits`` 3 vs 8; or features from a
file (``--features FILE.npz`` with arrays ``X`` and ``y``; ``--pair A B`` picks two
classes when ``y`` has more). Per training size ``n`` and split: ``n`` stratified training
samples, ``n`` validation samples, the rest is the test set (a size that leaves fewer than
``--min-test`` test samples is skipped); features standardised with training statistics.
Test sets: clean, Gaussian noise ``N(0, --noise^2)`` on the standardised features, and
the exact worst case under l_inf perturbations of radius ``--linf`` (standardised units).

Prints a markdown table (mean test error in % with standard errors over splits; the
pessimistic win/tie/loss counts against each other method, per split), the selected
lambdas, the relaxation's gap to a sampled worst case at the pessimistic ``lam``
(``--gap-samples`` boundary samples of ``S_eps``), where pessimistic wins and where not,
and the command that produced it.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pessimistic.py [--splits 20] \
        [--sizes 20 50 200] [--loss logistic] [--search grid] [--eps 0.05]
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
try:
    import stalwart  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))

from sklearn.datasets import load_breast_cancer, load_digits, load_wine  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from stalwart.bilevel import (  # noqa: E402
    MODES,
    LinearBilevel,
    Member,
    golden_search,
    grid_search,
    linear_error,
    log_grid,
    noisy_test_set,
    perturbed_error,
    relaxation_gap,
)

TESTS = ("clean", "noisy", "linf")


def _pair(X: np.ndarray, y: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    keep = (y == a) | (y == b)
    return X[keep], (y[keep] == b).astype(int)


def load(name: str, args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` with binary 0/1 labels."""
    if name == "breast_cancer":
        X, y = load_breast_cancer(return_X_y=True)
        return X, y
    if name == "wine":
        return _pair(*load_wine(return_X_y=True), 0, 1)
    if name == "digits":
        return _pair(*load_digits(return_X_y=True), 3, 8)
    data = np.load(args.features)
    X, y = np.asarray(data["X"], dtype=np.float64), np.asarray(data["y"])
    X = X.reshape(len(X), -1)
    if args.pair is not None:
        return _pair(X, y, *args.pair)
    classes = np.unique(y)
    if len(classes) != 2:
        sys.exit(f"--features: y has {len(classes)} classes; give --pair A B")
    return X, (y == classes[1]).astype(int)


def split(X: np.ndarray, y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """Stratified train (n) / validation (n) / test (rest), standardised on train."""
    idx = np.arange(len(y))
    tr, rest = train_test_split(idx, train_size=n, stratify=y, random_state=seed)
    va, te = train_test_split(rest, train_size=n, stratify=y[rest], random_state=seed + 1)
    mu, sd = X[tr].mean(0), X[tr].std(0)
    sd[sd == 0] = 1.0
    Z = (X - mu) / sd
    return Z[tr], y[tr], Z[va], y[va], Z[te], y[te]


@dataclass
class Cell:
    """One (dataset, n): test errors per mode and test set, lambdas, relaxation gaps."""

    errors: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    lams: dict[str, list[float]] = field(default_factory=dict)
    gaps: list[tuple[float, float]] = field(default_factory=list)

    def add(self, mode: str, test: str, err: float) -> None:
        self.errors.setdefault((mode, test), []).append(err)


def select(problem: LinearBilevel, args: argparse.Namespace) -> dict[str, Member]:
    relative = args.eps_mode == "relative"
    out = {}
    for mode in MODES:
        if args.search == "grid":
            res = grid_search(problem, log_grid(args.lam_low, args.lam_high, args.grid),
                              eps=args.eps, mode=mode, relative=relative,
                              criterion=args.criterion)
        else:
            res = golden_search(problem, (args.lam_low, args.lam_high), eps=args.eps,
                                mode=mode, relative=relative, criterion=args.criterion)
        out[mode] = res.best if args.deploy == "own" else problem.minimiser(res.lam)
    return out


def run_cell(X: np.ndarray, y: np.ndarray, n: int, args: argparse.Namespace) -> Cell:
    cell = Cell()
    for s in range(args.splits):
        seed = args.seed * 10_000 + s
        Xtr, ytr, Xva, yva, Xte, yte = split(X, y, n, seed)
        problem = LinearBilevel(Xtr, ytr, Xva, yva, loss=args.loss)
        chosen = select(problem, args)
        Xnoisy = noisy_test_set(Xte, args.noise, seed=seed)
        for mode, m in chosen.items():
            cell.lams.setdefault(mode, []).append(m.lam)
            cell.add(mode, "clean", linear_error(m.w, m.b, Xte, yte))
            cell.add(mode, "noisy", linear_error(m.w, m.b, Xnoisy, yte))
            cell.add(mode, "linf", perturbed_error(m.w, m.b, Xte, yte, args.linf))
        if args.gap_samples:
            gap = relaxation_gap(problem, chosen["pessimistic"].lam, args.eps,
                                 args.gap_samples, relative=args.eps_mode == "relative",
                                 seed=seed)
            cell.gaps.append((gap.relaxation, gap.sampled_max))
    return cell


def mean_se(v: list[float]) -> str:
    a = 100 * np.asarray(v)
    se = a.std(ddof=1) / math.sqrt(len(a)) if len(a) > 1 else float("nan")
    return f"{a.mean():.1f} ± {se:.1f}"


def wtl(p: list[float], o: list[float]) -> str:
    d = np.asarray(p) - np.asarray(o)
    return f"{int((d < 0).sum())}/{int((d == 0).sum())}/{int((d > 0).sum())}"


def report(cells: dict[tuple[str, int], Cell]) -> None:
    print("| dataset | n | test | plain | optimistic | pessimistic | pess vs opt W/T/L "
          "| pess vs plain W/T/L |")
    print("|---|---|---|---|---|---|---|---|")
    wins: dict[str, list[str]] = {"optimistic": [], "plain": []}
    losses: dict[str, list[str]] = {"optimistic": [], "plain": []}
    for (name, n), cell in cells.items():
        for test in TESTS:
            e = {m: cell.errors[(m, test)] for m in MODES}
            print(f"| {name} | {n} | {test} | {mean_se(e['plain'])} | "
                  f"{mean_se(e['optimistic'])} | {mean_se(e['pessimistic'])} | "
                  f"{wtl(e['pessimistic'], e['optimistic'])} | "
                  f"{wtl(e['pessimistic'], e['plain'])} |")
            for other in ("optimistic", "plain"):
                diff = np.mean(e["pessimistic"]) - np.mean(e[other])
                row = f"{name} n={n} {test} ({100 * diff:+.1f} pts)"
                if diff < 0:
                    wins[other].append(row)
                elif diff > 0:
                    losses[other].append(row)
    print("\nmean test error in % ± standard error over splits; W/T/L: splits where "
          "pessimistic has lower / equal / higher test error.")
    print("\n| dataset | n | median lam plain | optimistic | pessimistic | "
          "relaxation < sampled max | mean shortfall |")
    print("|---|---|---|---|---|---|---|")
    for (name, n), cell in cells.items():
        med = {m: np.median(cell.lams[m]) for m in MODES}
        if cell.gaps:
            g = np.asarray(cell.gaps)
            miss = f"{int((g[:, 1] > g[:, 0]).sum())}/{len(g)}"
            short = f"{np.maximum(g[:, 1] - g[:, 0], 0).mean():.4f}"
        else:
            miss = short = "-"
        print(f"| {name} | {n} | {med['plain']:.3g} | {med['optimistic']:.3g} | "
              f"{med['pessimistic']:.3g} | {miss} | {short} |")
    print("\nrelaxation < sampled max: splits where a sampled member of S_eps had a higher "
          "validation loss than the relaxation's member (the relaxation missed the worst "
          "case); mean shortfall: mean of max(0, sampled max - relaxation), in loss units.")
    for other in ("optimistic", "plain"):
        total = len(wins[other]) + len(losses[other])
        print(f"\npessimistic has the lower mean test error than {other} in "
              f"{len(wins[other])} of {total} rows (ties excluded).")
        print(f"  wins:   {'; '.join(wins[other]) or 'none'}")
        print(f"  losses: {'; '.join(losses[other]) or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["breast_cancer", "wine", "digits"],
                        choices=["breast_cancer", "wine", "digits"])
    parser.add_argument("--features", type=Path, help="an .npz with X and y (replaces "
                        "--datasets)")
    parser.add_argument("--pair", type=int, nargs=2, metavar=("A", "B"))
    parser.add_argument("--name", default=None, help="the --features dataset's name")
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 50, 200])
    parser.add_argument("--splits", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--loss", choices=["logistic", "hinge"], default="logistic")
    parser.add_argument("--search", choices=["grid", "golden"], default="grid")
    parser.add_argument("--grid", type=int, default=13, help="grid points (log-spaced)")
    parser.add_argument("--lam-low", type=float, default=1e-4)
    parser.add_argument("--lam-high", type=float, default=1e2)
    parser.add_argument("--eps", type=float, default=0.05)
    parser.add_argument("--eps-mode", choices=["relative", "absolute"], default="relative")
    parser.add_argument("--criterion", choices=["loss", "error"], default="loss")
    parser.add_argument("--deploy", choices=["own", "minimiser"], default="own")
    parser.add_argument("--noise", type=float, default=0.5)
    parser.add_argument("--linf", type=float, default=0.1)
    parser.add_argument("--min-test", type=int, default=30)
    parser.add_argument("--gap-samples", type=int, default=100)
    args = parser.parse_args()
    t0 = time.perf_counter()
    if args.features is not None:
        names = [args.name or args.features.stem]
    else:
        names = args.datasets
    eps_text = (f"eps = {args.eps:g} x min train loss" if args.eps_mode == "relative"
                else f"eps = {args.eps:g}")
    print(f"loss {args.loss}, {args.search} search of lam in [{args.lam_low:g}, "
          f"{args.lam_high:g}]" + (f" ({args.grid} points)" if args.search == "grid" else "")
          + f", {eps_text}, criterion: validation {args.criterion}, deploy: {args.deploy}, "
          f"{args.splits} splits, noise sigma {args.noise:g}, l_inf radius {args.linf:g} "
          "(standardised units)\n")
    cells: dict[tuple[str, int], Cell] = {}
    for name in names:
        X, y = load(name, args)
        for n in args.sizes:
            if len(y) - 2 * n < args.min_test:
                print(f"skipped {name} n={n}: {len(y)} samples leave fewer than "
                      f"{args.min_test} for testing")
                continue
            t = time.perf_counter()
            cells[(name, n)] = run_cell(X, y, n, args)
            print(f"{name} n={n} (d={X.shape[1]}, test={len(y) - 2 * n}): "
                  f"{time.perf_counter() - t:.0f} s", file=sys.stderr)
    print()
    report(cells)
    print(f"\n$ OMP_NUM_THREADS=1 python {shlex.join(sys.argv)}")
    print(f"run time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
