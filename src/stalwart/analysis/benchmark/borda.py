"""The Borda count: configurations ranked on every metric of every block, points summed.

Within one protocol, the configurations are ranked on each (block, metric) pair: on a
pair, with ``n`` configurations, the best gets ``n - 1`` points, the next ``n - 2``, ...,
the worst 0; tied configurations share the average of the points their places would get
(:func:`scipy.stats.rankdata`, method ``average``, minus one). A configuration's Borda
points are the sum over all pairs, at most ``(n - 1) x blocks x metrics``. Replicate runs
are averaged into their cell first (:mod:`.cells`). Values are compared at 12 significant
digits, so that two averages equal on paper tie even when floating point differs.

Missing cells: a configuration without a value on some (block, metric) pair of its
protocol is left out of that protocol's ranking, and the ranking says which pairs it
lacks (a note, also in ``excluded``); the others are ranked on every pair. A protocol
with fewer than two complete configurations is refused.

A configuration's place (``rank``) is one plus the number of configurations with more
points, so configurations with equal points share a place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from stalwart.analysis.benchmark.cells import RUNS, Cells
from stalwart.errors import UserError

SIGNIFICANT_DIGITS = 12


def comparable(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """The values rounded to :data:`SIGNIFICANT_DIGITS` significant digits."""
    return np.array([float(f"{v:.{SIGNIFICANT_DIGITS}g}") for v in np.asarray(values, float)])


def points_on(values: Sequence[float] | np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """Borda points of one ranking: ``n - 1`` for the best ... 0 for the worst, ties averaged."""
    v = comparable(values)
    return rankdata(v if higher_is_better else -v, method="average") - 1.0


def borda_points(matrix: pd.DataFrame, higher: dict[str, bool]) -> pd.DataFrame:
    """Points of each configuration (row) on each (block, metric) column of a complete matrix.

    ``higher`` maps a metric to whether higher is better; columns are (block, metric).
    """
    out = pd.DataFrame(index=matrix.index, columns=matrix.columns, dtype=float)
    for column in matrix.columns:
        out[column] = points_on(matrix[column].to_numpy(), higher[column[1]])
    return out


def places(points: Sequence[float]) -> list[int]:
    """1 + the number of strictly higher totals (equal totals share a place)."""
    p = comparable(points)
    return [int(1 + np.sum(p > x)) for x in p]


@dataclass(frozen=True)
class BordaEntry:
    rank: int
    config: str
    config_values: dict[str, Any]
    points: float
    points_by_metric: dict[str, float]
    points_by_block: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "config": self.config,
            "config_values": dict(self.config_values),
            "points": self.points,
            "points_by_metric": dict(self.points_by_metric),
            "points_by_block": dict(self.points_by_block),
        }


@dataclass(frozen=True)
class BordaRanking:
    """The Borda ranking of one protocol."""

    protocol: str
    protocol_values: dict[str, Any]
    blocks: list[str]
    metrics: list[str]
    entries: list[BordaEntry]
    averaged_cells: int = 0
    excluded: dict[str, list[str]] = field(default_factory=dict)  # config -> "block:metric"

    @property
    def n_configs(self) -> int:
        return len(self.entries)

    @property
    def max_points(self) -> float:
        return float((self.n_configs - 1) * len(self.blocks) * len(self.metrics))

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "protocol_values": dict(self.protocol_values),
            "n_configs": self.n_configs,
            "blocks": list(self.blocks),
            "metrics": list(self.metrics),
            "max_points": self.max_points,
            "averaged_cells": self.averaged_cells,
            "excluded": [{"config": c, "missing": list(m)} for c, m in self.excluded.items()],
            "ranking": [e.to_dict() for e in self.entries],
        }

    def note(self) -> str | None:
        """The printed note when configurations were left out, else None."""
        if not self.excluded:
            return None
        parts = [f"{c} lacks {_shorten(m, len(self.metrics))}" for c, m in self.excluded.items()]
        return (
            f"Borda, protocol {self.protocol}: ranked over the {self.n_configs} configurations "
            f"with every block and metric; left out: {'; '.join(parts)}"
        )


def _shorten(missing: list[str], n_metrics: int, most: int = 4) -> str:
    """``a:m1, a:m2, b:m1`` -> ``a (every metric), b:m1`` when a lacks every metric."""
    by_block: dict[str, list[str]] = {}
    for pair in missing:
        block, _, metric = pair.rpartition(":")
        by_block.setdefault(block, []).append(metric)
    full = {b for b, m in by_block.items() if len(m) == n_metrics > 1}
    missing = [f"{b} (every metric)" for b in by_block if b in full] + [
        p for p in missing if p.rpartition(":")[0] not in full
    ]
    shown = ", ".join(missing[:most])
    return shown + (f" and {len(missing) - most} more" if len(missing) > most else "")


def missing_pairs(matrix: pd.DataFrame) -> dict[str, list[str]]:
    """Configuration -> the ``block:metric`` pairs it has no value on (complete ones absent)."""
    out: dict[str, list[str]] = {}
    for config, row in matrix.iterrows():
        gaps = [f"{b}:{m}" for (b, m), v in row.items() if pd.isna(v)]
        if gaps:
            out[str(config)] = gaps
    return out


def rank_protocol(cells: Cells, protocol: str) -> BordaRanking:
    """The Borda ranking of one protocol's complete configurations."""
    roles = cells.roles
    matrix = cells.matrix(protocol)
    excluded = missing_pairs(matrix)
    complete = matrix.drop(index=list(excluded))
    if len(complete) < 2:
        gaps = "; ".join(
            f"{c} lacks {_shorten(m, len(roles.metrics))}" for c, m in excluded.items()
        )
        raise UserError(
            f"Borda, protocol {protocol}: {len(complete)} configuration(s) have a value on "
            f"every block and metric, 2 are needed ({gaps})"
        )
    higher = {m: roles.higher_is_better(m) for m in roles.metrics}
    points = borda_points(complete, higher)
    totals = points.sum(axis=1)
    by_metric = points.T.groupby(level=1, sort=False).sum().T
    by_block = points.T.groupby(level=0, sort=False).sum().T
    order = np.argsort(-comparable(totals.to_numpy()), kind="stable")
    ranks = places(totals.to_numpy())
    entries = [
        BordaEntry(
            rank=ranks[i],
            config=str(complete.index[i]),
            config_values=cells.config_values[str(complete.index[i])],
            points=float(totals.iloc[i]),
            points_by_metric={m: float(by_metric.iloc[i][m]) for m in roles.metrics},
            points_by_block={b: float(by_block.iloc[i][b]) for b in cells.blocks(protocol)},
        )
        for i in order
    ]
    frame = cells.of(protocol)
    kept = frame[frame["_config"].isin(complete.index)]
    return BordaRanking(
        protocol=protocol,
        protocol_values=cells.protocol_values[protocol],
        blocks=cells.blocks(protocol),
        metrics=list(roles.metrics),
        entries=entries,
        averaged_cells=int((kept[RUNS] > 1).sum()),
        excluded=excluded,
    )


def borda(cells: Cells) -> list[BordaRanking]:
    """One Borda ranking per protocol, in the table's order of protocols."""
    return [rank_protocol(cells, p) for p in cells.protocols]
