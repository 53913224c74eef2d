"""Parameter checks shared by every part of stalwart: each returns key-path messages.

A check takes the key (a path such as ``strategy.warmup`` or just ``warmup``) and the value
and returns a list of problems, each ``"<key>: <what is wrong>, got <value>"``; an empty
list means the value is fine. Callers collect the problems and raise their own error type
(:class:`~stalwart.errors.SpecError`, :class:`~stalwart.errors.DataError`, ``ValueError``)
with the first one, so the message style is the same everywhere. :func:`first` raises.

>>> integer("strategy.warmup", 0, low=1)
['strategy.warmup: must be an integer >= 1, got 0']
>>> number("lr", 0.1, low=0.0, low_open=True)
[]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

INF = math.inf


def is_int(v: Any) -> bool:
    """True for ints (bools excluded: ``True`` is not a layer width)."""
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    """True for ints and floats (bools excluded)."""
    return isinstance(v, int | float) and not isinstance(v, bool)


def _bounds(low: float, high: float, low_open: bool, high_open: bool) -> str:
    parts = []
    if low != -INF:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high != INF:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    return " and ".join(parts)


def integer(key: str, v: Any, *, low: float = -INF, high: float = INF,
            optional: bool = False) -> list[str]:
    """An int (not a bool) in ``[low, high]``; ``None`` passes when ``optional``."""
    if optional and v is None:
        return []
    if is_int(v) and low <= v <= high:
        return []
    bound = _bounds(low, high, False, False)
    what = "null or an integer" if optional else "an integer"
    return [f"{key}: must be {what}{' ' + bound if bound else ''}, got {v!r}"]


def number(key: str, v: Any, *, low: float = -INF, high: float = INF, low_open: bool = False,
           high_open: bool = False, optional: bool = False) -> list[str]:
    """A finite int or float in the given (closed unless ``*_open``) interval."""
    if optional and v is None:
        return []
    if is_number(v) and math.isfinite(v):
        above = v > low if low_open else v >= low
        below = v < high if high_open else v <= high
        if above and below:
            return []
    bound = _bounds(low, high, low_open, high_open)
    what = "null or a number" if optional else "a number"
    return [f"{key}: must be {what}{' ' + bound if bound else ''}, got {v!r}"]


def boolean(key: str, v: Any) -> list[str]:
    """``True`` or ``False`` (not 0/1, not a string)."""
    return [] if isinstance(v, bool) else [f"{key}: must be true or false, got {v!r}"]


def choice(key: str, v: Any, options: Iterable[Any], *, what: str = "value") -> list[str]:
    """One of ``options``; the message lists them."""
    options = list(options)
    if v in options:
        return []
    return [f"{key}: unknown {what} {v!r} (choose from {', '.join(map(str, options))})"]


def int_list(key: str, v: Any, *, min_len: int, max_len: int, low: int) -> list[str]:
    """A list of ints of bounded length whose items are all >= ``low``."""
    if not isinstance(v, list | tuple) or not all(is_int(i) for i in v):
        return [f"{key}: must be a list of integers, got {v!r}"]
    if not min_len <= len(v) <= max_len:
        return [f"{key}: must have {min_len} to {max_len} entries, got {len(v)}"]
    if any(i < low for i in v):
        return [f"{key}: entries must be >= {low}, got {list(v)}"]
    return []


def unknown_keys(key: str, given: Iterable[str], known: Sequence[str]) -> list[str]:
    """Names in ``given`` that are not in ``known``; the message lists the valid ones."""
    extra = sorted(set(given) - set(known))
    if not extra:
        return []
    valid = ", ".join(known) or "none"
    return [f"{key}: unknown parameter(s) {', '.join(extra)}; accepted: {valid}"]


def first(problems: Sequence[str], error: type[Exception] = ValueError) -> None:
    """Raise ``error`` with the first problem, if any."""
    if problems:
        raise error(problems[0])
