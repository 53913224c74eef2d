"""Spearman rank agreement: between metrics, and between two protocols.

**Between metrics.** Over the cells of the table (each (protocol, config, block) with its
replicates averaged, :mod:`.cells`), Spearman's rho of every pair of metrics with its
p-value (:func:`scipy.stats.spearmanr`), over the cells that have every metric. Do the
configurations that resist L_inf attacks also resist corruptions? The cells span blocks,
so a block where every configuration scores high counts too.

**Between protocols** (``A,B``: does a cheap protocol rank configurations as the full one
does?). The configurations compared are those with a value on every metric of every
block the two protocols share, in both. Each is given its Borda points (:mod:`.borda`)
within A and within B, recomputed over these configurations only, and rho is computed
between the two protocols' points, at four scopes:

* one block, one metric (the points are the ranks: rho of the values themselves);
* one block, every metric (the Borda points of that block);
* every block, one metric (that metric's rank sum over the blocks);
* every block, every metric (the Borda ranking).

A rho is undefined (``None``) where every configuration ties within a protocol, or
where fewer than three configurations are compared.

P-values are two-sided. spearmanr's comes from a t approximation, poor on a few points
(it gives p = 0 for a perfect rho on three); up to :data:`EXACT_MAX_N` points the
p-value is instead the exact one of the permutation test, over all ``n!`` pairings
(:func:`scipy.stats.permutation_test`): 1/3 for a perfect rho on three points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import permutation_test, rankdata, spearmanr

from stalwart.analysis.benchmark.borda import borda_points, comparable, missing_pairs
from stalwart.analysis.benchmark.cells import Cells
from stalwart.analysis.benchmark.jsonsafe import finite
from stalwart.errors import UserError

MIN_N = 3
EXACT_MAX_N = 7  # 7! = 5040 pairings: exact p-values in milliseconds


def _exact_p(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sided p-value of Spearman's rho over every pairing of ``y`` with ``x``."""
    rx = rankdata(x)
    rx = rx - rx.mean()

    def rho(yy: np.ndarray, axis: int = -1) -> np.ndarray:
        ry = rankdata(yy, axis=axis)
        ry = ry - ry.mean(axis=axis, keepdims=True)
        return (ry * rx).sum(axis=axis) / np.sqrt((rx**2).sum() * (ry**2).sum(axis=axis))

    res = permutation_test((y,), rho, permutation_type="pairings", vectorized=True,
                           n_resamples=np.inf)
    return float(res.pvalue)


def rank_correlation(x: np.ndarray, y: np.ndarray) -> tuple[float | None, float | None]:
    """Spearman's (rho, p-value); ``(None, None)`` when undefined (constant or n < 3)."""
    x, y = comparable(x), comparable(y)
    if len(x) < MIN_N or len(set(x)) < 2 or len(set(y)) < 2:
        return None, None
    res = spearmanr(x, y)
    p = _exact_p(x, y) if len(x) <= EXACT_MAX_N else res.pvalue
    return finite(res.statistic), finite(p)


@dataclass(frozen=True)
class MetricAgreement:
    """Spearman's rho between every two metrics over the cells."""

    metrics: list[str]
    n: int
    rho: list[list[float | None]]
    p_value: list[list[float | None]]
    unit: str = "cell: one (protocol, config, block), replicates averaged"

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "n": self.n,
            "metrics": list(self.metrics),
            "rho": [list(r) for r in self.rho],
            "p_value": [list(r) for r in self.p_value],
        }


def metric_agreement(cells: Cells) -> MetricAgreement | None:
    """The metrics' rank agreement (None with fewer than two metrics)."""
    metrics = list(cells.roles.metrics)
    if len(metrics) < 2:
        return None
    frame = cells.frame[metrics].dropna()
    k = len(metrics)
    rho: list[list[float | None]] = [[None] * k for _ in range(k)]
    pval: list[list[float | None]] = [[None] * k for _ in range(k)]
    for i in range(k):
        for j in range(i, k):
            r, p = rank_correlation(frame[metrics[i]].to_numpy(), frame[metrics[j]].to_numpy())
            if i == j:
                r, p = (1.0, None) if r is not None else (None, None)
            rho[i][j] = rho[j][i] = r
            pval[i][j] = pval[j][i] = p
    return MetricAgreement(metrics=metrics, n=len(frame), rho=rho, p_value=pval)


