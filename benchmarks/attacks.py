"""PGD-10 l_inf throughput: stalwart vs torchattacks, side by side on the same model and data.

Run: ``python benchmarks/attacks.py [--batch 256] [--reps 7] [--threads 1] [--device cpu]``

Both attacks see the same (randomly initialised) small CNN on 3x32x32 inputs, the same
batch, eps = 8/255, alpha = 2/255, 10 steps. After one warm-up call each, repetitions
alternate between the two implementations (so drifts in machine load hit both alike) and
the median images/second is reported.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--reps", type=int, default=7)
    # 1 thread by default: on a small shared machine 2 threads oversubscribe the cores and
    # timings measure contention rather than the code.
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import torchattacks

    device = torch.device(args.device)
    torch.manual_seed(0)
    model = small_cnn().to(device).eval()
    x = torch.rand(args.batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (args.batch,), device=device)
    eps, alpha, steps = 8 / 255, 2 / 255, 10

    ours = PGD(eps, alpha=alpha, steps=steps, norm="linf", seed=0)
    theirs = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps)
    runners = {"stalwart": lambda: ours(model, x, y), "torchattacks": lambda: theirs(x, y)}
    times: dict[str, list[float]] = {k: [] for k in runners}
    for run in runners.values():  # warm-up
        run()
    for _ in range(args.reps):
        for name, run in runners.items():
            _sync(device)
            t0 = time.perf_counter()
            run()
            _sync(device)
            times[name].append(time.perf_counter() - t0)

    print(f"$ python {' '.join(sys.argv)}")
    print(f"PGD-{steps} l_inf, eps=8/255, alpha=2/255, batch={args.batch}, 3x32x32 CNN, "
          f"device={device}, threads={args.threads}, torch {torch.__version__}, "
          f"torchattacks {torchattacks.__version__}, median of {args.reps} alternating reps")
    rate = {k: args.batch / statistics.median(v) for k, v in times.items()}
    for name, r in rate.items():
        print(f"  {name:13s} {r:10.1f} images/s   (median {statistics.median(times[name]) * 1e3:.1f} ms)")
    print(f"  ratio stalwart / torchattacks throughput: {rate['stalwart'] / rate['torchattacks']:.2f}")


if __name__ == "__main__":
    main()
