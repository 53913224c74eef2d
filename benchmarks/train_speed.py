"""Trainer speed choices, measured side by side: memory layout per family, torch.compile.

Example::

    .venv/bin/python benchmarks/train_speed.py --repeats 5 --threads 1

1. **Layout.** For each model family on its dataset, whole instance trainings
   (:func:`stalwart.training.train_instance`) with ``memory_format: contiguous`` and
   ``channels_last``, interleaved (contiguous, channels_last, contiguous, ...), the same
   sizes (the key is part of the config id, so the seeds differ); the ratio of each pair (contiguous time / channels_last time) with its
   min/median/max over ``--repeats`` pairs. ``auto`` picks channels_last for a family
   with 2-D convolutions on a CPU: this is the measurement that decides it.
2. **torch.compile.** The energy model's training step (forward, MSE loss, backward,
   AdamW) over one epoch of ``--compile-size`` showers, eager against
   ``torch.compile(model)``, for ``--compile-instances`` fresh models (new weights, same
   shapes, as the instances of one config in a worker). The compiled run's first
   instance pays the compile; reported: the compile time, the steady per-instance ratio
   and the number of instances after which compiling has paid for itself.

Prints markdown tables, the command, and a JSON line.
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
from stalwart.models import PAPER_CONFIGS, build_model
from stalwart.training import train_instance

FAMILIES: dict[str, tuple[dict[str, Any], str]] = {
    "energy model (small_cnn, 15x15)": (dict(PAPER_CONFIGS["energy_model_1"]), "calorimeter"),
    "small_cnn 16-32 (28x28)": ({"model": "small_cnn", "conv_channels": [16, 32],
                                 "fc_sizes": [64], "padding": 1, "pool_strides": [2, 2]},
                                "fashion_mnist"),
    "resnet18 width 8": ({"model": "resnet18", "width": 8}, "fashion_mnist"),
    "hybrid (conv stem + encoder)": ({"model": "hybrid", "dim": 48, "depth": 2, "heads": 3,
                                      "stem_channels": [16, 32]}, "fashion_mnist"),
    "mlp": ({"model": "mlp", "hidden_sizes": [128, 64]}, "fashion_mnist"),
}


def datasets(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "calorimeter": load_dataset("calorimeter", task="energy", n_pool=args.train_size,
                                    n_val=500, n_test=500),
        "fashion_mnist": load_dataset("fashion_mnist", n_val=1000, download=False,
                                      root="/usr/share/datasets/fashion-mnist"),
    }


def layouts(args: argparse.Namespace) -> dict[str, list[float]]:
    data = datasets(args)
    ratios: dict[str, list[float]] = {}
    for name, (model, ds) in FAMILIES.items():
        config = {**model, "epochs": args.epochs, "batch_size": 64, "restore_best": False}
        times: dict[str, list[float]] = {"contiguous": [], "channels_last": []}
        for fmt in times:  # warm-up, untimed: first calls pay for kernel selection
            train_instance({**config, "memory_format": fmt, "epochs": 1}, 99, data[ds],
                           train_size=256, threads=args.threads)
        for r in range(args.repeats):
            for fmt in times:
                result = train_instance({**config, "memory_format": fmt}, r, data[ds],
                                        train_size=args.train_size, threads=args.threads)
                if result.status != "ok":
                    raise SystemExit(f"{name} {fmt}: {result.error}")
                times[fmt].append(result.wall_time)
        ratios[name] = [c / cl for c, cl in zip(times["contiguous"], times["channels_last"],
                                               strict=True)]
        print(f"{name}: contiguous {[round(t, 2) for t in times['contiguous']]} s, "
              f"channels_last {[round(t, 2) for t in times['channels_last']]} s", flush=True)
    return ratios


def _epoch(model: torch.nn.Module, step_model: Any, x: torch.Tensor, y: torch.Tensor) -> None:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for i in range(0, x.shape[0], 64):
        loss = torch.nn.functional.mse_loss(step_model(x[i:i + 64]), y[i:i + 64])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def compiled(args: argparse.Namespace) -> dict[str, Any]:
    ds = load_dataset("calorimeter", task="energy", n_pool=args.compile_size, n_val=100,
                      n_test=100)
    x, y = ds.x_train.float(), ds.y_train.float().reshape(-1, 1) / 50.0
    config = dict(PAPER_CONFIGS["energy_model_1"])
    out: dict[str, list[float]] = {"eager": [], "compiled": []}
    torch._dynamo.reset()
    for i in range(args.compile_instances):
        for mode in out:  # interleaved: eager, compiled, eager, ...
            model = build_model(config, (1, 15, 15), 1,
                                generator=torch.Generator().manual_seed(i))
            step_model = torch.compile(model) if mode == "compiled" else model
            start = time.perf_counter()
            _epoch(model, step_model, x, y)
            out[mode].append(time.perf_counter() - start)
        print(f"instance {i}: eager {out['eager'][-1]:.2f} s, compiled "
              f"{out['compiled'][-1]:.2f} s", flush=True)
    eager, comp = out["eager"], out["compiled"]
    steady = statistics.median(e / c for e, c in zip(eager[1:], comp[1:], strict=True))
    compile_cost = comp[0] - statistics.median(comp[1:])
    saving = statistics.median(eager[1:]) - statistics.median(comp[1:])
    return {"eager": eager, "compiled": comp, "steady_ratio": steady,
            "compile_seconds": compile_cost,
            "break_even_instances": compile_cost / saving if saving > 0 else None}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--train-size", type=int, default=3000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--compile-size", type=int, default=3000)
    p.add_argument("--compile-instances", type=int, default=4)
    p.add_argument("--skip", default="", help="comma list: layouts, compile")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print("command:", shlex.join(["python", "benchmarks/train_speed.py",
                                  *(argv if argv is not None else sys.argv[1:])]), flush=True)
    skip = set(filter(None, args.skip.split(",")))
    report: dict[str, Any] = {"args": vars(args)}
    if "layouts" not in skip:
        ratios = layouts(args)
        report["layout_ratios"] = ratios
        print("\n| family | contiguous time / channels_last time: min | median | max |")
        print("|---|---|---|---|")
        for name, r in ratios.items():
            print(f"| {name} | {min(r):.2f} | {statistics.median(r):.2f} | {max(r):.2f} |")
    if "compile" not in skip:
        c = compiled(args)
        report["compile"] = c
        be = c["break_even_instances"]
        print(f"\ntorch.compile on the energy model's step: compile {c['compile_seconds']:.1f} s, "
              f"steady eager/compiled {c['steady_ratio']:.2f}, break-even after "
              f"{'never' if be is None else f'{be:.1f} instances'}")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
