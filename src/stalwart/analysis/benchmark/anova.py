"""Type II ANOVA of one metric on categorical factors, with effect sizes.

The model is ordinary least squares of the metric on the factors as categories
(statsmodels ``ols("y ~ C(a) + C(b)")``, with their interactions when asked,
``C(a) * C(b)``), over the runs themselves (replicates are observations, not averaged).
The table is statsmodels' ``anova_lm(model, typ=2)``: each term's sum of squares given
the other main effects, which suits the unbalanced tables benchmarks produce.

Effect sizes, with ``SS_total`` the centred total sum of squares of the metric and
``MS_res`` the residual mean square:

* eta squared ``SS_term / SS_total`` (the share of the metric's variation; with type II
  sums of squares on an unbalanced table the shares need not add up to one);
* partial eta squared ``SS_term / (SS_term + SS_res)``;
* omega squared ``(SS_term - df_term * MS_res) / (SS_total + MS_res)``, less biased.

Runs with an empty metric cell are left out (counted in ``dropped``). Refused, naming
the flag: a factor with one level, a metric that is constant, factors that are
confounded (one determines the other, so the model cannot separate them), and a model
with no residual degrees of freedom.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.formula.api import ols
from statsmodels.stats.anova import anova_lm

from stalwart.analysis.benchmark.jsonsafe import finite
from stalwart.analysis.benchmark.roles import check_varies, numeric_column
from stalwart.errors import UserError


@dataclass(frozen=True)
class AnovaRow:
    term: str
    sum_sq: float
    df: float
    F: float | None
    p_value: float | None
    eta_sq: float | None
    partial_eta_sq: float | None
    omega_sq: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "sum_sq": finite(self.sum_sq),
            "df": finite(self.df),
            "F": finite(self.F),
            "p_value": finite(self.p_value),
            "eta_sq": finite(self.eta_sq),
            "partial_eta_sq": finite(self.partial_eta_sq),
            "omega_sq": finite(self.omega_sq),
        }


@dataclass(frozen=True)
class AnovaTable:
    metric: str
    factors: list[str]
    interactions: bool
    formula: str
    n: int
    dropped: int
    rows: list[AnovaRow]

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "factors": list(self.factors),
            "interactions": self.interactions,
            "formula": self.formula,
            "n": self.n,
            "dropped": self.dropped,
            "rows": [r.to_dict() for r in self.rows],
        }


def _data(table: pd.DataFrame, metric: str, factors: Sequence[str]) -> pd.DataFrame:
    """``y`` and ``f0, f1, ...`` (factor values as text), runs with an empty metric dropped."""
    for name in (metric, *factors):
        if name not in table.columns:
            flag = "--anova" if name == metric else "--factors"
            raise UserError(f"{flag}: no column {name!r} in the table")
    if metric in factors:
        raise UserError(f"--factors {metric}: is the metric analysed (--anova)")
    y = numeric_column(table, metric, "--anova")
    data = pd.DataFrame({"y": y})
    for i, name in enumerate(factors):
        empty = table[name].isna()
        if empty.any():
            raise UserError(f"--factors: column {name!r} has empty cells")
        data[f"f{i}"] = table[name].astype(str)
    data = data.dropna(subset=["y"])
    check_varies(data["y"], metric, "--anova")
    for i, name in enumerate(factors):
        levels = data[f"f{i}"].unique()
        if len(levels) < 2:
            raise UserError(
                f"--factors: column {name!r} has one level ({levels[0]!r}): nothing to compare"
            )
    return data


def formula_of(n_factors: int, interactions: bool) -> str:
    joiner = " * " if interactions else " + "
    return "y ~ " + joiner.join(f"C(f{i})" for i in range(n_factors))


def anova(
    table: pd.DataFrame, metric: str, factors: Sequence[str], *, interactions: bool = False
) -> AnovaTable:
    """The type II ANOVA table of ``metric`` on ``factors`` (see the module docstring)."""
    factors = list(factors)
    if not factors:
        raise UserError("--factors: expected at least one column name (--anova needs them)")
    if len(set(factors)) != len(factors):
        raise UserError("--factors: a column is given twice")
    data = _data(table, metric, factors)
    formula = formula_of(len(factors), interactions)
    model = ols(formula, data=data)
    exog = model.exog
    if np.linalg.matrix_rank(exog) < exog.shape[1]:
        raise UserError(
            f"--factors {','.join(factors)}: the factors are confounded (some combinations "
            f"never occur, or one factor determines another): the ANOVA cannot separate them"
        )
    fit = model.fit()
    if fit.df_resid < 1:
        raise UserError(
            f"--anova {metric}: no residual degrees of freedom ({len(data)} runs for "
            f"{exog.shape[1]} parameters); use fewer factors or no --interactions"
        )
    aov = anova_lm(fit, typ=2)
    names = {f"C(f{i})": name for i, name in enumerate(factors)}
    ss_total = float(fit.centered_tss)
    ss_res = float(aov.loc["Residual", "sum_sq"])
    ms_res = ss_res / float(aov.loc["Residual", "df"])
    rows = []
    for term, row in aov.iterrows():
        ss, df = float(row["sum_sq"]), float(row["df"])
        label = ":".join(names.get(part, part) for part in str(term).split(":"))
        if term == "Residual":
            rows.append(AnovaRow(label, ss, df, None, None, ss / ss_total, None, None))
            continue
        rows.append(AnovaRow(
            term=label,
            sum_sq=ss,
            df=df,
            F=float(row["F"]),
            p_value=float(row["PR(>F)"]),
            eta_sq=ss / ss_total,
            partial_eta_sq=ss / (ss + ss_res) if ss + ss_res > 0 else None,
            omega_sq=(ss - df * ms_res) / (ss_total + ms_res),
        ))
    shown = formula.replace("y ~", f"{metric} ~")
    for key, name in names.items():
        shown = shown.replace(key, f"C({name})")
    return AnovaTable(
        metric=metric,
        factors=factors,
        interactions=interactions,
        formula=shown,
        n=len(data),
        dropped=int(len(table) - len(data)),
        rows=rows,
    )
