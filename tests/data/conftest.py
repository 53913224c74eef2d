"""Fixtures for the loader tests: no network, a private cache, tiny fake dataset files."""

from __future__ import annotations

import gzip
import pickle
import struct
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from stalwart.data import clear_cache


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """One thread, an empty private cache, a fresh in-process cache, and no network."""
    torch.set_num_threads(1)
    monkeypatch.setenv("STALWART_DATA", str(tmp_path / "cache"))

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("tests must not download")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    clear_cache()
    yield
    clear_cache()


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write a uint8 array as an IDX file, gzipped when ``path`` ends in ``.gz``."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)
    return path


N_TRAIN_IDX, N_TEST_IDX = 30, 8


def make_idx_dir(directory: Path, *, gz: bool = True, seed: int = 0) -> Path:
    """A tiny MNIST-like directory: 30 training and 8 test 28x28 images with labels."""
    rng = np.random.default_rng(seed)
    ext = ".gz" if gz else ""
    for prefix, n in (("train", N_TRAIN_IDX), ("t10k", N_TEST_IDX)):
        write_idx(directory / f"{prefix}-images-idx3-ubyte{ext}", rng.integers(0, 256, (n, 28, 28)))
        write_idx(directory / f"{prefix}-labels-idx1-ubyte{ext}", np.arange(n) % 10)
    return directory


@pytest.fixture
def idx_dir(tmp_path: Path) -> Path:
    return make_idx_dir(tmp_path / "idx")


N_PER_CIFAR_BATCH = 6


def make_cifar_dir(directory: Path) -> Path:
    """A tiny CIFAR-10 batch directory in the official pickle layout (bytes keys)."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for b, name in enumerate(names):
        batch = {
            b"data": rng.integers(0, 256, (N_PER_CIFAR_BATCH, 3072), dtype=np.uint8),
            b"labels": [(b + i) % 10 for i in range(N_PER_CIFAR_BATCH)],
            b"batch_label": name.encode(),
        }
        with (directory / name).open("wb") as fh:
            pickle.dump(batch, fh)
    return directory


@pytest.fixture
def idx_writer():
    """The :func:`write_idx` helper, for tests that build odd IDX files."""
    return write_idx


@pytest.fixture
def cifar_dir(tmp_path: Path) -> Path:
    return make_cifar_dir(tmp_path / "cifar")
