"""CIFAR-10 from its official python pickle batches.

The batches (``data_batch_1`` ... ``data_batch_5``, ``test_batch``) are looked for in
``root``, then ``root/cifar-10-batches-py``, then the cache
(``$STALWART_DATA/cifar10/cifar-10-batches-py`` or
``~/.cache/stalwart/cifar10/cifar-10-batches-py``). Otherwise the official
``cifar-10-python.tar.gz`` is downloaded into the cache, checked against its SHA-256 and
extracted there (option ``download=False`` turns this off).

The batches are pickles, and unpickling runs code named in the file: only point ``root`` at
files you trust. Downloads are safe because they are checksum-verified.

Split: the five training batches in order, their first ``50000 - n_val`` images the pool and
the last ``n_val`` (default 5,000) the validation set; ``test_batch`` is the test set (fixed,
``seed`` does not change it). Inputs are ``pixel / 255``, float32 ``(N, 3, 32, 32)`` (RGB) in
``[0, 1]``; labels int64 ``(N,)`` in ``0..9``.
"""

from __future__ import annotations

import pickle
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stalwart.data import download
from stalwart.data.base import Dataset, image_classification
from stalwart.data.catalog import CATALOG
from stalwart.data.options import resolve_task
from stalwart.errors import DataError

NAME = "cifar10"
SUBDIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
ARCHIVE = "cifar-10-python.tar.gz"
ARCHIVE_URLS = ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",)
# The official archive (its MD5, c58f30108f718f92721af3b95e74349a, is on the CIFAR page).
ARCHIVE_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


def _complete(directory: Path) -> bool:
    return all((directory / b).is_file() for b in (*TRAIN_BATCHES, TEST_BATCH))


def locate(root: Path | None, *, allow_download: bool) -> Path:
    """The directory holding the six batches, downloading them into the cache if needed.

    Raises
    ------
    DataError
        If no candidate directory is complete and downloading is off or fails.
    """
    cache = download.cache_dir(NAME)
    searched = ([root, root / SUBDIR] if root is not None else []) + [cache / SUBDIR]
    for directory in searched:
        if _complete(directory):
            return directory
    where = ", ".join(str(d) for d in searched)
    hint = f"unpack {ARCHIVE_URLS[0]} and pass root=DIR holding {SUBDIR}, or allow the download"
    if not allow_download:
        raise DataError(f"cifar10: batches not found in {where} (download=False); {hint}")
    archive = cache / ARCHIVE
    # A verified archive left by an earlier, interrupted extraction needs no new download.
    if not (archive.is_file() and download.sha256_of(archive) == ARCHIVE_SHA256):
        download.download_any(ARCHIVE_URLS, archive, ARCHIVE_SHA256)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            # filter="data" refuses absolute paths, links out of the tree and devices.
            tar.extractall(cache, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"cifar10: cannot unpack {archive}: {exc}; delete it and retry") from exc
    if not _complete(cache / SUBDIR):
        raise DataError(f"cifar10: {archive} did not contain the batches; {hint}")
    return cache / SUBDIR


def find_local(name: str, root: str | None) -> None:
    """Check that the six batches are on disk, downloading nothing.

    Raises
    ------
    DataError
        Where it looked and how to get the batches (what :func:`locate` says).
    """
    del name  # one dataset here
    locate(Path(root).expanduser() if root is not None else None, allow_download=False)


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One pickle batch as (uint8 images ``(N, 3, 32, 32)``, int64 labels ``(N,)``).

    Raises
    ------
    DataError
        If the file is not a readable CIFAR-10 batch.
    """
    try:
        with path.open("rb") as fh:
            # The official batches were pickled by Python 2: keys and data are bytes.
            batch = pickle.load(fh, encoding="bytes")
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as exc:
        raise DataError(
            f"cannot read CIFAR-10 batch {path}: {exc}; delete it and fetch it again"
        ) from exc
    if not isinstance(batch, Mapping):
        raise DataError(
            f"{path} is not a CIFAR-10 batch (no dict inside); delete it and fetch it again"
        )
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise DataError(
            f"{path} is not a CIFAR-10 batch (no 'data'/'labels'); delete it and fetch it again"
        )
    data = np.asarray(data)
    labels = np.asarray(labels, dtype=np.int64)
    if (
        data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != 3 * 32 * 32
        or data.shape[0] != labels.shape[0]
    ):
        raise DataError(
            f"{path}: expected uint8 data (N, 3072) and N labels, got {data.dtype} {data.shape}, {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{path}: labels out of range 0..9")
    # Rows are 1024 red, then 1024 green, then 1024 blue values, each image row-major.
    return data.reshape(-1, 3, 32, 32), labels


def _to_tensors(images: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(images.astype(np.float32) / np.float32(255.0)), torch.from_numpy(labels)


def load_cifar10(
    *, task: str | None = None, root: str | Path | None = None, seed: int = 0, **options: Any
) -> Dataset:
    """CIFAR-10; see the module docstring. Options: ``n_val`` (5000), ``download`` (True)."""
    del seed
    task = resolve_task(NAME, task, ("classification",))
    opts = CATALOG[NAME].resolve(options)
    n_val = opts["n_val"]
    directory = locate(
        Path(root).expanduser() if root is not None else None, allow_download=opts["download"]
    )
    batches = [read_batch(directory / b) for b in TRAIN_BATCHES]
    x_all, y_all = _to_tensors(
        np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])
    )
    x_test, y_test = _to_tensors(*read_batch(directory / TEST_BATCH))
    return image_classification(NAME, task, x_all, y_all, x_test, y_test, n_val=n_val,
                                classes=CLASSES, source=str(directory), keep=opts["classes"],
                                pretext=opts["pretext"])
