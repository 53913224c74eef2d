"""The entry point: :func:`analyze` a table into one :class:`AnalysisResult`.

Always computed: the Borda ranking of every protocol and the metrics' rank agreement.
On request (:class:`Requests`): protocol agreements, ANOVA tables, Tukey HSD, Fisher's
exact tests. ``AnalysisResult.to_dict()`` is what ``stalwart analyze --out DIR`` writes
to ``analysis.json`` and what the report's figures read (``stalwart.report``); its
top-level keys are :data:`KEYS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from stalwart.analysis.benchmark.anova import AnovaTable, anova
from stalwart.analysis.benchmark.borda import BordaRanking, borda
from stalwart.analysis.benchmark.cells import build_cells
from stalwart.analysis.benchmark.fisher import FisherRequest, FisherResult, fisher
from stalwart.analysis.benchmark.roles import Roles, checked_table
from stalwart.analysis.benchmark.spearman import (
    MetricAgreement,
    ProtocolAgreement,
    metric_agreement,
    protocol_agreement,
)
from stalwart.analysis.benchmark.tukey import TukeyResult, tukey
from stalwart.errors import UserError

SCHEMA = "stalwart.analyze/1"

KEYS = (
    "schema", "source", "n_runs", "roles", "notes",
    "borda", "spearman", "agreement", "anova", "tukey", "fisher",
)
"""The top-level keys of ``AnalysisResult.to_dict()``, in order."""


@dataclass(frozen=True)
class Requests:
    """The optional analyses; metric lists default to every metric of the roles."""

    agreement: Sequence[tuple[str, str]] = ()
    anova_metrics: Sequence[str] = ()
    anova_factors: Sequence[str] = ()
    interactions: bool = False
    tukey_factor: str | None = None
    fisher: Sequence[FisherRequest] = ()
    test_metrics: Sequence[str] | None = None  # the metrics of Tukey and Fisher
    alpha: float = 0.05


@dataclass
class AnalysisResult:
    roles: Roles
    n_runs: int
    borda: list[BordaRanking]
    spearman: MetricAgreement | None
    agreement: list[ProtocolAgreement] = field(default_factory=list)
    anova: list[AnovaTable] = field(default_factory=list)
    tukey: list[TukeyResult] = field(default_factory=list)
    fisher: list[FisherResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "source": self.source,
            "n_runs": self.n_runs,
            "roles": self.roles.to_dict(),
            "notes": list(self.notes),
            "borda": [b.to_dict() for b in self.borda],
            "spearman": None if self.spearman is None else self.spearman.to_dict(),
            "agreement": [a.to_dict() for a in self.agreement],
            "anova": [a.to_dict() for a in self.anova],
            "tukey": [t.to_dict() for t in self.tukey],
            "fisher": [f.to_dict() for f in self.fisher],
        }

    def borda_frame(self) -> pd.DataFrame:
        """Every protocol's ranking, one row per (protocol, config): ``borda.csv``."""
        rows = []
        for ranking in self.borda:
            for e in ranking.entries:
                rows.append({
                    "protocol": ranking.protocol,
                    "rank": e.rank,
                    "config": e.config,
                    **({f"config.{k}": v for k, v in e.config_values.items()}
                       if len(e.config_values) > 1 else {}),
                    "points": e.points,
                    "max_points": ranking.max_points,
                    "n_configs": ranking.n_configs,
                    **{f"points.{m}": v for m, v in e.points_by_metric.items()},
                })
        return pd.DataFrame(rows)


def _test_metrics(roles: Roles, requests: Requests) -> list[str]:
    if requests.test_metrics is None:
        return list(roles.metrics)
    metrics = list(requests.test_metrics)
    if not metrics:
        raise UserError("--test-metrics: expected at least one column name")
    for m in metrics:
        if m not in roles.metrics:
            raise UserError(
                f"--test-metrics {m}: not one of the metrics ({', '.join(roles.metrics)})"
            )
    return metrics


def analyze(
    table: pd.DataFrame, roles: Roles, requests: Requests | None = None,
    *, source: str | None = None,
) -> AnalysisResult:
    """Every statistic of the module docstring of :mod:`stalwart.analysis.benchmark`."""
    requests = requests or Requests()
    checked = checked_table(table, roles)
    if requests.anova_factors and not requests.anova_metrics:
        raise UserError("--factors: given without --anova METRIC")
    test_metrics = _test_metrics(roles, requests)
    cells = build_cells(checked, roles)
    result = AnalysisResult(
        roles=roles, n_runs=len(checked), borda=borda(cells),
        spearman=metric_agreement(cells), source=source,
    )
    result.notes += [n for n in (b.note() for b in result.borda) if n]
    if result.spearman is not None and result.spearman.n < len(cells.frame):
        result.notes.append(
            f"Spearman between metrics: over the {result.spearman.n} of "
            f"{len(cells.frame)} cells that have every metric"
        )
    for a, b in requests.agreement:
        agreement = protocol_agreement(cells, a, b)
        result.agreement.append(agreement)
        note = agreement.note()
        if note:
            result.notes.append(note)
    for metric in requests.anova_metrics:
        table_ = anova(checked, metric, requests.anova_factors,
                       interactions=requests.interactions)
        result.anova.append(table_)
        if table_.dropped:
            result.notes.append(
                f"ANOVA of {metric}: {table_.dropped} run(s) with an empty {metric} left out"
            )
    if requests.tukey_factor is not None:
        for metric in test_metrics:
            res = tukey(
                checked, requests.tukey_factor, metric, alpha=requests.alpha,
                higher_is_better=roles.higher_is_better(metric),
            )
            result.tukey.append(res)
            if res.dropped:
                result.notes.append(
                    f"Tukey HSD of {metric}: {res.dropped} run(s) with an empty {metric} "
                    f"left out"
                )
    for req in requests.fisher:
        result.fisher += fisher(checked, roles, req, test_metrics)
    return result
