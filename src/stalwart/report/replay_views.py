"""Replays of selection strategies: how often each finds the best model, and at what cost.

A replay (``stalwart replay``, :mod:`stalwart.analysis.replay`) runs a strategy over
random instance orders of a finished table and judges each pick against the exhaustive
search over the whole table (:mod:`stalwart.analysis.outcome`). The report puts every
strategy it is given on one plane per table: **P(best)** (filled marker) and, when a
tolerance was given, **P(regret <= tolerance)** (hollow marker of the same colour) against
the **cost**, the fraction of the exhaustive search's training time (or, for a table
without times, of its trainings) the strategy used. Up and to the left is better.

The inputs (:mod:`stalwart.report.load`) are the JSON of ``stalwart replay --format
json`` (its ``summary``, its ``replays`` and its single ``replay`` with the trace), lists
or directories of those, and the selection benchmark's markdown table
(``benchmarks/selection.py``), whose rows are read back from their printed cells.
When the replays are there, a second figure shows the configs left in the race after
each number of instances per config (median and 10-90% band over the replays).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from stalwart.report import html as h
from stalwart.report.load import Source, benchmark_rows

MAX_GROUPS = 9


@dataclass
class StrategyRow:
    """One strategy on one table, as a replay summary or a benchmark row states it."""

    group: str
    strategy: str
    params: str
    time_fraction: float | None = None
    trainings_fraction: float | None = None
    trainings_mean: float | None = None
    p_best: float | None = None
    p_near_best: float | None = None
    p_tolerance: float | None = None
    tolerance: float | None = None
    p_top_k: float | None = None
    top_k: int | None = None
    regret_median: float | None = None
    regret_p90: float | None = None
    repeats: int | None = None
    source: str = ""

    @property
    def label(self) -> str:
        return self.strategy + ("" if self.params in ("", "-") else f" ({self.params})")

    @property
    def family(self) -> str:
        """The label without a budget: a baseline's budget differs from table to table,
        its colour should not."""
        kept = [p for p in self.params.split(", ") if p and p != "-"
                and not p.startswith("budget=")]
        return self.strategy + (f" ({', '.join(kept)})" if kept else "")

    @property
    def cost(self) -> float | None:
        return self.time_fraction if self.time_fraction is not None else self.trainings_fraction


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        if value in ("inf", "-inf"):
            return float(value)
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _pct_cell(text: str) -> float | None:
    """``26%`` -> 0.26; ``-`` -> None."""
    m = re.fullmatch(r"\s*([-+0-9.eE]+)\s*%?\s*", text or "")
    return None if m is None else float(m.group(1)) / 100


def rows_from_summary(summary: dict[str, Any], source: str) -> StrategyRow:
    params = ", ".join(f"{k}={v}" for k, v in (summary.get("params") or {}).items())
    if summary.get("budget") is not None:
        params = ", ".join(p for p in (params, f"budget={summary['budget']}") if p)
    group = (f"{summary.get('n_configs', '?')} configs x {summary.get('n_instances', '?')} "
             f"instances, {summary.get('criterion', '?')} {summary.get('direction', '')}").strip()
    return StrategyRow(
        group=group, strategy=str(summary.get("strategy")), params=params,
        time_fraction=_num(summary.get("time_fraction")),
        trainings_fraction=_num(summary.get("trainings_fraction")),
        trainings_mean=_num(summary.get("trainings_mean")),
        p_best=_num(summary.get("p_best")), p_near_best=_num(summary.get("p_near_best")),
        p_tolerance=_num(summary.get("p_within_tolerance")),
        tolerance=_num(summary.get("tolerance")), p_top_k=_num(summary.get("p_top_k")),
        top_k=summary.get("top_k"), regret_median=_num(summary.get("regret_median")),
        regret_p90=_num(summary.get("regret_p90")), repeats=summary.get("repeats"),
        source=source)


def rows_from_benchmark(text: str, source: str) -> list[StrategyRow]:
    out = []
    for cells in benchmark_rows(text):
        get = {k.lower(): v for k, v in cells.items()}
        trainings = get.get("trainings (% exh.)", "")
        m = re.fullmatch(r"\s*([0-9.]+)\s*\(\s*([0-9.]+)\s*\)\s*", trainings)
        top = next((k for k in get if k.startswith("p(top-")), None)
        tol = next((k for k in get if k.startswith("p(regret")), None)
        out.append(StrategyRow(
            group=cells.get("table", "?"), strategy=get.get("method", "?"),
            params=get.get("params", ""),
            time_fraction=_pct_cell(get.get("time %", "")),
            trainings_fraction=None if m is None else float(m.group(2)) / 100,
            trainings_mean=None if m is None else float(m.group(1)),
            p_best=_pct_cell(get.get("p(best)", "")),
            p_near_best=_pct_cell(get.get("p(near-best)", "")),
            p_tolerance=None if tol is None else _pct_cell(get[tol]),
            p_top_k=None if top is None else _pct_cell(get[top]),
            top_k=None if top is None else int(re.sub(r"\D", "", top) or 0) or None,
            regret_median=_num(get.get("regret median")), regret_p90=_num(get.get("regret p90")),
            repeats=int(get["repeats"]) if get.get("repeats", "").isdigit() else None,
            source=source))
    return out


def strategy_rows(source: Source) -> list[StrategyRow]:
    if source.kind == "benchmark":
        return rows_from_benchmark(source.data, source.path.name)
    return [rows_from_summary(doc["summary"], label) for label, doc in source.docs
            if isinstance(doc.get("summary"), dict)]


def tradeoff_figure(rows: list[StrategyRow]) -> Figure:
    """P(best) and P(regret <= tol) against cost, one panel per table."""
    groups: dict[str, list[StrategyRow]] = {}
    for r in rows:
        groups.setdefault(r.group, []).append(r)
    names = list(groups)[:MAX_GROUPS]
    ncols = min(3, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig = Figure(figsize=(4.3 * ncols + 2.6, 3.5 * nrows + 0.4), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    labels = list(dict.fromkeys(r.family for r in rows))
    cmap = [f"C{i % 10}" for i in range(len(labels))]
    markers = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "h"]
    style = {lab: (cmap[i], markers[(i // 10) % len(markers)]) for i, lab in enumerate(labels)}
    uses_time = all(r.time_fraction is not None for r in rows if r.cost is not None)
    for k, name in enumerate(names):
        ax = axes[k // ncols][k % ncols]
        for r in groups[name]:
            if r.cost is None or r.p_best is None:
                continue
            color, marker = style[r.family]
            x = 100 * r.cost
            ax.scatter([x], [100 * r.p_best], color=color, marker=marker, s=46,
                       label=h.plain(r.family), zorder=3)
            if r.p_tolerance is not None:
                ax.scatter([x], [100 * r.p_tolerance], facecolor="none", edgecolor=color,
                           marker=marker, s=60, zorder=3)
                ax.plot([x, x], [100 * r.p_best, 100 * r.p_tolerance], color=color, lw=0.8,
                        alpha=0.6)
        ax.set_title(h.plain(name), fontsize=10)
        ax.set_ylim(-4, 104)
        costs = [100 * r.cost for r in groups[name] if r.cost is not None]
        ax.set_xlim(0, max(costs, default=100) * 1.08 + 1)
        ax.grid(alpha=0.3)
        ax.set_xlabel("cost: % of exhaustive " + ("training time" if uses_time else "trainings"))
    for k in range(len(names), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    for row in axes:
        row[0].set_ylabel("P(best) filled, P(regret<=tol) hollow (%)", fontsize=8)
    seen: dict[str, Any] = {}
    for ax in np.ravel(axes):
        for handle, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(lab, handle)
    if seen:
        fig.legend(list(seen.values()), list(seen), loc="outside right upper", fontsize=7,
                   frameon=False)
    return fig


def survivors_figure(docs: Sequence[tuple[str, dict[str, Any]]]) -> Figure | None:
    """Configs left after k instances per config: median and 10-90% band per strategy."""
    curves: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for label, doc in docs:
        runs = [r.get("survivors") for r in doc.get("replays") or [] if isinstance(r, dict)]
        if not runs and isinstance(doc.get("replay"), dict):
            runs = [doc["replay"].get("survivors")]
        runs = [r for r in runs if r]
        if not runs:
            continue
        most = max(int(p[0]) for r in runs for p in r)
        grid = np.full((len(runs), most), np.nan)
        for i, r in enumerate(runs):
            last = math.nan
            for k, left in r:
                grid[i, int(k) - 1] = left
                last = left
            grid[i, np.isnan(grid[i])] = last  # the race is over: what was left stays
        ks = np.arange(1, most + 1)
        summary = doc.get("summary") or doc.get("replay") or {}
        name = str(summary.get("strategy", label))
        params = summary.get("params") or {}
        if params:
            name += " (" + ", ".join(f"{k}={v}" for k, v in params.items()) + ")"
        curves.append((name, ks, np.nanmedian(grid, 0), np.nanpercentile(grid, 10, 0),
                       np.nanpercentile(grid, 90, 0)))
    if not curves:
        return None
    fig = Figure(figsize=(8.5, 3.8), layout="constrained")
    ax = fig.subplots()
    for i, (name, ks, med, lo, hi) in enumerate(curves):
        ax.step(ks, med, where="post", color=f"C{i % 10}", label=h.plain(name))
        ax.fill_between(ks, lo, hi, step="post", color=f"C{i % 10}", alpha=0.15)
    ax.set_yscale("symlog", linthresh=2)
    ax.set_xlabel("instances per config")
    ax.set_ylabel("configs in the race")
    ax.set_title("survivors over the replays (median, 10-90% band)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    return fig


def replay_page(source: Source) -> h.Page:
    """The page of replay results or of the selection benchmark's table."""
    rows = strategy_rows(source)
    what = "selection benchmark" if source.kind == "benchmark" else "replays"
    page = h.Page(f"stalwart {what}: {source.path.name}")
    page.header.append(h.facts([
        ("source", str(source.path)),
        ("strategies", len({r.label for r in rows})),
        ("tables", len({r.group for r in rows})),
    ]))
    if rows:
        sec = page.section("tradeoff", "Finding the best model, and at what cost")
        sec.add(h.paragraph(
            "P(best): the pick is the exhaustive search's best model; P(regret <= tol): its "
            "criterion is within the tolerance of the best's. Cost: the share of the exhaustive "
            "search's training time (or trainings) the strategy used, averaged over the "
            "replays. Up and to the left is better."))
        sec.figure(tradeoff_figure(rows), "P(best) and P(regret <= tol) against cost per strategy")
    surv = survivors_figure(source.docs)
    if surv is not None:
        page.section("survivors", "Survivors per instance count").figure(
            surv, "configs left in the race after each number of instances per config")
    if rows:
        sec = page.section("table", "Strategies")
        sec.add(h.table(
            ["table", "strategy", "params", "time %", "trainings %", "trainings", "P(best)",
             "P(near-best)", "P(regret <= tol)", "tol", "P(top-k)", "regret median",
             "regret p90", "repeats", "source"],
            [[r.group, r.strategy, r.params or "-", h.pct(r.time_fraction),
              h.pct(r.trainings_fraction), r.trainings_mean, h.pct(r.p_best),
              h.pct(r.p_near_best), h.pct(r.p_tolerance), r.tolerance,
              h.pct(r.p_top_k) + (f" (k={r.top_k})" if r.top_k else ""), r.regret_median,
              r.regret_p90, r.repeats, r.source] for r in rows],
            numeric=[False, False, False] + [True] * 11 + [False]))
    _single_replays(page, source)
    notes = [(label, n) for label, doc in source.docs for n in doc.get("notes") or []]
    if notes:
        sec = page.section("notes", "Notes")
        sec.add(h.table(["replay", "note"], notes))
    return page


def _single_replays(page: h.Page, source: Source) -> None:
    """The trace of each single replay (``--order``/``--trace``)."""
    for label, doc in source.docs:
        one = doc.get("replay")
        if not isinstance(one, dict):
            continue
        sec = page.section(f"replay-{len(page.sections)}", f"One replay: {label}")
        sec.add(h.facts([
            ("strategy", one.get("strategy")),
            ("order", ",".join(str(i) for i in one.get("order") or [])),
            ("selection", one.get("selection")),
            ("trainings", one.get("trainings")),
            ("training time", one.get("time")),
            ("best / near-best / top-k",
             f"{one.get('is_best')} / {one.get('near_best')} / {one.get('in_top_k')}"),
            ("regret", one.get("regret")),
        ]))
        decisions = [d for d in one.get("decisions") or [] if isinstance(d, dict)]
        if decisions:
            sec.add(h.table(
                ["step", "config", "action", "instances", "value", "threshold", "p-value",
                 "reason"],
                [[d.get("step"), d.get("config_id"), d.get("action"), d.get("n_instances"),
                  _num(d.get("value")), _num(d.get("threshold")), _num(d.get("p_value")),
                  d.get("reason")] for d in decisions],
                numeric=[True, False, False, True, True, True, True, False]))
