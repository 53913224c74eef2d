"""What a model family is, and the small value checkers the families share.

A family declares its architecture keys with their defaults, a checker that turns bad
values into ``"key: message"`` strings (so a study spec can report every problem at once),
and a builder. Keys shared by every family: ``model``, ``activation``, ``init``,
``dropout``, ``extra_inputs``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stalwart.models.base import StalwartModel
from stalwart.models.layers import ACTIVATIONS, INIT_SCHEMES

Builder = Callable[[Mapping[str, Any], tuple[int, ...], int, int], StalwartModel]
Checker = Callable[[Mapping[str, Any]], list[str]]


@dataclass(frozen=True)
class ModelFamily:
    """One model family of the registry.

    Attributes
    ----------
    name:
        The value of ``config["model"]``.
    defaults:
        Every architecture key the family reads, with its default.
    check:
        ``check(settings) -> ["key: message", ...]`` for a mapping holding every key of
        ``defaults`` (the config's values over the defaults).
    build:
        ``build(settings, input_shape, n_outputs, n_features) -> StalwartModel``.
    description:
        One line for listings.
    """

    name: str
    defaults: Mapping[str, Any]
    check: Checker
    build: Builder
    description: str = ""

    def settings(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The family's keys: the config's values over the defaults (other keys dropped)."""
        return {k: config.get(k, d) for k, d in self.defaults.items()}


COMMON_DEFAULTS: dict[str, Any] = {
    "activation": "relu",
    "init": "kaiming",
    "dropout": 0.0,
    "extra_inputs": [],
}


def is_int(v: Any) -> bool:
    """True for ints (bools excluded: ``True`` is not a layer width)."""
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    """True for ints and floats (bools excluded)."""
    return isinstance(v, int | float) and not isinstance(v, bool)


def check_int_list(key: str, v: Any, *, min_len: int, max_len: int, low: int) -> list[str]:
    """Problems with a list of ints of bounded length whose items are all >= ``low``."""
    if not isinstance(v, list | tuple) or not all(is_int(i) for i in v):
        return [f"{key}: must be a list of integers, got {v!r}"]
    if not min_len <= len(v) <= max_len:
        return [f"{key}: must have {min_len} to {max_len} entries, got {len(v)}"]
    if any(i < low for i in v):
        return [f"{key}: entries must be >= {low}, got {list(v)}"]
    return []


def check_common(s: Mapping[str, Any]) -> list[str]:
    """Problems with the keys every family shares."""
    problems: list[str] = []
    if s["activation"] not in ACTIVATIONS:
        problems.append(
            f"activation: unknown activation {s['activation']!r} (known: {', '.join(ACTIVATIONS)})"
        )
    if s["init"] not in INIT_SCHEMES:
        problems.append(f"init: unknown scheme {s['init']!r} (known: {', '.join(INIT_SCHEMES)})")
    if not is_number(s["dropout"]) or not 0.0 <= s["dropout"] < 1.0:
        problems.append(f"dropout: must be a number in [0, 1), got {s['dropout']!r}")
    extra = s["extra_inputs"]
    if not isinstance(extra, list | tuple) or not all(isinstance(n, str) and n for n in extra):
        problems.append(f"extra_inputs: must be a list of feature names, got {extra!r}")
    elif len(set(extra)) != len(extra):
        problems.append(f"extra_inputs: names must be unique, got {list(extra)}")
    return problems
