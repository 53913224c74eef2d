"""PGD-10 l_inf throughput: stalwart vs torchattacks, side by side on the same model and data.

Run: ``python benchmarks/attacks.py [--batch 256] [--reps 7] [--threads 1] [--device cpu]``
     ``python benchmarks/attacks.py --memory-formats [--reps 7]``

Default mode: both attacks see the same (randomly initialised) small CNN on 3x32x32 inputs,
the same batch, eps = 8/255, alpha = 2/255, 10 steps. After one warm-up call each,
repetitions interleave the implementations (stalwart as it runs by default, stalwart forced
to contiguous inputs, torchattacks), so drifts in machine load hit all alike. Printed per
implementation: images/s from the min/median/max wall time; then the ratio to torchattacks
taken within each repetition (min/median/max over repetitions), on wall time and on the
thread's CPU time (``time.thread_time``: less sensitive to other jobs on a shared machine).

``--memory-formats``: the measurement behind
:func:`stalwart.robustness._utils.fast_memory_format`: per model family, the time of a
PGD-10 call (forward + input-gradient passes), of an eval forward and of interval bounds
with contiguous inputs and weights over the same with channels_last inputs and convolution
weights (> 1: channels_last wins),
median (min-max) of interleaved repetitions in thread CPU time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

import torch
from torch import nn

from stalwart.robustness.attacks import PGD


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 8 * 8, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
        return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"
    except OSError:
        return "load average unknown"


def _mmm(values: list[float], fmt: str = "{:.2f}") -> str:
    return "/".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def _interleaved(runners: dict[str, Callable[[], None]], reps: int, device: torch.device
                 ) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and thread-CPU seconds of each runner, ``reps`` interleaved rounds."""
    wall: dict[str, list[float]] = {k: [] for k in runners}
    cpu: dict[str, list[float]] = {k: [] for k in runners}
    for run in runners.values():  # warm-up
        run()
    for _ in range(reps):
        for name, run in runners.items():
            _sync(device)
            w0, c0 = time.perf_counter(), time.thread_time()
            run()
            _sync(device)
            wall[name].append(time.perf_counter() - w0)
            cpu[name].append(time.thread_time() - c0)
    return wall, cpu


def compare(args: argparse.Namespace) -> None:
    import torchattacks

    device = torch.device(args.device)
    torch.manual_seed(0)
    model = small_cnn().to(device).eval()
    x = torch.rand(args.batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (args.batch,), device=device)
    eps, alpha, steps = 8 / 255, 2 / 255, 10

    ours = PGD(eps, alpha=alpha, steps=steps, norm="linf", seed=0)
    contiguous = PGD(eps, alpha=alpha, steps=steps, norm="linf", seed=0)
    contiguous.memory_format = "contiguous"
    theirs = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps)
    runners = {"stalwart": lambda: ours(model, x, y),
               "stalwart (contiguous)": lambda: contiguous(model, x, y),
               "torchattacks": lambda: theirs(x, y)}
    load_before = _load()
    wall, cpu = _interleaved(runners, args.reps, device)

    print(f"$ python {' '.join(sys.argv)}")
    print(f"PGD-{steps} l_inf, eps=8/255, alpha=2/255, batch={args.batch}, 3x32x32 CNN, "
          f"device={device}, threads={args.threads}, torch {torch.__version__}, "
          f"torchattacks {torchattacks.__version__}, {args.reps} interleaved reps")
    print(f"  machine: {load_before} before, {_load()} after")
    print("  images/s from wall time, min/median/max:")
    for name, ts in wall.items():
        rates = [args.batch / t for t in ts]
        print(f"    {name:22s} {_mmm(rates, '{:.1f}')}")
    for kind, times in (("wall", wall), ("thread CPU", cpu)):
        print(f"  throughput ratio to torchattacks per rep ({kind} time), min/median/max:")
        for name in ("stalwart", "stalwart (contiguous)"):
            ratios = [t / o for o, t in zip(times[name], times["torchattacks"], strict=True)]
            print(f"    {name:22s} {_mmm(ratios)}")


def memory_formats(args: argparse.Namespace) -> None:
    from stalwart.models import build_model
    from stalwart.models.interval import interval_bounds
    from stalwart.robustness._utils import weights_laid_out

    cl, cont = torch.channels_last, torch.contiguous_format
    families: dict[str, tuple[nn.Module, tuple[int, ...]]] = {
        "3x32x32 CNN of the comparison": (small_cnn(), (3, 32, 32)),
        "small_cnn energy_model_1 1x15x15": (
            build_model({"model": "small_cnn"}, (1, 15, 15), 10), (1, 15, 15)),
        "small_cnn position_model_3 1x15x15": (
            build_model({"model": "small_cnn", "pool_sizes": [2, 4], "pool_strides": [2, 4],
                         "fc_sizes": [64, 9], "activation": "prelu"}, (1, 15, 15), 10),
            (1, 15, 15)),
        "small_cnn [32,64] fc128 1x28x28": (
            build_model({"model": "small_cnn", "pool_strides": [2, 2], "fc_sizes": [128]},
                        (1, 28, 28), 10), (1, 28, 28)),
        "resnet18 width 16 3x32x32": (
            build_model({"model": "resnet18", "width": 16}, (3, 32, 32), 10), (3, 32, 32)),
        "mlp [128] 1x28x28": (build_model({"model": "mlp"}, (1, 28, 28), 10), (1, 28, 28)),
    }
    print(f"$ python {' '.join(sys.argv)}")
    print(f"batch={args.batch}, threads={args.threads}, torch {torch.__version__}, "
          f"{args.reps} interleaved reps; {_load()}")
    print("time contiguous / time channels_last (thread CPU), median (min-max); > 1: "
          "channels_last wins")
    for name, (model, shape) in families.items():
        model.eval()
        x = torch.rand(args.batch, *shape)
        y = torch.randint(0, 10, (args.batch,))

        def pgd(fmt: torch.memory_format, model: nn.Module = model, x: torch.Tensor = x,
                y: torch.Tensor = y) -> None:
            attack = PGD(8 / 255, steps=10)
            attack.memory_format = "channels_last" if fmt == cl else "contiguous"
            attack(model, x, y)

        def forward(fmt: torch.memory_format, model: nn.Module = model,
                    x: torch.Tensor = x) -> None:
            with torch.no_grad(), weights_laid_out(model, fmt):
                model(x.contiguous(memory_format=fmt))

        def bounds(fmt: torch.memory_format, model: nn.Module = model,
                   x: torch.Tensor = x) -> None:
            with weights_laid_out(model, fmt):
                interval_bounds(model, (x - 0.01).contiguous(memory_format=fmt),
                                (x + 0.01).contiguous(memory_format=fmt))

        cells = []
        for what, fn in (("PGD-10", pgd), ("forward", forward), ("IBP", bounds)):
            _, cpu = _interleaved({"c": lambda fn=fn: fn(cont), "cl": lambda fn=fn: fn(cl)},
                                  args.reps, torch.device("cpu"))
            ratios = [c / n for c, n in zip(cpu["c"], cpu["cl"], strict=True)]
            cells.append(f"{what} {statistics.median(ratios):.2f} "
                         f"({min(ratios):.2f}-{max(ratios):.2f})")
        print(f"  {name:36s} " + "   ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--reps", type=int, default=7)
    # 1 thread by default: on a small shared machine 2 threads oversubscribe the cores and
    # timings measure contention rather than the code.
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--memory-formats", action="store_true",
                        help="measure contiguous vs channels_last per model family instead")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_formats:
        memory_formats(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
