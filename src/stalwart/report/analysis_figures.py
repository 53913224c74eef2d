"""The views of a benchmark analysis: figures and tables a report draws.

Both functions read the dict of ``AnalysisResult.to_dict()`` (what ``stalwart analyze
--out DIR`` writes to ``analysis.json``; the keys are listed in
:data:`stalwart.analysis.benchmark.result.KEYS`), so a report can be drawn from the file
alone, without the table. Sections absent from the result (no ANOVA asked for) give no
view.

* :func:`analysis_figures`: the Borda points of each protocol (bars split by metric),
  the Tukey means of each factor with their simultaneous intervals and letters, the
  Spearman heatmap between metrics, the agreement of each protocol pair per block and
  metric, and the ANOVA effect sizes.
* :func:`analysis_tables`: the Borda rankings, each ANOVA table, each Tukey letter
  display, the Fisher results, the Spearman matrix and each protocol agreement.

Figures are :class:`matplotlib.figure.Figure` objects made directly, never through
pyplot, so that nothing global is touched and no display is needed; ``fig.savefig``
draws them with the Agg renderer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

Views = list[tuple[str, Figure]]


def _float(value: Any) -> float:
    """A JSON number as a float: ``None`` -> NaN, ``"inf"`` -> inf."""
    if value is None:
        return float("nan")
    return float(value)


# ---- figures ---------------------------------------------------------------------------


def borda_figure(ranking: dict[str, Any]) -> Figure:
    """Horizontal bars of Borda points, best at the top, split by metric."""
    entries = ranking["ranking"]
    metrics = ranking["metrics"]
    fig = Figure(figsize=(7, 1.2 + 0.35 * len(entries)), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(entries))[::-1]
    left = np.zeros(len(entries))
    for metric in metrics:
        width = np.array([e["points_by_metric"][metric] for e in entries], float)
        ax.barh(y, width, left=left, label=metric)
        left += width
    for yi, e in zip(y, entries, strict=True):
        ax.text(e["points"], yi, f" {e['points']:g}", va="center", fontsize=8)
    ax.set_yticks(y, [f"{e['rank']}. {e['config']}" for e in entries])
    ax.set_xlim(0, max(ranking["max_points"], 1) * 1.08)
    ax.set_xlabel(f"Borda points (max {ranking['max_points']:g})")
    ax.set_title(f"Borda ranking, protocol {ranking['protocol']}")
    ax.legend(fontsize=7, loc="lower right")
    return fig


def tukey_figure(result: dict[str, Any]) -> Figure:
    """Each level's mean with its simultaneous interval, and its letters above."""
    groups = result["groups"]
    fig = Figure(figsize=(max(4.5, 1.5 + 0.8 * len(groups)), 4), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(groups))
    means = np.array([_float(g["mean"]) for g in groups])
    low = means - np.array([_float(g["ci_low"]) for g in groups])
    high = np.array([_float(g["ci_high"]) for g in groups]) - means
    ax.errorbar(x, means, yerr=[low, high], fmt="o", capsize=4)
    top = means + high
    pad = 0.04 * (np.nanmax(top) - np.nanmin(means - low) or 1.0)
    for xi, yi, g in zip(x, top, groups, strict=True):
        ax.text(xi, yi + pad, g["letters"], ha="center", va="bottom", fontweight="bold")
    ax.set_ylim(top=np.nanmax(top) + 4 * pad)
    ax.set_xticks(x, [g["level"] for g in groups], rotation=30 if len(groups) > 4 else 0)
    ax.set_xlabel(result["factor"])
    ax.set_ylabel(result["metric"])
    ax.set_title(f"{result['metric']} by {result['factor']}\n"
                 f"Tukey HSD, FWER {result['alpha']:g}; a shared letter: no difference",
                 fontsize=9)
    return fig


def _heatmap(matrix: np.ndarray, rows: list[str], cols: list[str], title: str,
             label: str) -> Figure:
    fig = Figure(figsize=(1.8 + 0.9 * len(cols), 1.4 + 0.6 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(matrix), vmin=-1, vmax=1, cmap="RdBu_r")
    for i in range(len(rows)):
        for j in range(len(cols)):
            v = matrix[i, j]
            ax.text(j, i, "-" if np.isnan(v) else f"{v:.2f}", ha="center", va="center",
                    fontsize=8, color="white" if abs(np.nan_to_num(v)) > 0.6 else "black")
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, label=label)
    return fig


def spearman_figure(spearman: dict[str, Any]) -> Figure:
    matrix = np.array([[_float(v) for v in row] for row in spearman["rho"]])
    metrics = spearman["metrics"]
    return _heatmap(matrix, metrics, metrics,
                    f"Spearman rho between metrics ({spearman['n']} cells)", "rho")


