"""Overhead of the Ray executor against the local one: the same study, side by side.

Run: ``python benchmarks/scaling.py [--workers 2] [--configs 16] [--instances 4] [--epochs 4]``

Both executors run the same small calorimeter study (successive halving) from an empty
store with the same number of parallel trainings: ``--workers`` local worker processes, or
a private local Ray instance with ``--workers`` CPUs and one CPU per instance. Reported per
executor: the trainings made, the wall time of the whole study (start-up included), the
start-up alone (the process pool, or Ray's daemons and the dataset's loader task), the
throughput in trainings per minute with and without start-up, and the mean time of one
training as the trainer measured it. Results are checked to be identical.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from stalwart.execution.base import Executor
from stalwart.execution.job import TrainingJob
from stalwart.spec import StudySpec
from stalwart.study import open_study, run_study
from stalwart.validation import parse_spec


def make_spec(configs: int, instances: int, epochs: int, workers: int) -> StudySpec:
    # Geometric from 1e-4 to 3e-2: every config trains (none diverges at once).
    lrs = [round(1e-4 * 300 ** (i / max(1, configs - 1)), 7) for i in range(configs)]
    return parse_spec(yaml.safe_load(f"""
        name: scaling
        seed: 5
        dataset: {{name: calorimeter, task: energy, options: {{n_pool: 3000, n_val: 500, n_test: 500}}}}
        model: small_cnn
        search_space:
          fixed: {{epochs: {epochs}, batch_size: 32, conv_channels: [4], pool_sizes: [2],
                  pool_strides: [2], fc_sizes: [8]}}
          product: {{lr: {lrs}}}
        instances: {{n: {instances}, train_size: 600}}
        metric: {{name: val_rmse_rel, direction: minimize}}
        strategy: {{name: halving, warmup: 2}}
        training: {{threads: 1}}
        workers: {workers}
    """))


class _Timed(Executor):
    """Wraps an executor to time its start-up (the rest is the study's wall time)."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.startup = 0.0

    def start(self, job: TrainingJob) -> None:
        t0 = time.perf_counter()
        self.inner.start(job)
        self.startup = time.perf_counter() - t0

    def submit(self, trial, config) -> None:
        self.inner.submit(trial, config)

    def wait(self, timeout=None):
        return self.inner.wait(timeout)

    @property
    def n_running(self) -> int:
        return self.inner.n_running

    def shutdown(self) -> None:
        self.inner.shutdown()


@dataclass
class Row:
    executor: str
    trainings: int
    wall: float
    startup: float
    mean_training: float
    results: dict


def run(name: str, executor: Executor, spec: StudySpec, directory: Path) -> Row:
    timed = _Timed(executor)
    store = open_study(spec, directory)
    try:
        t0 = time.perf_counter()
        outcome = run_study(spec, store, timed)
        wall = time.perf_counter() - t0
        results = {k: (r.status, r.metrics) for k, r in store.results().items()}
    finally:
        store.close()
    return Row(name, outcome.n_trainings, wall, timed.startup,
               outcome.training_time / max(1, outcome.n_trainings), results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--configs", type=int, default=16)
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    print("$ python " + shlex.join([sys.argv[0], *sys.argv[1:]]))

    from stalwart.execution.local import LocalExecutor
    from stalwart.execution.ray import RayExecutor

    spec = make_spec(args.configs, args.instances, args.epochs, args.workers)
    with tempfile.TemporaryDirectory(prefix="stalwart-scaling-") as tmp:
        rows = [
            run("local", LocalExecutor(args.workers), spec, Path(tmp) / "local"),
            run("ray", RayExecutor(num_cpus=args.workers), spec, Path(tmp) / "ray"),
        ]
    print(f"{args.configs} configs x up to {args.instances} instances, {args.epochs} epoch(s), "
          f"{args.workers} parallel trainings, {os.cpu_count()} cores")
    head = (f"{'executor':<9}{'trainings':>10}{'wall s':>9}{'start-up s':>12}"
            f"{'per min':>9}{'per min*':>10}{'train s':>9}{'overhead s':>12}")
    print(head)
    print("-" * len(head))
    for r in rows:
        busy = max(1e-9, r.wall - r.startup)
        overhead = busy * args.workers / max(1, r.trainings) - r.mean_training
        print(f"{r.executor:<9}{r.trainings:>10}{r.wall:>9.1f}{r.startup:>12.1f}"
              f"{60 * r.trainings / r.wall:>9.1f}{60 * r.trainings / busy:>10.1f}"
              f"{r.mean_training:>9.2f}{overhead:>12.2f}")
    print("* without start-up (the local pool starts its processes lazily, inside the study).\n"
          "train s: mean time of one training as the trainer timed it; overhead s: the rest\n"
          "of a slot's time per training (scheduling, transfers, the driver, idle slots).")
    same = rows[0].results == rows[1].results
    print(f"identical per-instance results: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
