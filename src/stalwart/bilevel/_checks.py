"""Input checks for the bilevel package: arrays and labels, raising :class:`UserError`.

Scalar parameters go through :mod:`stalwart.checks` (key-path messages); this adds the
array checks the linear problems need. Every message starts with the parameter's name.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stalwart.checks import choice, first, number
from stalwart.errors import UserError


def check(problems: list[str]) -> None:
    """Raise :class:`UserError` with the first problem, if any."""
    first(problems, UserError)


def positive(key: str, v: Any) -> float:
    """A finite number > 0."""
    check(number(key, v, low=0.0, low_open=True))
    return float(v)


def non_negative(key: str, v: Any) -> float:
    """A finite number >= 0."""
    check(number(key, v, low=0.0))
    return float(v)


def one_of(key: str, v: Any, options: tuple[str, ...], what: str) -> str:
    check(choice(key, v, options, what=what))
    return str(v)


def matrix(key: str, x: Any, rows: int | None = None, cols: int | None = None) -> np.ndarray:
    """A non-empty finite 2-D float array (optionally with a given number of rows/columns)."""
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{key}: must be a numeric 2-D array ({exc})") from None
    if a.ndim != 2:
        raise UserError(f"{key}: must be a 2-D array (samples x features), got shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise UserError(f"{key}: must not be empty, got shape {a.shape}")
    if rows is not None and a.shape[0] != rows:
        raise UserError(f"{key}: must have {rows} rows (one per label), got {a.shape[0]}")
    if cols is not None and a.shape[1] != cols:
        raise UserError(f"{key}: must have {cols} columns (features), got {a.shape[1]}")
    if not np.isfinite(a).all():
        raise UserError(f"{key}: must contain only finite values")
    return a


def binary_labels(key: str, y: Any, *, both: bool = False) -> np.ndarray:
    """Labels as ``-1.0 / +1.0``; accepts 0/1, -1/+1 or booleans.

    ``both`` requires both classes to be present (a training set with one class has no
    finite minimiser once the bias is free).
    """
    try:
        a = np.asarray(y)
    except (TypeError, ValueError) as exc:  # pragma: no cover - numpy accepts nearly anything
        raise UserError(f"{key}: must be a 1-D array of binary labels ({exc})") from None
    if a.ndim != 1:
        raise UserError(f"{key}: must be a 1-D array of labels, got shape {a.shape}")
    if a.shape[0] == 0:
        raise UserError(f"{key}: must not be empty")
    if a.dtype == bool:
        a = a.astype(np.int64)
    if not np.issubdtype(a.dtype, np.number):
        raise UserError(f"{key}: labels must be numeric 0/1 or -1/+1, got dtype {a.dtype}")
    values = set(np.unique(a).tolist())
    if values <= {0, 1}:
        out = np.where(a == 1, 1.0, -1.0)
    elif values <= {-1, 1}:
        out = a.astype(np.float64)
    else:
        shown = sorted(values)[:6]
        raise UserError(
            f"{key}: labels must be binary (0/1 or -1/+1), got values {shown}"
        )
    if both and len(np.unique(out)) < 2:
        raise UserError(f"{key}: must contain both classes, got only {int(out[0])}")
    return out
