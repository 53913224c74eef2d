"""``stalwart eval CHECKPOINT``: clean, adversarial and corruption accuracy, and sensitivity.

A checkpoint is a state dict the trainer saved (``training: {save_weights: true}`` puts
them in ``<study>/weights/<config_id>_<instance>.safetensors``). Its config comes from
``--config`` (a JSON file or string) or, for a checkpoint inside a study, from the study's
store; the dataset from ``--dataset`` or the study's spec.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from stalwart.errors import UserError

_NAME = re.compile(r"^(?P<config>[0-9a-f]{12})_(?P<instance>\d+)$")


def _csv(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="robustness of one trained model: attacks, corruptions, sensitivity")
    p.add_argument("checkpoint", help="a saved state dict (.safetensors or .pt)")
    p.add_argument("--config", help="the model's config: a JSON file or a JSON string "
                   "(default: looked up in the study the checkpoint belongs to)")
    p.add_argument("--dataset", help="dataset name (default: the study's)")
    p.add_argument("--task", help="dataset task (default: the study's, else the dataset's default)")
    p.add_argument("--root", help="where the dataset's files are")
    p.add_argument("--attacks", default="fgsm,pgd_linf", help="comma-separated attack names")
    p.add_argument("--corruptions", default="", help="comma-separated corruption names")
    p.add_argument("--severity", type=int, default=3, help="corruption severity 1-5")
    p.add_argument("--eps", type=float, help="attack radius in input units (default: per norm)")
    p.add_argument("--steps", type=int, help="iterations of iterative attacks")
    p.add_argument("--sensitivity-eps", type=float, help="l_inf radius of the sensitivity")
    p.add_argument("--n-samples", type=int, help="evaluate the first N test samples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_eval)


def _load_config(args: argparse.Namespace, checkpoint: Path) -> tuple[dict[str, Any], Any]:
    """The config and, when the checkpoint lives in a study, that study's spec."""
    spec = None
    study_dir = checkpoint.parent.parent
    if (study_dir / "study.sqlite").exists():
        from stalwart.store import Store
        from stalwart.study import stored_spec

        with Store(study_dir) as store:
            spec = stored_spec(store)
            configs = {c.id: c for c in store.configs()}
        m = _NAME.match(checkpoint.stem)
        if args.config is None:
            if not m or m["config"] not in configs:
                raise UserError(f"{checkpoint}: not a checkpoint of study {study_dir}; pass --config")
            return configs[m["config"]].to_dict(), spec
    if args.config is None:
        raise UserError(f"{checkpoint}: not inside a study; pass --config CONFIG.json")
    text = args.config
    path = Path(text)
    if path.exists():
        text = path.read_text()
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"--config: not a JSON file or string ({exc.msg})") from None
    if not isinstance(config, dict):
        raise UserError("--config: must be a JSON object")
    return config, spec


def cmd_eval(args: argparse.Namespace) -> int:
    checkpoint = Path(args.checkpoint)
    if not checkpoint.is_file():
        raise UserError(f"{checkpoint}: no such checkpoint")
    if not 1 <= args.severity <= 5:
        raise UserError("--severity: must be between 1 and 5")
    config, spec = _load_config(args, checkpoint)
    from stalwart.data import load_dataset
    from stalwart.robustness.attacks import ATTACKS
    from stalwart.robustness.corruptions import CORRUPTIONS
    from stalwart.robustness.eval_command import evaluate_checkpoint
    from stalwart.training import initial_model, load_weights

    attacks, corruptions = _csv(args.attacks), _csv(args.corruptions)
    for name in attacks:
        if name not in ATTACKS:
            raise UserError(f"--attacks: unknown attack {name!r} (choose from {', '.join(sorted(ATTACKS))})")
    for name in corruptions:
        if name not in CORRUPTIONS:
            raise UserError(f"--corruptions: unknown corruption {name!r} "
                            f"(choose from {', '.join(sorted(CORRUPTIONS))})")
    name = args.dataset or (spec.dataset.name if spec else None)
    if name is None:
        raise UserError("--dataset: needed for a checkpoint outside a study")
    options: dict[str, Any] = {}
    task, root, seed = args.task, args.root, 0
    if spec is not None and name == spec.dataset.name:
        options, seed = dict(spec.dataset.options), spec.dataset.seed
        task, root = task or spec.dataset.task, root or spec.dataset.root
    dataset = load_dataset(name, task=task, root=root, seed=seed, **options)
    try:
        model = initial_model(config, 0, dataset)
        load_weights(model, checkpoint)
    except (ValueError, RuntimeError, KeyError) as exc:
        raise UserError(f"{checkpoint}: does not fit config {json.dumps(config)[:80]}... ({str(exc).splitlines()[0]})") from None
    rows = evaluate_checkpoint(model, dataset, attacks, corruptions, args.severity, eps=args.eps,
                               steps=args.steps, sensitivity_eps=args.sensitivity_eps,
                               n_samples=args.n_samples, seed=args.seed)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title=f"{checkpoint.name} on {dataset.name} (test split)")
    for col in ("kind", "name", "metric", "eps / severity", "value"):
        table.add_column(col)
    for r in rows:
        where = r.get("eps", r.get("severity", ""))
        table.add_row(r["kind"], r["name"], r["metric"],
                      f"{where:.4g}" if isinstance(where, float) else str(where), f"{r['value']:.4f}")
    Console().print(table)
    return 0
