"""MNIST-style IDX loading: search order, parsing, corrupt files and the (mocked) download."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from stalwart.data import download, load_dataset
from stalwart.data.idx import read_idx
from stalwart.data.mnist import FASHION_MNIST, FILES, MNIST
from stalwart.errors import DataError

from .conftest import N_TEST_IDX, N_TRAIN_IDX, make_idx_dir

SYSTEM_FASHION = Path("/usr/share/datasets/fashion-mnist")


def _check_layout(ds, n_pool: int, n_val: int, n_test: int) -> None:
    assert (ds.kind, ds.task, ds.metric, ds.n_classes) == (
        "classification",
        "classification",
        "accuracy",
        10,
    )
    for split, n in (("train", n_pool), ("val", n_val), ("test", n_test)):
        x, y = getattr(ds, f"x_{split}"), getattr(ds, f"y_{split}")
        assert x.shape == (n, 1, 28, 28) and x.dtype == torch.float32
        assert y.shape == (n,) and y.dtype == torch.int64
        assert 0.0 <= x.min() and x.max() <= 1.0
    assert ds.input_range == (0.0, 1.0)


@pytest.mark.parametrize("gz", [True, False])
def test_loads_from_root(tmp_path: Path, gz: bool) -> None:
    root = make_idx_dir(tmp_path / "files", gz=gz)
    ds = load_dataset("mnist", root=root, n_val=10)
    _check_layout(ds, N_TRAIN_IDX - 10, 10, N_TEST_IDX)
    raw = read_idx(next(root.glob("train-images*")))
    assert torch.equal(ds.x_train[3, 0], torch.from_numpy(raw[3].astype(np.float32) / 255))
    # The validation set is the tail of the official training set.
    assert torch.equal(ds.x_val[-1, 0], torch.from_numpy(raw[-1].astype(np.float32) / 255))
    assert ds.y_test.tolist() == [i % 10 for i in range(N_TEST_IDX)]


def test_seed_does_not_change_the_official_split(idx_dir: Path) -> None:
    a = load_dataset("fashion_mnist", root=idx_dir, n_val=5, seed=0)
    b = load_dataset("fashion_mnist", root=idx_dir, n_val=5, seed=9)
    assert torch.equal(a.x_val, b.x_val)


def test_missing_files_name_every_place_searched(tmp_path: Path) -> None:
    empty = tmp_path / "nothing-here"
    with pytest.raises(DataError) as err:
        load_dataset("mnist", root=empty, download=False)
    message = str(err.value)
    assert "\n" not in message
    assert str(empty) in message and str(download.cache_dir("mnist")) in message
    assert "root" in message  # says how to get the data


def test_cache_dir_is_searched(tmp_path: Path) -> None:
    make_idx_dir(download.cache_dir("mnist"))
    ds = load_dataset("mnist", download=False, n_val=5)
    assert ds.extras["source"] == str(download.cache_dir("mnist"))


def test_download_fills_the_cache_with_verified_official_files(monkeypatch, tmp_path: Path) -> None:
    fake = make_idx_dir(tmp_path / "server")
    calls: list[tuple[list[str], Path, str]] = []

    def fake_download(urls, dest: Path, sha256: str) -> Path:
        calls.append((list(urls), dest, sha256))
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes((fake / dest.name).read_bytes())
        return dest

    monkeypatch.setattr(download, "download_any", fake_download)
    ds = load_dataset("mnist", n_val=5)
    _check_layout(ds, N_TRAIN_IDX - 5, 5, N_TEST_IDX)
    assert [dest.name for _, dest, _ in calls] == [f"{stem}.gz" for stem in FILES.values()]
    for urls, dest, sha in calls:
        assert dest.parent == download.cache_dir("mnist")
        assert urls[0].startswith("https://") and urls[0].endswith(dest.name)
        assert sha == MNIST.sha256[dest.name] and len(sha) == 64


def test_checksum_tables_are_complete() -> None:
    for source in (MNIST, FASHION_MNIST):
        assert set(source.sha256) == {f"{stem}.gz" for stem in FILES.values()}
        assert all(len(h) == 64 and int(h, 16) >= 0 for h in source.sha256.values())


def _corrupt(directory: Path, how: str) -> None:
    path = directory / "train-images-idx3-ubyte.gz"
    payload = gzip.decompress(path.read_bytes())
    if how == "magic":
        payload = b"\x12\x34" + payload[2:]
    elif how == "truncated":
        payload = payload[:-100]
    elif how == "ndim":
        path.unlink()
        payload = gzip.decompress((directory / "train-labels-idx1-ubyte.gz").read_bytes())
    if how == "not-gzip":
        path.write_bytes(b"this is not gzip at all")
    else:
        path.write_bytes(gzip.compress(payload))


@pytest.mark.parametrize("how", ["magic", "truncated", "ndim", "not-gzip"])
def test_corrupt_files_raise_one_line_data_error(idx_dir: Path, how: str) -> None:
    _corrupt(idx_dir, how)
    with pytest.raises(DataError) as err:
        load_dataset("mnist", root=idx_dir, n_val=5, download=False)
    assert "\n" not in str(err.value) and "train-images-idx3-ubyte.gz" in str(err.value)


def test_label_count_must_match(idx_dir: Path, idx_writer) -> None:
    idx_writer(idx_dir / "t10k-labels-idx1-ubyte.gz", np.zeros(3))
    with pytest.raises(DataError, match="3 labels for 8 images"):
        load_dataset("mnist", root=idx_dir, n_val=5)


def test_n_val_must_leave_a_pool(idx_dir: Path) -> None:
    with pytest.raises(DataError, match="leaves no pool"):
        load_dataset("mnist", root=idx_dir, n_val=N_TRAIN_IDX)


@pytest.mark.skipif(not SYSTEM_FASHION.is_dir(), reason="needs Debian's dataset-fashion-mnist")
def test_real_fashion_mnist_from_debian_package() -> None:
    ds = load_dataset("fashion_mnist", download=False)
    _check_layout(ds, 50000, 10000, 10000)
    assert ds.extras["source"] == str(SYSTEM_FASHION)
    assert ds.y_train[:5].tolist() == [9, 0, 0, 3, 0]  # the official first labels
    assert torch.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.x_train.max() == 1.0 and ds.x_train.min() == 0.0
