"""Training throughput of the paper's small CNN: instance trainings per minute, and how
close the achieved FLOP rate comes to this machine's float32 matmul rate.

Example::

    .venv/bin/python benchmarks/train_throughput.py --train-size 5000 --epochs 5 --threads 1

FLOPs are counted analytically (conv and linear multiply-adds, 2 FLOPs each; a training
step costs 3x a forward pass: forward, gradient w.r.t. activations, gradient w.r.t.
weights); evaluation passes (validation every epoch for ``restore_best``, final val/test)
count 1x. The matmul rate is measured before every timed training (interleaved), and the
achieved fraction is taken per training against its own matmul figure; medians with min and
max are printed. The data are the generated calorimeter showers of :mod:`stalwart.data`, or
synthetic 15x15 showers when that module is unavailable.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from typing import Any

import torch

from stalwart.data.base import Dataset
from stalwart.models import PAPER_CONFIGS, build_model, count_macs, count_parameters
from stalwart.training import train_instance


def synthetic_showers(n_pool: int, n_val: int, n_test: int, seed: int = 0) -> Dataset:
    """Gaussian 15x15 showers of energy U(1, 100) GeV, shaped like the calorimeter set."""
    g = torch.Generator().manual_seed(seed)
    n = n_pool + n_val + n_test
    energy = 1 + 99 * torch.rand(n, generator=g)
    grid = torch.arange(15.0) - 7
    cx, cy = torch.rand(n, generator=g) - 0.5, torch.rand(n, generator=g) - 0.5
    r2 = (grid[None, :, None] - cy[:, None, None]) ** 2 + (grid[None, None, :] - cx[:, None, None]) ** 2
    shower = torch.exp(-r2 / 1.5)
    deposits = energy[:, None, None] * shower / shower.sum((1, 2), keepdim=True)
    x = (deposits / 100).unsqueeze(1).float()
    y = energy[:, None].float()
    feats = torch.stack([deposits.sum((1, 2)), cx, cy], 1).float()
    a, b = n_pool, n_pool + n_val
    return Dataset("synthetic_showers", "energy", "regression", x[:a], y[:a], x[a:b], y[a:b],
                   x[b:], y[b:], n_outputs=1, features_train=feats[:a],
                   features_val=feats[a:b], features_test=feats[b:],
                   feature_names=("energy_sum", "barycentre_x", "barycentre_y"),
                   metric="rmse_rel")


def load_data(args: argparse.Namespace) -> tuple[Dataset, str]:
    """The calorimeter data (energy task) or, failing that, synthetic showers."""
    if not args.synthetic:
        try:
            from stalwart.data import load_dataset

            ds = load_dataset("calorimeter", task="energy", n_pool=args.train_size,
                              n_val=args.n_val, n_test=args.n_test)
            return ds, "calorimeter (stalwart.data, generated)"
        except Exception as exc:  # any failure: fall back, and say why
            print(f"# calorimeter data unavailable ({type(exc).__name__}: {exc}); "
                  "using synthetic showers")
    return synthetic_showers(args.train_size, args.n_val, args.n_test), "synthetic showers"


def matmul_gflops(n: int, threads: int, seconds: float = 1.0) -> float:
    """Measured float32 ``torch.matmul`` rate for n x n matrices, in GFLOP/s."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):  # warm-up
        torch.matmul(a, b)
    reps, start = 0, time.perf_counter()
    while reps < 3 or time.perf_counter() - start < seconds:
        torch.matmul(a, b)
        reps += 1
    elapsed = time.perf_counter() - start
    return 2 * n**3 * reps / elapsed / 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-size", type=int, default=5000, help="training samples")
    parser.add_argument("--n-val", type=int, default=1000, help="validation samples")
    parser.add_argument("--n-test", type=int, default=1000, help="test samples")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--instances", type=int, default=3, help="timed trainings")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--matmul-size", type=int, default=1024, help="n of the n x n matmul")
    parser.add_argument("--model", default="energy_model_1", choices=sorted(PAPER_CONFIGS),
                        help="which of the paper's configs to train")
    parser.add_argument("--synthetic", action="store_true", help="skip the data module")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    print("# command:", shlex.join([sys.executable, *sys.argv]) if argv is None
          else shlex.join(["train_throughput.py", *argv]))
    torch.set_num_threads(args.threads)

    ds, source = load_data(args)
    config: dict[str, Any] = dict(PAPER_CONFIGS[args.model], optimizer="adamw", lr=3e-3,
                                  batch_size=args.batch_size, epochs=args.epochs)
    n_feat = len(config.get("extra_inputs", []))
    model = build_model(config, ds.input_shape, 1, n_feat)
    macs = count_macs(model, ds.input_shape, n_feat)
    n_val, n_test = int(ds.x_val.shape[0]), int(ds.x_test.shape[0])
    train_flops = 2 * macs * 3 * args.train_size * args.epochs
    # restore_best (default) evaluates validation every epoch; then final val + test.
    eval_flops = 2 * macs * (n_val * args.epochs + n_val + n_test)
    print(f"# data: {source}; pool {ds.n_pool}, val {n_val}, test {n_test}")
    print(f"# config: {json.dumps(config, sort_keys=True)}")
    print(f"model parameters           : {count_parameters(model):,}")
    print(f"forward MACs per sample    : {macs:,}")

    train_instance(dict(config, epochs=1), 999, ds, train_size=min(512, args.train_size),
                   threads=args.threads, device=args.device)  # warm-up, not timed
    # Interleaved: a one-second matmul rate measurement before every training, so that
    # both see the same machine load; each training's rate is divided by its own matmul.
    times, peaks = [], []
    for i in range(args.instances):
        peaks.append(matmul_gflops(args.matmul_size, args.threads))
        torch.set_num_threads(args.threads)
        r = train_instance(config, i, ds, train_size=args.train_size, threads=args.threads,
                           device=args.device)
        if r.status != "ok":
            print(f"instance {i}: {r.status} {r.error}")
            return 1
        times.append(r.wall_time)
        print(f"instance {i}: {r.wall_time:6.2f} s  test RMSE(E)/E {r.value('test_rmse_rel'):.4f}"
              f"  (matmul before it: {peaks[-1]:.1f} GFLOP/s)")
    total = train_flops + eval_flops
    ratios = [total / t / 1e9 / p for t, p in zip(times, peaks, strict=True)]

    def spread(xs: list[float], fmt: str = ".2f") -> str:
        return (f"{statistics.median(xs):{fmt}} (min {min(xs):{fmt}}, max {max(xs):{fmt}}, "
                f"n {len(xs)})")

    wall = statistics.median(times)
    print(f"FLOPs per training         : {total / 1e9:.2f} GFLOP "
          f"(train {train_flops / 1e9:.2f} + eval {eval_flops / 1e9:.2f})")
    print(f"wall time per training    : {spread(times)} s")
    print(f"instance trainings / minute: {60 / wall:.2f} (median)")
    print(f"achieved                   : {total / wall / 1e9:.2f} GFLOP/s (median)")
    print(f"{f'float32 matmul {args.matmul_size}^2':<27}: {spread(peaks, '.1f')} GFLOP/s "
          f"({args.threads} thread{'s' if args.threads != 1 else ''})")
    print(f"achieved / matmul          : {spread(ratios, '.3f')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
