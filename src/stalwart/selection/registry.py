"""The strategies by name, and :func:`make_strategy` to build one from a spec."""

from __future__ import annotations

from typing import Any

from stalwart.checks import first, unknown_keys
from stalwart.selection.adaptive import Adaptive
from stalwart.selection.base import Strategy, StrategySetup
from stalwart.selection.exhaustive import Exhaustive
from stalwart.selection.halving import Halving
from stalwart.selection.racing import Racing
from stalwart.selection.scored import ScoredStrategy

STRATEGIES: dict[str, type[ScoredStrategy]] = {
    cls.name: cls for cls in (Exhaustive, Halving, Racing, Adaptive)
}


def make_strategy(name: str, setup: StrategySetup, **params: Any) -> Strategy:
    """Build the strategy ``name`` (a key of :data:`STRATEGIES`) on ``setup`` with its
    own ``params`` (``warmup``, ``test``, ...).

    Raises
    ------
    ValueError
        for an unknown strategy or parameter (the message names it and lists the valid
        ones), or an invalid value.
    """
    if name not in STRATEGIES:
        raise ValueError(
            f"unknown strategy {name!r}; valid strategies: {', '.join(sorted(STRATEGIES))}"
        )
    cls = STRATEGIES[name]
    first(unknown_keys(f"strategy {name!r}", params, cls.params))
    return cls(setup, **params)
