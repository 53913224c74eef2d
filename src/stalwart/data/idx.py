"""Reading IDX files, the format of MNIST and Fashion-MNIST, gzipped or raw.

An IDX file is a big-endian header ``0x00 0x00 <type> <ndim>`` followed by ``ndim`` uint32
dimension sizes and the array's bytes in C order. MNIST uses type ``0x08`` (unsigned byte),
so images have magic 2051 (3 dimensions) and labels 2049 (1 dimension).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from stalwart.errors import DataError

_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"cannot read IDX file {path}: {exc}; delete it and fetch it again"
        ) from exc


def read_idx(path: Path, *, ndim: int | None = None) -> np.ndarray:
    """Parse one IDX file.

    Parameters
    ----------
    path:
        The file; a ``.gz`` suffix means gzip-compressed.
    ndim:
        If given, the number of dimensions the file must have (3 for images, 1 for labels).

    Returns
    -------
    numpy.ndarray
        The array in native byte order, e.g. uint8 ``(N, 28, 28)`` for MNIST images.

    Raises
    ------
    DataError
        If the magic number, the dimensions or the size do not match (a corrupt file).
    """
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DataError(
            f"{path} is not an IDX file (bad magic number {raw[:4].hex()}); delete it and fetch it again"
        )
    dtype, dims = _DTYPES[raw[2]], raw[3]
    if ndim is not None and dims != ndim:
        raise DataError(f"{path} has {dims} dimensions, expected {ndim}; is it the right file?")
    header = 4 + 4 * dims
    if len(raw) < header:
        raise DataError(f"{path} is truncated (header); delete it and fetch it again")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=dims, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path} holds {len(raw) - header} data bytes, header says {expected} for shape {shape}; delete it and fetch it again"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)
