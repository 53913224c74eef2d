"""What a model family is, and the check of the keys every family shares.

A family declares its architecture keys with their defaults, a checker that turns bad
values into ``"key: message"`` strings (so a study spec can report every problem at once;
the value checks come from :mod:`stalwart.checks`), and a builder. Keys shared by every
family: ``model``, ``activation``, ``init``, ``dropout``, ``extra_inputs``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stalwart.checks import number
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


def check_common(s: Mapping[str, Any]) -> list[str]:
    """Problems with the keys every family shares."""
    problems: list[str] = []
    if s["activation"] not in ACTIVATIONS:
        problems.append(
            f"activation: unknown activation {s['activation']!r} (known: {', '.join(ACTIVATIONS)})"
        )
    if s["init"] not in INIT_SCHEMES:
        problems.append(f"init: unknown scheme {s['init']!r} (known: {', '.join(INIT_SCHEMES)})")
    problems += number("dropout", s["dropout"], low=0.0, high=1.0, high_open=True)
    extra = s["extra_inputs"]
    if not isinstance(extra, list | tuple) or not all(isinstance(n, str) and n for n in extra):
        problems.append(f"extra_inputs: must be a list of feature names, got {extra!r}")
    elif len(set(extra)) != len(extra):
        problems.append(f"extra_inputs: names must be unique, got {list(extra)}")
    return problems
