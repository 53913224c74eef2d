"""Interval bound propagation cost vs one forward pass (requirement: IBP < 3 forwards).

Run: ``python benchmarks/bounds.py [--batch 256] [--size 28] [--reps 21] [--threads 1]
[--memory-format contiguous|channels_last]``

Model: two conv blocks (conv-BN-ReLU-maxpool) and a two-layer FC head on 1 x size x size
inputs. Forward and ``interval_bounds`` alternate after a warm-up; medians are reported.
``--memory-format`` lays out the inputs (and so the boxes) and the convolution weights of both
in that format
(``log_sensitivity`` and ``verified_accuracy`` use channels_last for CNNs on the CPU).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from torch import nn

from stalwart.models.interval import interval_bounds
from stalwart.robustness._utils import weights_laid_out


def small_cnn(size: int) -> nn.Module:
    side = size // 4
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * side * side, 64), nn.ReLU(), nn.Linear(64, 10),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--reps", type=int, default=21)
    # 1 thread by default: on a small shared machine 2 threads oversubscribe the cores and
    # timings measure contention rather than the code.
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--memory-format", choices=["contiguous", "channels_last"],
                        default="contiguous")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = small_cnn(args.size).eval()
    fmt = torch.channels_last if args.memory_format == "channels_last" else torch.contiguous_format
    x = torch.rand(args.batch, 1, args.size, args.size).contiguous(memory_format=fmt)
    eps = 2 / 255

    def forward() -> None:
        with torch.no_grad(), weights_laid_out(model, fmt):
            model(x)

    def bounds() -> None:
        with weights_laid_out(model, fmt):
            interval_bounds(model, (x - eps).contiguous(memory_format=fmt),
                            (x + eps).contiguous(memory_format=fmt))

    runners = {"forward": forward, "interval_bounds": bounds}
    times: dict[str, list[float]] = {k: [] for k in runners}
    for run in runners.values():
        run()
        run()
    for _ in range(args.reps):
        for name, run in runners.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    # Median of per-repetition ratios: each pair ran back to back, so load drifts cancel.
    ratio = statistics.median(b / f for f, b in zip(times["forward"], times["interval_bounds"],
                                                    strict=True))
    print(f"$ python {' '.join(sys.argv)}")
    print(f"2 conv blocks + FC, input 1x{args.size}x{args.size}, batch={args.batch}, "
          f"threads={args.threads}, torch {torch.__version__}, median of {args.reps} reps, "
          f"{args.memory_format}")
    print(f"  forward          {med['forward'] * 1e3:8.2f} ms")
    print(f"  interval_bounds  {med['interval_bounds'] * 1e3:8.2f} ms")
    print(f"  ratio IBP / forward (median of paired ratios): {ratio:.2f}  (requirement < 3: "
          f"{'met' if ratio < 3 else 'NOT met'})")


if __name__ == "__main__":
    main()
