"""A short way to build a strategy's setup in tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stalwart.selection import StrategySetup


def setup(config_ids: Sequence[str], **fields: Any) -> StrategySetup:
    """``StrategySetup`` for ``config_ids`` with the given fields (``n_instances``, ...)."""
    return StrategySetup(tuple(config_ids), **fields)
