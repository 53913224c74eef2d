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

from rich.table import Table

from stalwart.checks import first, integer, number
from stalwart.cli.output import make_console
from stalwart.errors import UserError

_NAME = re.compile(r"^(?P<config>[0-9a-f]{12})_(?P<instance>\d+)$")

#: Attacks of a classification model when ``--attacks`` is not given.
DEFAULT_ATTACKS = "fgsm,pgd_linf"


class _HelpWithNames(argparse.Action):
    """``-h``: the help, with the attack and corruption names from their registries.

    The registries import torch (seconds), so they are read only when help is asked
    for, not every time the parser is built.
    """

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        from stalwart.robustness.attacks import ATTACKS
        from stalwart.robustness.corruptions import CORRUPTIONS

        parser.epilog = (f"attacks: {', '.join(ATTACKS)}. "
                         f"corruptions: {', '.join(CORRUPTIONS)}.")
        parser.print_help()
        parser.exit()


def _csv(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="robustness of one trained model: attacks, corruptions, sensitivity",
                       add_help=False)
    p.add_argument("-h", "--help", action=_HelpWithNames,
                   help="show this help message, with the attack and corruption names, and exit")
    p.add_argument("checkpoint", help="a saved state dict (.safetensors or .pt)")
    p.add_argument("--config", help="the model's config: a JSON file or a JSON string "
                   "(default: looked up in the study the checkpoint belongs to)")
    p.add_argument("--dataset", help="dataset name (default: the study's)")
    p.add_argument("--task", help="dataset task (default: the study's, else the dataset's default)")
    p.add_argument("--root", help="where the dataset's files are")
    p.add_argument("--attacks", help="comma-separated attack names (listed below; default "
                   f"{DEFAULT_ATTACKS} for a classifier, none for a regression model)")
    p.add_argument("--corruptions", default="",
                   help="comma-separated corruption names (listed below; image inputs only)")
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
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"--config: cannot read {path} ({exc})") from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"--config: not a JSON file or string ({exc.msg})") from None
    if not isinstance(config, dict):
        raise UserError("--config: must be a JSON object")
    return config, spec


def _check_flags(args: argparse.Namespace) -> None:
    """Numbers that would give a wrong answer rather than an error (``--n-samples -5``
    silently drops the last five samples) are refused before anything is loaded."""
    problems = integer("--severity", args.severity, low=1, high=5)
    for flag, value in (("--n-samples", args.n_samples), ("--steps", args.steps)):
        if value is not None:
            problems += integer(flag, value, low=1)
    for flag, value in (("--eps", args.eps), ("--sensitivity-eps", args.sensitivity_eps)):
        if value is not None:
            problems += number(flag, value, low=0, low_open=True)
    first(problems, UserError)


