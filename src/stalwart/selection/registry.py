"""The strategies by name, and :func:`make_strategy` to build one from a spec."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stalwart.core import Direction
from stalwart.selection.base import Strategy
from stalwart.selection.criteria import Criterion, Failures
from stalwart.selection.exhaustive import Exhaustive
from stalwart.selection.halving import Halving
from stalwart.selection.racing import Racing
from stalwart.selection.scored import ScoredStrategy

STRATEGIES: dict[str, type[ScoredStrategy]] = {
    cls.name: cls for cls in (Exhaustive, Halving, Racing)
}


def make_strategy(
    name: str,
    config_ids: Sequence[str],
    *,
    n_instances: int,
    criterion: Criterion | str,
    direction: Direction,
    instance_order: Sequence[int] | None = None,
    budget: int | None = None,
    failures: Failures = "worst",
    **params: Any,
) -> Strategy:
    """Build the strategy ``name`` (a key of :data:`STRATEGIES`) with its ``params``.

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
    unknown = sorted(set(params) - set(cls.params))
    if unknown:
        accepted = ", ".join(cls.params) or "none"
        raise ValueError(
            f"strategy {name!r} got unknown parameter(s) {', '.join(unknown)}; accepted: {accepted}"
        )
    return cls(
        config_ids,
        n_instances=n_instances,
        criterion=criterion,
        direction=direction,
        instance_order=instance_order,
        budget=budget,
        failures=failures,
        **params,
    )
