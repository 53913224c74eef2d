"""JSON-safe values: what every ``to_dict()`` of the benchmark analysis is built from.

Strict JSON has no NaN and no infinity, and numpy scalars are not JSON. An undefined
number (a correlation of a constant, a p-value of nothing) becomes ``None``; an infinite
one (the odds ratio of a table with an empty cell) the string ``"inf"`` or ``"-inf"``, as
``stalwart replay --format json`` writes it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def number(value: Any) -> float | str | None:
    """A float, ``None`` for NaN/None, ``"inf"``/``"-inf"`` for infinities."""
    if value is None:
        return None
    x = float(value)
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def finite(value: Any) -> float | None:
    """A float, or ``None`` for anything not finite."""
    if value is None:
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value (a factor level read as ``np.int64`` -> int)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return number(value)
    return value