def _first_sentence(exc: Exception) -> str:
    """A library's error as a short clause: its first line, up to the first full stop."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text.split(". ")[0].rstrip(".")
    return text[:120] or type(exc).__name__


def _check_dataset_fits(dataset: Any, attacks: list[str], corruptions: list[str],
                        explicit_attacks: bool) -> None:
    """Refuse what the dataset cannot give, rather than skipping it without a word."""
    if dataset.kind != "classification" and (explicit_attacks and attacks or corruptions):
        flag = "--corruptions" if corruptions else "--attacks"
        raise UserError(f"{flag}: accuracy under attacks and corruptions needs a "
                        f"classification dataset; {dataset.name} is {dataset.kind}")
    shape = tuple(dataset.x_test.shape)
    if corruptions and not (len(shape) == 4 and shape[1] in (1, 3)):
        raise UserError(f"--corruptions: need image inputs (N, C, H, W) with 1 or 3 channels; "
                        f"{dataset.name} gives {shape}")


def _load_model(config: dict[str, Any], checkpoint: Path, dataset: Any) -> Any:
    """The model of ``config`` with the checkpoint's weights; one-line errors."""
    from stalwart.training import initial_model, load_weights

    try:
        model = initial_model(config, 0, dataset)
    except (ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise UserError(f"{checkpoint}: does not fit config {json.dumps(config)[:80]}... "
                        f"on {dataset.name} ({_first_sentence(exc)})") from None
    try:
        load_weights(model, checkpoint)
    except Exception as exc:  # noqa: BLE001 - safetensors and pickle raise their own types
        # load_state_dict says "Error(s) in loading state_dict": keys or shapes differ.
        # Anything else comes from reading the file: a truncated or garbage file fails in
        # safetensors (SafetensorError) or torch.load (UnpicklingError, EOFError, ...).
        if isinstance(exc, RuntimeError) and "state_dict" in str(exc):
            raise UserError(f"{checkpoint}: does not fit config {json.dumps(config)[:80]}... "
                            f"({_first_sentence(exc)})") from None
        raise UserError(f"{checkpoint}: not a readable checkpoint, neither safetensors nor a "
                        f"torch state dict ({_first_sentence(exc)})") from None
    return model


def cmd_eval(args: argparse.Namespace) -> int:
    checkpoint = Path(args.checkpoint)
    if not checkpoint.is_file():
        raise UserError(f"{checkpoint}: no such checkpoint")
    _check_flags(args)
    config, spec = _load_config(args, checkpoint)
    from stalwart.data import load_dataset
    from stalwart.robustness.attacks import ATTACKS
    from stalwart.robustness.corruptions import CORRUPTIONS
    from stalwart.robustness.eval_command import evaluate_checkpoint

    explicit_attacks = args.attacks is not None
    attacks = _csv(args.attacks if explicit_attacks else DEFAULT_ATTACKS)
    corruptions = _csv(args.corruptions)
    for name in attacks:
        if name not in ATTACKS:
            raise UserError(f"--attacks: unknown attack {name!r} (choose from {', '.join(sorted(ATTACKS))})")
    for name in corruptions:
        if name not in CORRUPTIONS:
            raise UserError(f"--corruptions: unknown corruption {name!r} "
                            f"(choose from {', '.join(sorted(CORRUPTIONS))})")
    if spec is not None and spec.dataset is None:
        raise UserError(f"{args.checkpoint}: its study trains with a user trainer "
                        f"({spec.trainer}); stalwart eval knows only its own models")
    name = args.dataset or (spec.dataset.name if spec and spec.dataset else None)
    if name is None:
        raise UserError("--dataset: needed for a checkpoint outside a study")
    options: dict[str, Any] = {}
    task, root, seed = args.task, args.root, 0
    if spec is not None and spec.dataset is not None and name == spec.dataset.name:
        options, seed = dict(spec.dataset.options), spec.dataset.seed
        task, root = task or spec.dataset.task, root or spec.dataset.root
    dataset = load_dataset(name, task=task, root=root, seed=seed, **options)
    _check_dataset_fits(dataset, attacks, corruptions, explicit_attacks)
    if dataset.kind != "classification":
        attacks = []  # the default attacks measure accuracy: a classifier's
    model = _load_model(config, checkpoint, dataset)
    rows = evaluate_checkpoint(model, dataset, attacks, corruptions, args.severity, eps=args.eps,
                               steps=args.steps, sensitivity_eps=args.sensitivity_eps,
                               n_samples=args.n_samples, seed=args.seed)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    n = rows[0]["n_samples"] if rows else 0
    table = Table(title=f"{checkpoint.name} on {dataset.name} (test split, {n} samples)")
    for col in ("kind", "name", "metric", "eps / severity", "steps", "samples", "value"):
        table.add_column(col)
    for r in rows:
        where = r.get("eps", r.get("severity", ""))
        table.add_row(r["kind"], r["name"], r["metric"],
                      f"{where:.4g}" if isinstance(where, float) else str(where),
                      str(r.get("steps", "")), str(r.get("n_samples", "")), f"{r['value']:.4f}")
    console = make_console()
    console.print(table)
    sens = [r for r in rows if r["kind"] == "sensitivity"]
    if sens:
        console.print(f"log_sensitivity: {sens[0]['definition']}; units: {sens[0]['units']}.",
                      markup=False, highlight=False)
    if any(r["kind"] == "verified" for r in rows):
        console.print("verified_accuracy: fraction of samples whose IBP margin bound "
                      "(last layer elided) proves every input within l_inf eps classified "
                      "correctly; a lower bound on any attack's robust accuracy.",
                      markup=False, highlight=False)
    return 0
