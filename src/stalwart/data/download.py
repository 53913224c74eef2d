"""The download cache: where fetched dataset files live and how they are verified.

Files go to ``$STALWART_DATA/<name>/`` when that variable is set, else
``~/.cache/stalwart/<name>/``. A download is written to a ``.part`` file, its SHA-256 is
checked against the known value of the official file, and only then is it renamed into
place, so the cache never holds a truncated or tampered file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from stalwart.errors import DataError

_TIMEOUT_S = 60.0
_BLOCK = 1 << 20


def cache_dir(name: str) -> Path:
    """The cache directory of dataset ``name`` (not created)."""
    base = os.environ.get("STALWART_DATA")
    root = Path(base).expanduser() if base else Path.home() / ".cache" / "stalwart"
    return root / name


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def download_file(url: str, dest: Path, sha256: str) -> Path:
    """Fetch ``url`` to ``dest``, verifying its SHA-256.

    Parameters
    ----------
    url:
        Where the file is.
    dest:
        Final path; its parent is created.
    sha256:
        Expected hex digest of the file's bytes.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    DataError
        If the transfer fails or the checksum differs (the partial file is removed).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response, part.open("wb") as fh:
            shutil.copyfileobj(response, fh, _BLOCK)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        part.unlink(missing_ok=True)
        raise DataError(
            f"download of {url} failed ({exc}); fetch it by hand into {dest.parent}"
        ) from exc
    got = sha256_of(part)
    if got != sha256:
        part.unlink(missing_ok=True)
        raise DataError(
            f"checksum mismatch for {url}: sha256 {got}, expected {sha256}; not saved to {dest}"
        )
    part.replace(dest)
    return dest


def download_any(urls: Sequence[str], dest: Path, sha256: str) -> Path:
    """Try each mirror in ``urls`` in turn; the last failure is raised if none works."""
    error: DataError | None = None
    for url in urls:
        try:
            return download_file(url, dest, sha256)
        except DataError as exc:
            error = exc
    assert error is not None, "download_any needs at least one url"
    raise error