def agreement_figure(agreement: dict[str, Any]) -> Figure:
    """Rho between two protocols, blocks by metrics (``all``: pooled)."""
    scopes = agreement["scopes"]
    blocks = list(dict.fromkeys(s["block"] for s in scopes))
    metrics = list(dict.fromkeys(s["metric"] for s in scopes))
    matrix = np.full((len(blocks), len(metrics)), np.nan)
    for s in scopes:
        matrix[blocks.index(s["block"]), metrics.index(s["metric"])] = _float(s["rho"])
    return _heatmap(matrix, [b or "all" for b in blocks], [m or "all" for m in metrics],
                    f"Agreement, {agreement['protocol_a']} vs {agreement['protocol_b']}",
                    "Spearman rho")


def anova_figure(anova: dict[str, Any]) -> Figure:
    """Eta squared and partial eta squared of each term."""
    rows = [r for r in anova["rows"] if r["term"] != "Residual"]
    fig = Figure(figsize=(6, 1.4 + 0.45 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(rows))[::-1]
    ax.barh(y + 0.2, [_float(r["eta_sq"]) for r in rows], height=0.4, label="eta squared")
    ax.barh(y - 0.2, [_float(r["partial_eta_sq"]) for r in rows], height=0.4,
            label="partial eta squared")
    ax.set_yticks(y, [r["term"] for r in rows])
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of variance")
    ax.set_title(f"ANOVA effect sizes: {anova['formula']}", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    return fig


def analysis_figures(result: dict[str, Any]) -> list[tuple[str, Figure]]:
    """(title, figure) for every view of the analysis (module docstring)."""
    views: Views = []
    for ranking in result.get("borda", []):
        views.append((f"Borda points, protocol {ranking['protocol']}", borda_figure(ranking)))
    for tukey in result.get("tukey", []):
        views.append((f"Tukey HSD, {tukey['metric']} by {tukey['factor']}",
                      tukey_figure(tukey)))
    if result.get("spearman"):
        views.append(("Spearman rho between metrics", spearman_figure(result["spearman"])))
    for agreement in result.get("agreement", []):
        views.append((f"Agreement, {agreement['protocol_a']} vs {agreement['protocol_b']}",
                      agreement_figure(agreement)))
    for anova in result.get("anova", []):
        views.append((f"ANOVA effect sizes, {anova['metric']}", anova_figure(anova)))
    return views


# ---- tables ----------------------------------------------------------------------------


def borda_table(result: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for ranking in result.get("borda", []):
        for e in ranking["ranking"]:
            rows.append({
                "protocol": ranking["protocol"],
                "rank": e["rank"],
                "config": e["config"],
                "points": e["points"],
                "max_points": ranking["max_points"],
                **e["points_by_metric"],
            })
    return pd.DataFrame(rows)


def anova_table(anova: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(anova["rows"]).set_index("term")


def tukey_table(tukey: dict[str, Any]) -> pd.DataFrame:
    frame = pd.DataFrame(tukey["groups"]).rename(columns={"level": tukey["factor"]})
    return frame.set_index(tukey["factor"])


def fisher_table(fisher: list[dict[str, Any]]) -> pd.DataFrame:
    rows = [{
        "factor": f["factor"],
        "A": f["a"],
        "B": f["b"],
        "alternative": f["alternative"],
        "metric": f["metric"],
        "pairs": f["n_pairs"],
        "A wins": f["wins_a"],
        "B wins": f["wins_b"],
        "ties": f["ties"],
        "odds_ratio": f["odds_ratio"],
        "p_value": f["p_value"],
        "sign_test_p_value": f["sign_test_p_value"],
    } for f in fisher]
    return pd.DataFrame(rows)


def spearman_table(spearman: dict[str, Any]) -> pd.DataFrame:
    metrics = spearman["metrics"]
    return pd.DataFrame(spearman["rho"], index=metrics, columns=metrics)


def agreement_table(agreement: dict[str, Any]) -> pd.DataFrame:
    frame = pd.DataFrame(agreement["scopes"])
    return frame.fillna({"block": "all", "metric": "all"})


def analysis_tables(result: dict[str, Any]) -> list[tuple[str, pd.DataFrame]]:
    """(title, table) for every table of the analysis (module docstring)."""
    views: list[tuple[str, pd.DataFrame]] = [("Borda ranking", borda_table(result))]
    for anova in result.get("anova", []):
        views.append((f"ANOVA (type II): {anova['formula']}", anova_table(anova)))
    for tukey in result.get("tukey", []):
        views.append((f"Tukey letters, {tukey['metric']} by {tukey['factor']}",
                      tukey_table(tukey)))
    if result.get("fisher"):
        views.append(("Fisher's exact tests", fisher_table(result["fisher"])))
    if result.get("spearman"):
        views.append(("Spearman rho between metrics", spearman_table(result["spearman"])))
    for agreement in result.get("agreement", []):
        views.append((f"Agreement, {agreement['protocol_a']} vs {agreement['protocol_b']}",
                      agreement_table(agreement)))
    return views
