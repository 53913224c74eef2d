"""CIFAR-10 from pickle batches: layout, search order, corrupt files, mocked download."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from stalwart.data import download, load_dataset
from stalwart.data.cifar import ARCHIVE_SHA256, SUBDIR, read_batch
from stalwart.errors import DataError

from .conftest import N_PER_CIFAR_BATCH, make_cifar_dir

N_TRAIN = 5 * N_PER_CIFAR_BATCH


def _check_layout(ds, n_val: int) -> None:
    assert (ds.kind, ds.metric, ds.n_classes, ds.input_range) == (
        "classification",
        "accuracy",
        10,
        (0.0, 1.0),
    )
    for split, n in (("train", N_TRAIN - n_val), ("val", n_val), ("test", N_PER_CIFAR_BATCH)):
        x, y = getattr(ds, f"x_{split}"), getattr(ds, f"y_{split}")
        assert x.shape == (n, 3, 32, 32) and x.dtype == torch.float32
        assert y.shape == (n,) and y.dtype == torch.int64
        assert 0.0 <= x.min() and x.max() <= 1.0


def test_loads_batches_in_root(cifar_dir: Path) -> None:
    ds = load_dataset("cifar10", root=cifar_dir, n_val=4)
    _check_layout(ds, 4)
    images, labels = read_batch(cifar_dir / "data_batch_1")
    # Channel-first RGB planes, exactly as stored.
    assert torch.equal(ds.x_train[1], torch.from_numpy(images[1].astype(np.float32) / 255))
    assert ds.y_train[:N_PER_CIFAR_BATCH].tolist() == labels.tolist()
    test_images, _ = read_batch(cifar_dir / "test_batch")
    assert torch.equal(ds.x_test[0], torch.from_numpy(test_images[0].astype(np.float32) / 255))


def test_loads_batches_in_root_subdirectory(tmp_path: Path) -> None:
    make_cifar_dir(tmp_path / SUBDIR)
    _check_layout(load_dataset("cifar10", root=tmp_path, n_val=6), 6)


def test_missing_batches(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_dataset("cifar10", root=tmp_path, download=False)
    message = str(err.value)
    assert str(tmp_path) in message and str(download.cache_dir("cifar10")) in message
    assert "\n" not in message


@pytest.mark.parametrize("garbage", [b"not a pickle", None])
def test_corrupt_batch(cifar_dir: Path, garbage: bytes | None) -> None:
    path = cifar_dir / "data_batch_3"
    if garbage is None:  # a valid pickle of the wrong thing
        import pickle

        garbage = pickle.dumps([1, 2, 3])
    path.write_bytes(garbage)
    with pytest.raises(DataError) as err:
        load_dataset("cifar10", root=cifar_dir, n_val=4)
    assert "data_batch_3" in str(err.value) and "\n" not in str(err.value)


def test_download_is_verified_then_unpacked(monkeypatch, tmp_path: Path) -> None:
    archive = tmp_path / "served.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(make_cifar_dir(tmp_path / "build" / SUBDIR), arcname=SUBDIR)
    seen: list[str] = []

    def fake_download(urls, dest: Path, sha256: str) -> Path:
        seen.append(sha256)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(archive.read_bytes())
        return dest

    monkeypatch.setattr(download, "download_any", fake_download)
    ds = load_dataset("cifar10", n_val=4)
    _check_layout(ds, 4)
    assert seen == [ARCHIVE_SHA256]
    assert ds.extras["source"] == str(download.cache_dir("cifar10") / SUBDIR)
