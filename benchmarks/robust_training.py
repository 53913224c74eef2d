"""Robust training on Fashion-MNIST: plain, adversarial training, TRADES, the sensitivity
loss and interval-bound training, side by side.

Example::

    .venv/bin/python benchmarks/robust_training.py --train-size 5000 --epochs 3 --instances 5 \
        --losses plain,at,trades,sens_low,sens_high,ibp

The interval-bound losses (``sens_low``/``sens_high``: the sensitivity loss at lambda
0.003 / 0.03; ``ibp``: interval-bound training, kappa 0.5 after a one-epoch ramp) train at
``--bound-eps``, where every instance is also measured on the mean log-volume sensitivity
and the IBP-verified accuracy.

Every instance of every loss trains the same small CNN from the same seeds (instance ``i``
of each loss shares its initialisation, data order and subsample) and is evaluated on the
same test images: clean accuracy and PGD-20 l_inf robust accuracy at ``--eps`` (the
evaluation attack of :mod:`stalwart.robustness`, step ``2.5 eps / 20``). The losses run
interleaved (plain, AT, TRADES, plain, ...) so that the machine's load hits them alike.

The cost ratio is timed apart from the accuracy runs (whose wall time includes the final
validation and test passes): one epoch of the trainer's step (the loss's ``batch_loss``,
backward, AdamW step) over ``--timing-size`` images per loss, interleaved, repeated
``--timing-repeats`` times; the ratio is the median over repeats of (loss epoch / plain
epoch) of the same repeat. Prints a table and a JSON line.
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

from stalwart.data import load_dataset
from stalwart.models.layout import fast_memory_format, lay_out_weights
from stalwart.robustness.metrics import make_evaluator
from stalwart.training import (
    TrainingSettings,
    initial_model,
    make_training_loss,
    objective_for,
    train_instance,
)

LOSSES: dict[str, dict[str, Any]] = {
    "plain": {"training_loss": "task"},
    "at": {"training_loss": "at"},
    "trades": {"training_loss": "trades", "trades_beta": 6.0},
    # the interval-bound losses at their own radius (--bound-eps): see main()
    "sens_low": {"training_loss": "sensitivity", "sens_lambda": 0.003},
    "sens_high": {"training_loss": "sensitivity", "sens_lambda": 0.03},
    "ibp": {"training_loss": "ibp", "ibp_kappa": 0.5, "robust_warmup_epochs": 0,
            "robust_ramp_epochs": 1},
}
BOUND_LOSSES = ("sens_low", "sens_high", "ibp")


def epoch_seconds(cfg: dict[str, Any], ds: Any, n: int, device: str) -> float:
    """Wall time of one training epoch of ``cfg``'s loss over the pool's first ``n`` images."""
    model = initial_model(cfg, 0, ds, device=device)
    s = TrainingSettings.from_config(cfg)
    loss_fn = make_training_loss(s, objective_for(ds), input_range=ds.input_range)
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr)
    x, y = ds.x_train[:n].float().to(device), ds.y_train[:n].long().to(device)
    # the trainer's layout (stalwart.training.trainer): channels_last for a CNN on a CPU
    layout = fast_memory_format(model, x, s.memory_format)
    lay_out_weights(model, layout)
    x = x.contiguous(memory_format=layout)
    model.train()
    loss_fn.set_progress(float(s.epochs))  # full strength: past any warm-up and ramp
    start = time.perf_counter()
    for i in range(0, n, s.batch_size):
        loss = loss_fn.batch_loss(model, x[i:i + s.batch_size], y[i:i + s.batch_size])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-size", type=int, default=10000)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--instances", type=int, default=2)
    p.add_argument("--eps", type=float, default=0.1)
    p.add_argument("--adv-steps", type=int, default=10, help="inner attack steps in training")
    p.add_argument("--eval-samples", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--losses", default="plain,at,trades")
    p.add_argument("--timing-size", type=int, default=2000)
    p.add_argument("--timing-repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--bound-eps", type=float, default=0.01,
                   help="radius of the sensitivity and IBP losses and of the log-volume "
                   "sensitivity and verified-accuracy metrics")
    args = p.parse_args(argv)
    print("command:", shlex.join([sys.executable, *sys.argv]), flush=True)
    torch.set_num_threads(args.threads)
    ds = load_dataset("fashion_mnist", root="/usr/share/datasets/fashion-mnist",
                      download=False)
    base = {"model": "small_cnn", "conv_channels": [16, 32], "pool_sizes": [2, 2],
            "pool_strides": [2, 2], "padding": 1, "fc_sizes": [64], "epochs": args.epochs,
            "batch_size": 128, "lr": 2e-3, "restore_best": False,
            "robust_eps": args.eps, "adv_steps": args.adv_steps}
    pgd = make_evaluator("pgd_linf_acc", eps=args.eps, steps=20, n_samples=args.eval_samples)
    sens = make_evaluator("log_sensitivity", eps=args.bound_eps, n_samples=args.eval_samples)
    verified = make_evaluator("verified_acc", eps=args.bound_eps, n_samples=args.eval_samples)

    def config(name: str) -> dict[str, Any]:
        eps = {"robust_eps": args.bound_eps} if name in BOUND_LOSSES else {}
        return {**base, **LOSSES[name], **eps}

    rows: dict[str, list[dict[str, float]]] = {k: [] for k in args.losses.split(",")}
    timings: dict[str, list[float]] = {k: [] for k in rows}
    for _ in range(args.timing_repeats):
        for name in rows:
            timings[name].append(epoch_seconds(config(name), ds,
                                               args.timing_size, args.device))
    ratios = {k: statistics.median(t / p for t, p in zip(v, timings["plain"], strict=True))
              for k, v in timings.items()} if "plain" in timings else {}
    print("epoch seconds over", args.timing_size, "images:",
          {k: [round(t, 2) for t in v] for k, v in timings.items()}, flush=True)
    for i in range(args.instances):
        for name in rows:
            cfg = config(name)
            mark: dict[str, float] = {}

            def timer(model, dataset, _mark=mark):
                _mark["trained"] = time.perf_counter()
                return {}

            start = time.perf_counter()
            r = train_instance(cfg, i, ds, 0, train_size=args.train_size,
                               evaluators=[timer, pgd, sens, verified], threads=args.threads,
                               device=args.device)
            if r.status != "ok":
                print(f"{name} instance {i}: {r.status} {r.error}", flush=True)
                return 1
            wall = mark["trained"] - start
            rows[name].append({"clean": r.metrics["test_accuracy"],
                               "pgd20": r.metrics["pgd_linf_acc"],
                               "log_sens": r.metrics["log_sensitivity"],
                               "verified": r.metrics["verified_acc"], "train_s": wall})
            print(f"{name:9s} instance {i}: clean {r.metrics['test_accuracy']:.3f}  "
                  f"PGD-20 {r.metrics['pgd_linf_acc']:.3f}  log-sens "
                  f"{r.metrics['log_sensitivity']:.2f}  verified {r.metrics['verified_acc']:.3f}  "
                  f"training {wall:.0f} s", flush=True)

    if not args.instances:  # timing only
        print("| loss | epoch time / plain (median) |\n|---|---|")
        for name in rows:
            print(f"| {name} | {ratios.get(name, float('nan')):.2f} |")
        print(json.dumps({"args": vars(args), "timings": timings, "ratios": ratios}))
        return 0

    print(f"\nFashion-MNIST, {args.train_size} training images, {args.epochs} epochs, "
          f"{args.instances} instances, eps {args.eps}, training attack PGD-{args.adv_steps}; "
          f"test: first {args.eval_samples} test images")
    print(f"bound losses and metrics at eps {args.bound_eps}; mean (standard error) over "
          "instances")
    print("| loss | clean acc | PGD-20 l_inf acc | log-volume sensitivity | verified acc "
          "| epoch time / plain (median) |")
    print("|---|---|---|---|---|---|")

    def cell(name: str, key: str, digits: int = 3) -> str:
        values = [row[key] for row in rows[name]]
        se = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else float("nan")
        return f"{statistics.fmean(values):.{digits}f} ({se:.{digits}f})"

    for name in rows:
        print(f"| {name} | {cell(name, 'clean')} | {cell(name, 'pgd20')} "
              f"| {cell(name, 'log_sens', 2)} | {cell(name, 'verified')} "
              f"| {ratios.get(name, float('nan')):.2f} |")
    print(json.dumps({"args": vars(args), "rows": rows, "timings": timings, "ratios": ratios}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
