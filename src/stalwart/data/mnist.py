"""MNIST and Fashion-MNIST from their official IDX files.

Where the four files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each gzipped ``.gz`` or raw) are
looked for, in order:

1. ``root``, when given;
2. ``/usr/share/datasets/<debian name>/`` (Debian's ``dataset-fashion-mnist`` package installs
   ``/usr/share/datasets/fashion-mnist/*.gz``; its ``.gz`` files are recompressed, so only the
   decompressed IDX content is the official one and no checksum is applied to local files);
3. the cache, ``$STALWART_DATA/<name>/`` or ``~/.cache/stalwart/<name>/``;
4. a download of the official ``.gz`` files into the cache, each verified against the
   SHA-256 of the official file (option ``download=False`` turns this off).

Split: the official training set's first ``60000 - n_val`` images are the pool, its last
``n_val`` (default 10,000) the validation set; the official test set is the test set. The
split is fixed: ``seed`` does not change it. Inputs are ``pixel / 255``, float32
``(N, 1, 28, 28)`` in ``[0, 1]``; labels int64 ``(N,)`` in ``0..9``.

Option ``classes`` keeps a subset of the classes, relabelled in the order listed (e.g.
``[5, 6, 7, 8, 9]`` -> ``0..4``: a transfer target for a backbone pretrained on
``[0, 1, 2, 3, 4]``); the last ``n_val`` images of the subset are its validation split.
Option ``pretext: rotation`` loads the self-supervised rotation task instead (four rotated
copies of every image, labelled by the rotation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stalwart.data import download
from stalwart.data.base import Dataset, image_classification
from stalwart.data.catalog import CATALOG
from stalwart.data.idx import read_idx
from stalwart.data.options import resolve_task
from stalwart.errors import DataError

# role -> file stem (without .gz); the order is the order of the error messages.
FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class IdxSource:
    """Where one IDX dataset can be found and how to verify a download of it."""

    name: str
    system_dir: Path
    mirrors: tuple[str, ...]
    """Base URLs, each ending in ``/``, tried in order."""
    sha256: Mapping[str, str]
    """SHA-256 of each official ``.gz`` file, by file name."""
    hint: str
    """How a user gets the files without our download."""
    classes: tuple[str, ...]


MNIST = IdxSource(
    name="mnist",
    system_dir=Path("/usr/share/datasets/mnist"),
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",),
    # The official files, as published by Yann LeCun and mirrored by PyTorch and TFDS.
    sha256={
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    hint="pass root=DIR holding the four MNIST IDX files (train-images-idx3-ubyte.gz, ...), or allow the download",
    classes=tuple(str(d) for d in range(10)),
)

FASHION_MNIST = IdxSource(
    name="fashion_mnist",
    system_dir=Path("/usr/share/datasets/fashion-mnist"),
    mirrors=(
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    # Zalando's official files (MD5s published in their README; these SHA-256s are the
    # ones TFDS pins for the same files).
    sha256={
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
    hint="run 'apt-get install dataset-fashion-mnist', or pass root=DIR holding the four IDX files",
    classes=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
)


def _files_in(directory: Path) -> dict[str, Path] | None:
    """The four files in ``directory`` (``.gz`` preferred over raw), or None if any is missing."""
    found: dict[str, Path] = {}
    for role, stem in FILES.items():
        for candidate in (directory / f"{stem}.gz", directory / stem):
            if candidate.is_file():
                found[role] = candidate
                break
        else:
            return None
    return found


def locate(source: IdxSource, root: Path | None, *, allow_download: bool) -> dict[str, Path]:
    """Find (or download) the four IDX files of ``source``; see the module docstring.

    Raises
    ------
    DataError
        If no directory holds all four and downloading is off or fails.
    """
    cache = download.cache_dir(source.name)
    searched = ([root] if root is not None else []) + [source.system_dir, cache]
    for directory in searched:
        found = _files_in(directory)
        if found is not None:
            return found
    where = ", ".join(str(d) for d in searched)
    if not allow_download:
        raise DataError(
            f"{source.name}: IDX files not found in {where} (download=False); {source.hint}"
        )
    for stem in FILES.values():
        name = f"{stem}.gz"
        if not (cache / name).is_file():
            urls = [base + name for base in source.mirrors]
            download.download_any(urls, cache / name, source.sha256[name])
    found = _files_in(cache)
    if found is None:  # only if the downloader misbehaves
        raise DataError(
            f"{source.name}: IDX files not found in {where} after download; {source.hint}"
        )
    return found


SOURCES: dict[str, IdxSource] = {"mnist": MNIST, "fashion_mnist": FASHION_MNIST}


def find_local(name: str, root: str | None) -> None:
    """Check that dataset ``name``'s four files are on disk, downloading nothing.

    Raises
    ------
    DataError
        Where it looked and how to get the files (what :func:`locate` says).
    """
    locate(SOURCES[name], Path(root).expanduser() if root is not None else None, allow_download=False)


def _images(path: Path) -> torch.Tensor:
    images = read_idx(path, ndim=3)
    if images.dtype != np.uint8 or images.shape[1:] != (28, 28):
        raise DataError(
            f"{path}: expected uint8 28x28 images, got {images.dtype} {images.shape[1:]}"
        )
    return torch.from_numpy(images.astype(np.float32) / np.float32(255.0)).unsqueeze(1)


def _labels(path: Path, n: int) -> torch.Tensor:
    labels = read_idx(path, ndim=1)
    if labels.shape != (n,):
        raise DataError(f"{path}: {labels.shape[0]} labels for {n} images")
    if labels.size and int(labels.max()) > 9:
        raise DataError(f"{path}: label {int(labels.max())} out of range 0..9")
    return torch.from_numpy(labels.astype(np.int64))


def load_idx_dataset(
    source: IdxSource, *, task: str | None, root: str | Path | None, options: Mapping[str, Any]
) -> Dataset:
    """Load ``source`` as a :class:`Dataset`. Options: ``n_val`` (10000), ``download`` (True),
    ``classes`` (null: all ten) and ``pretext`` (``none`` or ``rotation``)."""
    task = resolve_task(source.name, task, ("classification",))
    opts = CATALOG[source.name].resolve(options)
    n_val = opts["n_val"]
    paths = locate(
        source,
        Path(root).expanduser() if root is not None else None,
        allow_download=opts["download"],
    )
    x_all = _images(paths["train_images"])
    y_all = _labels(paths["train_labels"], x_all.shape[0])
    x_test = _images(paths["test_images"])
    y_test = _labels(paths["test_labels"], x_test.shape[0])
    return image_classification(source.name, task, x_all, y_all, x_test, y_test, n_val=n_val,
                                classes=source.classes, source=str(paths["train_images"].parent),
                                keep=opts["classes"], pretext=opts["pretext"])


def load_mnist(
    *, task: str | None = None, root: str | Path | None = None, seed: int = 0, **options: Any
) -> Dataset:
    """MNIST handwritten digits; see the module docstring (``seed`` is unused)."""
    del seed
    return load_idx_dataset(MNIST, task=task, root=root, options=options)


def load_fashion_mnist(
    *, task: str | None = None, root: str | Path | None = None, seed: int = 0, **options: Any
) -> Dataset:
    """Zalando's Fashion-MNIST; see the module docstring (``seed`` is unused)."""
    del seed
    return load_idx_dataset(FASHION_MNIST, task=task, root=root, options=options)
