"""The verified download, with urllib mocked: nothing leaves the machine."""

from __future__ import annotations

import hashlib
import io
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from stalwart.data import download
from stalwart.errors import DataError

PAYLOAD = b"official bytes"
GOOD = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """urlopen answers PAYLOAD for URLs containing 'good' and fails for the rest."""
    requested: list[str] = []

    def fake_urlopen(url: str, timeout: float) -> io.BytesIO:
        requested.append(url)
        if "good" not in url:
            raise urllib.error.URLError("unreachable")
        return io.BytesIO(PAYLOAD)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    return requested


def test_cache_dir_follows_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STALWART_DATA", str(tmp_path))
    assert download.cache_dir("mnist") == tmp_path / "mnist"
    monkeypatch.delenv("STALWART_DATA")
    assert download.cache_dir("mnist") == Path.home() / ".cache" / "stalwart" / "mnist"


def test_verified_download_lands(served, tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "file.gz"
    assert download.download_file("https://good/file.gz", dest, GOOD) == dest
    assert dest.read_bytes() == PAYLOAD
    assert download.sha256_of(dest) == GOOD
    assert not dest.with_name("file.gz.part").exists()


def test_checksum_mismatch_keeps_nothing(served, tmp_path: Path) -> None:
    dest = tmp_path / "file.gz"
    with pytest.raises(DataError) as err:
        download.download_file("https://good/file.gz", dest, "0" * 64)
    message = str(err.value)
    assert "checksum mismatch" in message and GOOD in message and "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_network_failure_is_a_data_error(served, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="download of https://bad/x failed"):
        download.download_file("https://bad/x", tmp_path / "x", GOOD)
    assert list(tmp_path.iterdir()) == []


def test_mirrors_are_tried_in_order(served, tmp_path: Path) -> None:
    download.download_any(["https://bad/x", "https://good/x"], tmp_path / "x", GOOD)
    assert served == ["https://bad/x", "https://good/x"]
    with pytest.raises(DataError, match="https://bad2/x"):
        download.download_any(["https://bad1/x", "https://bad2/x"], tmp_path / "y", GOOD)