@dataclass(frozen=True)
class AgreementScope:
    block: str | None  # None: every block
    metric: str | None  # None: every metric
    n: int
    rho: float | None
    p_value: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "block": self.block,
            "metric": self.metric,
            "n": self.n,
            "rho": self.rho,
            "p_value": self.p_value,
        }


@dataclass(frozen=True)
class ProtocolAgreement:
    protocol_a: str
    protocol_b: str
    configs: list[str]
    blocks: list[str]
    scopes: list[AgreementScope]
    left_out: dict[str, list[str]]  # config -> "protocol block:metric" it lacks

    def pooled(self) -> AgreementScope:
        """The scope of every block and every metric (the Borda rankings)."""
        return next(s for s in self.scopes if s.block is None and s.metric is None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol_a": self.protocol_a,
            "protocol_b": self.protocol_b,
            "configs": list(self.configs),
            "blocks": list(self.blocks),
            "left_out": [{"config": c, "missing": list(m)} for c, m in self.left_out.items()],
            "scopes": [s.to_dict() for s in self.scopes],
        }

    def note(self) -> str | None:
        if not self.left_out:
            return None
        return (
            f"agreement {self.protocol_a} vs {self.protocol_b}: compared the "
            f"{len(self.configs)} configurations complete in both; left out "
            f"{', '.join(self.left_out)}"
        )


def _check_protocols(cells: Cells, a: str, b: str) -> None:
    if not cells.roles.protocol:
        raise UserError("--agreement: needs protocol columns (--protocol); the table has one")
    known = cells.protocols
    for p in (a, b):
        if p not in known:
            raise UserError(f"--agreement: no protocol {p!r} (protocols: {', '.join(known)})")
    if a == b:
        raise UserError(f"--agreement {a},{b}: the two protocols are the same")


def protocol_agreement(cells: Cells, a: str, b: str) -> ProtocolAgreement:
    """How alike protocols ``a`` and ``b`` rank their common configurations."""
    _check_protocols(cells, a, b)
    metrics = list(cells.roles.metrics)
    blocks = [blk for blk in cells.blocks(a) if blk in cells.blocks(b)]
    if not blocks:
        raise UserError(f"--agreement {a},{b}: the protocols share no {cells.roles.block}")
    columns = pd.MultiIndex.from_product([blocks, metrics])
    ma, mb = cells.matrix(a)[columns], cells.matrix(b)[columns]
    left_out: dict[str, list[str]] = {}
    for name, m in ((a, ma), (b, mb)):
        for config, gaps in missing_pairs(m).items():
            left_out.setdefault(config, []).extend(f"{name} {g}" for g in gaps)
    for config in set(ma.index) ^ set(mb.index):
        left_out.setdefault(str(config), []).append(f"{b if config in ma.index else a} (no run)")
    configs = [c for c in ma.index if c in mb.index and c not in left_out]
    if len(configs) < MIN_N:
        raise UserError(
            f"--agreement {a},{b}: {len(configs)} configuration(s) have every block and "
            f"metric in both protocols; Spearman needs at least {MIN_N}"
        )
    higher = {m: cells.roles.higher_is_better(m) for m in metrics}
    pa = borda_points(ma.loc[configs], higher)
    pb = borda_points(mb.loc[configs], higher)
    scopes = []
    for block in [*blocks, None]:
        for metric in [*metrics, None]:
            keep = [(blk, m) for blk, m in columns
                    if block in (None, blk) and metric in (None, m)]
            rho, p = rank_correlation(pa[keep].sum(axis=1).to_numpy(),
                                      pb[keep].sum(axis=1).to_numpy())
            scopes.append(AgreementScope(block, metric, len(configs), rho, p))
    return ProtocolAgreement(a, b, [str(c) for c in configs], blocks, scopes, left_out)
