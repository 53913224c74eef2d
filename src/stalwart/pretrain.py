"""Pretrain backbones on a source task, for fine-tuning configs to start from.

A pretraining spec is a study spec (dataset, model, search space, seed) whose configs are
the backbones: each trains once (instance 0, its seed derived like any instance's) on the
source task and is written as ``<out>/<name>.safetensors`` with ``<name>.safetensors.json``
beside it (its architecture keys, its training config, the source dataset, its kind and
its final metrics). A config's name is its ``_name`` annotation, else its config id.
Fine-tuning configs then set ``init_from: <out>/<name>.safetensors``
(:mod:`stalwart.training.finetune`).

The pretraining kinds of the robust fine-tuning benchmark (arXiv 2508.14079) are all a
spec away: *supervised* (the source labels, e.g. ``dataset: {name: fashion_mnist,
options: {classes: [0, 1, 2, 3, 4]}}``), *self-supervised* (``options: {pretext:
rotation}``: predict each image's rotation) and *adversarial* (``training_loss: at``).

Rerunning skips every backbone whose file and description are there for the same config
and seed; a failed pretraining is reported and the command exits non-zero.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stalwart import __version__
from stalwart.core import Config, InstanceResult
from stalwart.errors import SpecError, UserError
from stalwart.models.config_keys import TRAINING_KEYS
from stalwart.space import expand
from stalwart.spec import StudySpec

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Backbone:
    """One pretrained backbone: where it is, what it is, how it did."""

    name: str
    path: Path
    config: Config
    kind: str
    result: InstanceResult | None
    """None when an earlier run had written it (skipped)."""

    @property
    def ok(self) -> bool:
        return self.result is None or self.result.status == "ok"


def pretraining_kind(spec: StudySpec, config: Config) -> str:
    """``supervised``, ``self-supervised (rotation)`` or ``adversarial (<loss>)``."""
    if spec.dataset.options.get("pretext", "none") == "rotation":
        return "self-supervised (rotation)"
    loss = config.get("training_loss", "task")
    return f"adversarial ({loss})" if loss in ("at", "trades") else "supervised"


def backbone_name(config: Config) -> str:
    """The ``_name`` annotation of a config, else its id."""
    return str(config.get("_name", config.id))


def architecture(config: Config) -> dict[str, Any]:
    """The config's model keys: what a fine-tuning config must repeat."""
    return {k: v for k, v in config.items()
            if k not in TRAINING_KEYS and not str(k).startswith("_")}


def check_names(configs: list[Config]) -> None:
    """Names are file names, one per backbone.

    Raises
    ------
    SpecError
        ``search_space: ... _name ...`` for a name that is not a plain file name, or used
        twice.
    """
    seen: set[str] = set()
    for config in configs:
        name = backbone_name(config)
        if not _SAFE_NAME.match(name):
            raise SpecError(f"search_space: _name {name!r} is not a plain file name "
                            "(letters, digits, '_', '-', '.')")
        if name in seen:
            raise SpecError(f"search_space: _name {name!r} names two backbones")
        seen.add(name)


def _done(sidecar: Path, config: Config, seed: int) -> bool:
    try:
        described = json.loads(sidecar.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return described.get("config_id") == config.id and described.get("study_seed") == seed


def pretrain(spec: StudySpec, out_dir: str | Path, *, threads: int | None = None,
             device: str | None = None,
             on_done: Callable[[Backbone], None] | None = None) -> list[Backbone]:
    """Pretrain every config of ``spec`` once and write its backbone to ``out_dir``.

    Parameters
    ----------
    spec:
        A checked spec (:func:`stalwart.validation.load_runnable_spec`); the built-in
        trainer only.
    out_dir:
        Where ``<name>.safetensors`` and ``<name>.safetensors.json`` go (created).
    threads, device:
        As for a study (``device`` defaults to the spec's).
    on_done:
        Called with each backbone as soon as it is written (or found).

    Returns
    -------
    list[Backbone]
        In spec order; ``ok`` is false for a pretraining that failed or diverged (nothing
        is written for it).
    """
    from stalwart.execution.job import TrainingJob
    from stalwart.training import train_instance
    from stalwart.training.weights import WEIGHTS_SUFFIX

    if spec.trainer is not None:
        raise SpecError("trainer: pretraining uses the built-in trainer; remove trainer")
    configs = expand(spec)
    check_names(configs)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out: {str(out)!r} is a file, not a directory for the backbones")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out: cannot create {str(out)!r}: {exc.strerror or exc}") from None
    job = TrainingJob.from_spec(spec, threads=threads)
    dataset = None
    backbones: list[Backbone] = []
    for config in configs:
        name = backbone_name(config)
        path = out / f"{name}{WEIGHTS_SUFFIX}"
        sidecar = Path(f"{path}.json")
        kind = pretraining_kind(spec, config)
        if path.is_file() and _done(sidecar, config, spec.seed):
            backbone = Backbone(name, path, config, kind, None)
        else:
            dataset = dataset if dataset is not None else job.load_dataset()
            result = train_instance(config, 0, dataset, spec.seed,
                                    train_size=spec.instances.train_size,
                                    variation=spec.instances.variation,
                                    threads=job.threads, deterministic=job.deterministic,
                                    weights_dir=out / ".tmp", device=device or job.device)
            if result.status == "ok" and result.weights_path:
                Path(result.weights_path).replace(path)
                sidecar.write_text(json.dumps({
                    "name": name, "kind": kind, "model": architecture(config),
                    "config": dict(config), "config_id": config.id, "study_seed": spec.seed,
                    "dataset": {"name": spec.dataset.name, "task": spec.dataset.task,
                                "options": dict(spec.dataset.options)},
                    "train_size": spec.instances.train_size, "metrics": result.metrics,
                    "wall_time": result.wall_time, "stalwart": __version__,
                }, indent=2, sort_keys=True, default=str))
            backbone = Backbone(name, path, config, kind, result)
        backbones.append(backbone)
        if on_done is not None:
            on_done(backbone)
    tmp = out / ".tmp"
    if tmp.is_dir() and not any(tmp.iterdir()):
        tmp.rmdir()
    return backbones
