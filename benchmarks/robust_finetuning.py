"""The robust fine-tuning grid: pretrain the backbones, fine-tune them on two targets, table.

Example (about 30-40 minutes on two idle cores)::

    .venv/bin/python benchmarks/robust_finetuning.py --workers 2

1. ``stalwart pretrain`` on ``examples/pretrain_fmnist.yaml`` and
   ``examples/pretrain_fmnist_rotation.yaml`` (Fashion-MNIST classes 0-4): supervised CNN,
   ResNet-18, ViT and hybrid backbones, an adversarially pretrained CNN and a
   self-supervised (rotation) CNN, in ``--backbones`` (reused when already there).
2. ``examples/robust_finetuning.yaml`` (classes 5-9: backbones x {AT, TRADES} x {FFT-long,
   FFT-short, LP}) run as a study once per target: ``fmnist59`` with 4000 training images
   and ``fmnist59_500`` with 500 (the same classes with little data), each in its own
   study directory under ``--studies`` (resumed when rerun).
3. One row per trained instance to ``--out``: the factor columns ``backbone`` (family and
   pretraining, e.g. ``small_cnn-adversarial``), ``model_type`` (the family),
   ``pretraining``, ``training_loss``, ``protocol``, ``target``, ``instance`` and the five
   accuracies ``clean_acc`` (test), ``linf_acc`` (PGD-20, eps 0.1), ``l2_acc`` (PGD-20,
   eps 1.0), ``l1_acc`` (APGD-l1, eps 5), ``corruption_acc`` (mean over the corruptions
   at severity 3), plus ``train_seconds``. This table is the fixture ``stalwart analyze``
   is checked on.
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from stalwart.core import Config
from stalwart.pretrain import pretrain
from stalwart.store import Store
from stalwart.study import run
from stalwart.training.finetune import read_sidecar
from stalwart.validation import load_runnable_spec, parse_spec

ROOT = Path(__file__).resolve().parent.parent
PRETRAIN_SPECS = ("examples/pretrain_fmnist.yaml", "examples/pretrain_fmnist_rotation.yaml")
GRID_SPEC = "examples/robust_finetuning.yaml"
TARGETS = {"fmnist59": 4000, "fmnist59_500": 500}
"""Target name -> training images drawn from the classes 5-9 pool."""
COLUMNS = ("backbone", "model_type", "pretraining", "training_loss", "protocol", "target",
           "instance",
           "clean_acc", "linf_acc", "l2_acc", "l1_acc", "corruption_acc", "train_seconds",
           "config_id")
LOSS_NAMES = {"at": "AT", "trades": "TRADES"}
PRETRAINING_NAMES = {"supervised": "supervised", "adversarial (at)": "adversarial",
                     "self-supervised (rotation)": "self-supervised"}


def protocol(config: Config, long_epochs: int) -> str:
    """``fft_long``, ``fft_short`` or ``lp`` from a config's fine-tuning keys."""
    if config.get("finetune") == "linear_probe":
        return "lp"
    return "fft_long" if int(config["epochs"]) >= long_epochs else "fft_short"


def grid_spec(target: str, train_size: int, backbones: Path, instances: int) -> Any:
    """The grid spec for one target, with the backbones directory and instance count."""
    data = yaml.safe_load((ROOT / GRID_SPEC).read_text())
    data["name"] = f"robust-finetuning-{target}"
    data["instances"] = {**data["instances"], "train_size": train_size, "n": instances}
    text = json.dumps(data).replace("studies/backbones/", f"{backbones.as_posix()}/")
    return parse_spec(json.loads(text), source=f"{GRID_SPEC} ({target})")


def rows_of(study_dir: Path, target: str) -> list[dict[str, Any]]:
    with Store(study_dir) as store:
        configs = {c.id: c for c in store.configs()}
        results = store.results()
    long_epochs = max(int(c["epochs"]) for c in configs.values())
    rows = []
    for (config_id, instance), result in sorted(results.items()):
        if result.status != "ok":
            print(f"  {config_id}/{instance}: {result.status} {result.error}", file=sys.stderr)
            continue
        config = configs[config_id]
        described = read_sidecar(config["init_from"]) or {}
        m = result.metrics
        pretraining = PRETRAINING_NAMES.get(described.get("kind", ""), "unknown")
        rows.append({
            "backbone": f"{config['model']}-{pretraining}",
            "model_type": config["model"],
            "pretraining": pretraining,
            "training_loss": LOSS_NAMES[config["training_loss"]],
            "protocol": protocol(config, long_epochs),
            "target": target,
            "instance": instance,
            "clean_acc": round(m["test_accuracy"], 4),
            "linf_acc": round(m["linf_acc"], 4),
            "l2_acc": round(m["l2_acc"], 4),
            "l1_acc": round(m["l1_acc"], 4),
            "corruption_acc": round(m["corruption_acc"], 4),
            "train_seconds": round(result.wall_time, 1),
            "config_id": config_id,
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backbones", default="studies/backbones")
    p.add_argument("--studies", default="studies")
    p.add_argument("--out", default="benchmarks/data/robust_finetuning.csv")
    p.add_argument("--targets", default=",".join(TARGETS))
    p.add_argument("--instances", type=int, default=1)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    backbones = Path(args.backbones)
    start = time.perf_counter()
    for path in PRETRAIN_SPECS:
        for b in pretrain(load_runnable_spec(ROOT / path), backbones, threads=1):
            print(f"backbone {b.name}: {b.kind}{'' if b.ok else ' FAILED'}", flush=True)
            if not b.ok:
                return 1
    rows: list[dict[str, Any]] = []
    for target in args.targets.split(","):
        spec = grid_spec(target, TARGETS[target], backbones, args.instances)
        study_dir = Path(args.studies) / spec.name
        t0 = time.perf_counter()
        run(spec, study_dir, executor="local", workers=args.workers)
        print(f"target {target}: {time.perf_counter() - t0:.0f} s", flush=True)
        rows += rows_of(study_dir, target)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", "benchmarks/robust_finetuning.py",
                                                *(argv if argv is not None else sys.argv[1:])])
    print(f"{len(rows)} rows -> {out} in {time.perf_counter() - start:.0f} s\n$ {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
