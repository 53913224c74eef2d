"""Saving and loading a model's state dict (safetensors when available)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

try:  # optional dependency: the `safetensors` extra
    from safetensors.torch import load_file as _st_load
    from safetensors.torch import save_file as _st_save
except ImportError:  # pragma: no cover - exercised only without the extra
    _st_load = _st_save = None

#: File suffix :func:`save_weights` uses in this environment.
WEIGHTS_SUFFIX = ".safetensors" if _st_save is not None else ".pt"


def save_weights(state: dict[str, torch.Tensor], path: str | Path) -> Path:
    """Write a state dict: safetensors for ``*.safetensors`` paths, else ``torch.save``.

    Tensors are copied to CPU and made contiguous (safetensors needs both).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    if path.suffix == ".safetensors":
        if _st_save is None:
            raise ImportError("saving .safetensors needs the 'safetensors' package")
        _st_save(cpu, str(path))
    else:
        torch.save(cpu, path)
    return path


def load_weights(model: nn.Module, path: str | Path, strict: bool = True) -> nn.Module:
    """Load weights saved by :func:`save_weights` (or any state dict file) into ``model``.

    ``*.safetensors`` files are read with safetensors; anything else with
    ``torch.load(weights_only=True)``, which refuses pickled code.

    Returns
    -------
    nn.Module
        ``model`` itself, for chaining.
    """
    device = next(iter(model.state_dict().values()), torch.empty(0)).device
    model.load_state_dict(read_state(path, device), strict=strict)
    return model


def read_state(path: str | Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """The state dict in a file written by :func:`save_weights` (or any state dict file),
    on ``device``: safetensors for ``*.safetensors``, else ``torch.load(weights_only=True)``,
    which refuses pickled code."""
    path = Path(path)
    if path.suffix == ".safetensors":
        if _st_load is None:
            raise ImportError("loading .safetensors needs the 'safetensors' package")
        return _st_load(str(path), device=str(device))
    return torch.load(path, map_location=device, weights_only=True)
