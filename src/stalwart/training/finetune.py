"""Fine-tuning a pretrained backbone: load it, freeze it for a linear probe, group the
parameters for the optimizer.

The protocols of the robust fine-tuning benchmark (arXiv 2508.14079): *full fine-tuning*
trains every parameter (with its own learning rate and weight decay for the backbone),
*linear probing* trains the head alone on a frozen backbone kept in eval mode (BatchNorm
statistics and dropout as pretrained). The head is the model's final linear layer
(:meth:`stalwart.models.StalwartModel.head_layer`): everything else is the backbone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from stalwart.models import StalwartModel
from stalwart.training.settings import TrainingSettings
from stalwart.training.weights import read_state

BACKBONE_SIDECAR_SUFFIX = ".json"
"""``<weights>.json`` beside a backbone written by ``stalwart pretrain``: its model keys."""

#: The model's own buffers that depend on the target dataset, never on pretraining.
_TARGET_BUFFERS = ("feature_columns", "feature_mean", "feature_std", "output_shift",
                   "output_scale")


def sidecar_path(weights: str | Path) -> Path:
    """Where the description of a backbone file lives: ``<weights>.json``."""
    return Path(f"{weights}{BACKBONE_SIDECAR_SUFFIX}")


def read_sidecar(weights: str | Path) -> dict[str, Any] | None:
    """The description ``stalwart pretrain`` wrote beside a backbone, or None without one."""
    path = sidecar_path(weights)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"init_from: cannot read {path}: {exc}") from None


def _head_names(model: StalwartModel) -> set[str]:
    head = model.head_layer()
    return {name for name, p in model.named_parameters() if any(p is q for q in head.parameters())}


def load_backbone(model: StalwartModel, path: str | Path) -> list[str]:
    """Load every tensor of ``model`` but its head and target buffers from ``path``.

    Returns
    -------
    list[str]
        The names loaded.

    Raises
    ------
    ValueError
        ``init_from: ...`` when the file is missing or unreadable, lacks one of the
        backbone's tensors, or holds one of another shape (another architecture).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"init_from: no weights file {str(path)!r}")
    try:
        saved = read_state(path, device=next(model.parameters()).device)
    except Exception as exc:  # a corrupt or foreign file: say which
        raise ValueError(f"init_from: cannot read {str(path)!r}: {exc}") from None
    own = model.state_dict()
    skip = _head_names(model) | set(_TARGET_BUFFERS)
    wanted = [k for k in own if k not in skip]
    missing = [k for k in wanted if k not in saved]
    if missing:
        raise ValueError(f"init_from: {str(path)!r} has no tensor {missing[0]!r} "
                         f"({len(missing)} of the backbone's {len(wanted)} missing): another "
                         "architecture?")
    for k in wanted:
        if saved[k].shape != own[k].shape:
            raise ValueError(f"init_from: tensor {k!r} has shape {tuple(saved[k].shape)} in "
                             f"{str(path)!r} but {tuple(own[k].shape)} in this model")
    with torch.no_grad():
        for k in wanted:
            own[k].copy_(saved[k])
    return wanted


def freeze_backbone(model: StalwartModel) -> None:
    """Stop gradients to every parameter but the head's (a linear probe)."""
    head = set(_head_names(model))
    for name, p in model.named_parameters():
        p.requires_grad_(name in head)


def backbone_to_eval(model: StalwartModel) -> None:
    """Put every module holding no head parameter in eval mode, after ``model.train()``:
    a linear probe's backbone keeps its BatchNorm statistics and runs without dropout."""
    head = list(model.head_layer().parameters())
    for module in model.modules():
        if not any(p is h for p in module.parameters() for h in head):
            module.eval()


def _no_decay(name: str, p: nn.Parameter, norm_params: set[int]) -> bool:
    return p.ndim <= 1 or id(p) in norm_params or name.endswith((".cls", ".position"))


def parameter_groups(model: StalwartModel, s: TrainingSettings) -> list[dict[str, Any]]:
    """The optimizer's parameter groups: backbone and head, each split into the parameters
    that take weight decay and those that do not (biases, norms, tokens) when
    ``decay_norm_bias`` is false. Frozen parameters are left out; empty groups too."""
    head = _head_names(model)
    norm_params = {id(p) for m in model.modules()
                   if isinstance(m, nn.LayerNorm | nn.modules.batchnorm._BatchNorm | nn.PReLU)
                   for p in m.parameters()}
    backbone_lr = s.lr if s.backbone_lr is None else s.backbone_lr
    backbone_wd = s.weight_decay if s.backbone_weight_decay is None else s.backbone_weight_decay
    groups: dict[tuple[str, bool], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        part = "head" if name in head else "backbone"
        decays = s.decay_norm_bias or not _no_decay(name, p, norm_params)
        groups.setdefault((part, decays), []).append(p)
    out = []
    for (part, decays), params in groups.items():
        lr, wd = (s.lr, s.weight_decay) if part == "head" else (backbone_lr, backbone_wd)
        out.append({"params": params, "lr": lr, "weight_decay": wd if decays else 0.0,
                    "name": f"{part}{'' if decays else '_no_decay'}"})
    return out
