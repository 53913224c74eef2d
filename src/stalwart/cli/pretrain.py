"""``stalwart pretrain SPEC --out DIR``: train each backbone of a spec once on its source task.

:func:`stalwart.pretrain.pretrain` with a line per backbone; exits 1 when any pretraining
failed (what was written stays; a rerun trains only what is missing).
"""

from __future__ import annotations

import argparse

from stalwart.cli.output import make_console
from stalwart.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pretrain",
        help="pretrain backbones on a source task (each config of the spec once)",
        description="Train each config of SPEC once (instance 0) on the spec's dataset and "
        "write <out>/<name>.safetensors (+ .json) for fine-tuning configs to start from "
        "(init_from). A config's name is its _name key, else its id.",
    )
    p.add_argument("spec", help="a study spec whose configs are the backbones")
    p.add_argument("--out", "-o", required=True, help="directory for the backbone files")
    p.add_argument("--threads", type=int, help="torch threads (default: the spec's)")
    p.add_argument("--device", help="torch device (default: the spec's)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from stalwart.pretrain import Backbone, pretrain
    from stalwart.validation import load_runnable_spec

    if args.threads is not None and args.threads < 1:
        raise UserError(f"--threads: must be >= 1, got {args.threads}")
    spec = load_runnable_spec(args.spec)
    console = make_console(highlight=False, soft_wrap=True)

    def report(b: Backbone) -> None:
        if b.result is None:
            console.print(f"{b.name}: already pretrained ({b.kind}) -> {b.path}")
        elif b.ok:
            metric = f"val_{spec.metric.name.removeprefix('val_')}"
            value = b.result.metrics.get(metric)
            shown = f", {metric} {value:.4g}" if value is not None else ""
            console.print(f"{b.name}: {b.kind}, {b.result.epochs} epochs, "
                          f"{b.result.wall_time:.1f} s{shown} -> {b.path}")
        else:
            console.print(f"{b.name}: {b.result.status}: {b.result.error}")

    backbones = pretrain(spec, args.out, threads=args.threads, device=args.device,
                         on_done=report)
    failed = [b.name for b in backbones if not b.ok]
    if failed:
        console.print(f"stalwart: {len(failed)} of {len(backbones)} pretrainings failed: "
                      f"{', '.join(failed)}")
        return 1
    return 0
