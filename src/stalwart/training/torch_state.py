"""Temporarily change torch's process-wide settings for one training call."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_settings(threads: int | None = None, deterministic: bool = False) -> Iterator[None]:
    """Set intra-op threads and deterministic algorithms; restore both on exit.

    Parameters
    ----------
    threads:
        ``torch.set_num_threads`` for the block; None leaves it.
    deterministic:
        ``torch.use_deterministic_algorithms(True)`` (and deterministic cuDNN) for the
        block; False leaves the current setting alone.
    """
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    old_cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    old_cublas = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    try:
        if threads is not None:
            torch.set_num_threads(int(threads))
        if deterministic:
            # cuBLAS refuses deterministic mode without a fixed workspace configuration.
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det, warn_only=old_warn)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old_cudnn
        if old_cublas is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
        else:
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = old_cublas
