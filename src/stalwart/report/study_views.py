"""The robust selection paper's views of one study, as matplotlib figures.

* :func:`mean_std_figure`: each config's mean against the spread (standard deviation) of
  its instance quality, one panel per selection step: the configs still in the race in
  colour, those removed at the step as grey crosses, those removed before as light grey
  dots, the selected config as a star (followed through every panel);
* :func:`funnel_figure`: the elimination funnel, configs left and training time spent up
  to each step, against the exhaustive search (every config, every instance) estimated at
  the mean time per training;
* :func:`finalists_figure`: the instance-quality distribution of the finalists (the
  configs in the race at the last step), a box per config with every instance drawn;
* :func:`cost_quality_figure`: each config's mean training time per instance against its
  criterion value over the instances it has.

Every figure is a :class:`matplotlib.figure.Figure` made directly (no pyplot state), so
that reports can be built in any thread or process.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from stalwart.core import Config, InstanceResult
from stalwart.report.html import plain
from stalwart.report.steps import Step, mean_std, values_at

ALIVE = "#1f6fb4"
REMOVED_NOW = "#8a8f99"
REMOVED_BEFORE = "#d3d6dc"
SELECTED = "#f2b01e"
MAX_PANELS = 8
MAX_FINALISTS = 12
LABEL_CHARS = 72


def varying_keys(configs: Sequence[Config]) -> list[str]:
    """The hyperparameters whose values differ between configs, in first-seen order."""
    keys: list[str] = []
    for c in configs:
        keys.extend(k for k in c if k not in keys)
    return [k for k in keys if len({repr(c.get(k)) for c in configs}) > 1]


def params_text(config: Config, keys: Sequence[str]) -> str:
    """``lr=0.01, width=8``: the config's values of ``keys``."""
    return ", ".join(f"{k}={_short(config.get(k))}" for k in keys if k in config)


def config_labels(configs: Sequence[Config]) -> dict[str, str]:
    """A short label per config: its id's first 6 digits and the hyperparameters that
    differ between configs (``lr=0.01, width=8``), cut to a readable length."""
    varying = varying_keys(configs)
    out: dict[str, str] = {}
    for c in configs:
        text = f"{c.id[:6]} {params_text(c, varying)}".strip()
        out[c.id] = text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"
    return out


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        return "[" + ",".join(_short(v) for v in value) + "]"
    return str(value)


def pick_panels(all_steps: list[Step], most: int = MAX_PANELS) -> list[Step]:
    """At most ``most`` steps, evenly spread, the first and the last always kept."""
    if len(all_steps) <= most:
        return list(all_steps)
    idx = np.unique(np.linspace(0, len(all_steps) - 1, most).round().astype(int))
    return [all_steps[i] for i in idx]


def mean_std_figure(panels: list[Step], results: Mapping[str, list[InstanceResult]],
                    metric: str, selected: str | None) -> Figure:
    """Mean against standard deviation of ``metric`` per config, one panel per step."""
    n = max(1, len(panels))
    ncols = min(4, n)
    nrows = math.ceil(n / ncols)
    size = (6.5, 4.4) if n == 1 else (3.1 * ncols + 0.6, 2.8 * nrows + 0.5)
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    removed_before: dict[str, tuple[float, float]] = {}
    for k, step in enumerate(panels):
        ax = axes[k // ncols][k % ncols]
        stats = {c: mean_std(values_at(results.get(c, []), metric, step.n_instances))
                 for c in step.alive}
        if removed_before:
            xs, ys = zip(*removed_before.values(), strict=True)
            ax.scatter(xs, ys, s=10, color=REMOVED_BEFORE, label="removed before", zorder=1)
        keep = [c for c in step.alive if c not in step.removed]
        out = [c for c in step.alive if c in step.removed]
        for group, style in ((keep, dict(s=18, color=ALIVE, label="in the race", marker="o")),
                             (out, dict(s=26, color=REMOVED_NOW, label="removed here",
                                        marker="x"))):
            pts = [stats[c] for c in group if math.isfinite(stats[c][0])]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.scatter(xs, ys, zorder=2, **style)
        if selected is not None and selected in stats and math.isfinite(stats[selected][0]):
            ax.scatter([stats[selected][0]], [stats[selected][1]], s=130, marker="*",
                       color=SELECTED, edgecolor="black", linewidth=0.7, zorder=3,
                       label="selected")
        _zoom(ax, [stats[c] for c in step.alive])
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.set_title(plain(f"{step.label}: {len(step.alive)} configs, "
                           f"{step.n_instances} instance"
                           f"{'' if step.n_instances == 1 else 's'}"), fontsize=9)
        ax.grid(alpha=0.3)
        for c in out:
            if math.isfinite(stats[c][0]):
                removed_before[c] = stats[c]
    for k in range(len(panels), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    for row in axes:
        row[0].set_ylabel("std over instances", fontsize=9)
    for k in range(len(panels)):
        axes[k // ncols][k % ncols].set_xlabel(plain(f"mean {metric}"), fontsize=8)
    handles, labels = _legend_entries(axes)
    if handles:
        fig.legend(handles, labels, loc="outside upper center", ncols=len(handles), fontsize=9,
                   frameon=False)
    return fig


def _zoom(ax: object, points: list[tuple[float, float]]) -> None:
    """Limit the panel to the configs in the race at its step (earlier removals that lie
    far off stay outside: they would squeeze the race into a corner)."""
    pts = np.array([p for p in points if math.isfinite(p[0]) and math.isfinite(p[1])])
    if pts.size == 0:
        return
    for lim, col in ((ax.set_xlim, pts[:, 0]), (ax.set_ylim, pts[:, 1])):  # type: ignore[attr-defined]
        lo, hi = float(col.min()), float(col.max())
        pad = 0.1 * (hi - lo) or 0.05 * abs(hi) or 0.05
        lim(lo - pad, hi + pad)


def _legend_entries(axes: np.ndarray) -> tuple[list, list[str]]:
    seen: dict[str, object] = {}
    for ax in np.ravel(axes):
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, h)
    order = ["in the race", "removed here", "removed before", "selected"]
    labels = [lab for lab in order if lab in seen]
    return [seen[lab] for lab in labels], labels


def funnel_figure(all_steps: list[Step], n_configs: int, n_exhaustive: int,
                  exhaustive_seconds: float, total_trainings: int, total_seconds: float) -> Figure:
    """Configs in the race and training time (or trainings) spent up to each step,
    against the exhaustive search."""
    fig = Figure(figsize=(10.5, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    names = [f"{s.label}\n{s.n_instances} inst." for s in all_steps] + ["end"]
    x = np.arange(len(names))
    counts = [len(s.alive) for s in all_steps]
    last = all_steps[-1] if all_steps else None
    end_count = (1 if last is not None and last.selected else
                 len([c for c in last.alive if c not in last.removed]) if last else n_configs)
    counts.append(end_count)
    left.bar(x, counts, color=ALIVE, alpha=0.85)
    left.axhline(n_configs, color="black", lw=0.8, ls="--")
    for xi, c in zip(x, counts, strict=True):
        left.annotate(str(c), (xi, c), ha="center", va="bottom", fontsize=8)
    left.set_xticks(x, names, fontsize=7)
    left.set_ylabel("configs in the race")
    left.set_title(f"elimination funnel ({n_configs} configs)", fontsize=10)
    use_time = exhaustive_seconds > 0 and total_seconds > 0
    spent = [s.seconds if use_time else float(s.trainings) for s in all_steps]
    spent.append(total_seconds if use_time else float(total_trainings))
    full = exhaustive_seconds if use_time else float(n_exhaustive)
    right.bar(x, spent, color="#4c9a6a", alpha=0.85, label="spent by the selection")
    right.axhline(full, color="#b03a2e", ls="--", lw=1.2,
                  label="exhaustive search" + (" (estimated)" if use_time else ""))
    for xi, v in zip(x, spent, strict=True):
        if full > 0:
            right.annotate(f"{100 * v / full:.0f}%", (xi, v), ha="center", va="bottom",
                           fontsize=8)
    right.set_xticks(x, names, fontsize=7)
    right.set_ylabel("training time (s)" if use_time else "trainings")
    right.set_ylim(0, max(full, max(spent, default=0)) * 1.12 or 1)
    right.set_title("cumulative training " + ("time" if use_time else "count")
                    + " against exhaustive", fontsize=10)
    right.legend(fontsize=8, loc="upper left")
    for ax in (left, right):
        ax.grid(axis="y", alpha=0.3)
    return fig


def finalists_figure(finalists: list[str], results: Mapping[str, list[InstanceResult]],
                     metric: str, labels: Mapping[str, str], criterion_values: Mapping[str, float],
                     criterion: str, selected: str | None) -> Figure:
    """Box and strip plot of the finalists' instance values (best first, at the top)."""
    height = 1.0 + 0.42 * max(1, len(finalists))
    fig = Figure(figsize=(10.5, height), layout="constrained")
    ax = fig.subplots()
    data = [values_at(results.get(c, []), metric, 10**9) for c in finalists]
    pos = np.arange(len(finalists))[::-1]  # first (best) at the top
    filled = [(d, p) for d, p in zip(data, pos, strict=True) if d.size]
    if filled:
        bp = ax.boxplot([d for d, _ in filled], positions=[p for _, p in filled],
                        orientation="horizontal", widths=0.55, patch_artist=True,
                        showfliers=False, medianprops=dict(color="black"))
        for box, (_, p) in zip(bp["boxes"], filled, strict=True):
            c = finalists[len(finalists) - 1 - p]
            box.set_facecolor(SELECTED if c == selected else "#cfe0f1")
    rng = np.random.default_rng(0)
    for d, p in zip(data, pos, strict=True):
        if d.size:
            ax.scatter(d, p + rng.uniform(-0.16, 0.16, d.size), s=10, color=ALIVE, alpha=0.75,
                       zorder=3)
    crit = [(criterion_values.get(c, math.nan), p) for c, p in zip(finalists, pos, strict=True)]
    crit = [(v, p) for v, p in crit if math.isfinite(v)]
    if crit:
        ax.scatter([v for v, _ in crit], [p for _, p in crit], marker="D", s=28,
                   color="#b03a2e", zorder=4, label=plain(f"criterion ({criterion})"))
        ax.legend(fontsize=8, loc="lower right")
    ticks = [plain(labels.get(c, c) + ("  (selected)" if c == selected else "")) for c in finalists]
    ax.set_yticks(pos, ticks, fontsize=7)
    ax.set_ylim(-0.7, len(finalists) - 0.3)
    ax.set_xlabel(plain(metric))
    ax.grid(axis="x", alpha=0.3)
    return fig


def cost_quality_figure(config_ids: list[str], results: Mapping[str, list[InstanceResult]],
                        criterion_values: Mapping[str, float], removed: Mapping[str, int | None],
                        criterion: str, metric: str, selected: str | None) -> Figure:
    """Mean training seconds per instance against the criterion value, per config."""
    fig = Figure(figsize=(7.5, 4.2), layout="constrained")
    ax = fig.subplots()
    groups: dict[str, list[tuple[float, float, int]]] = {"removed": [], "in the race": []}
    sel: tuple[float, float] | None = None
    for c in config_ids:
        rs = results.get(c, [])
        v = criterion_values.get(c, math.nan)
        if not rs or not math.isfinite(v):
            continue
        t = float(np.mean([r.wall_time for r in rs]))
        groups["removed" if removed.get(c) is not None else "in the race"].append((t, v, len(rs)))
        if c == selected:
            sel = (t, v)
    most = max((p[2] for g in groups.values() for p in g), default=1)
    for name, color in (("removed", REMOVED_NOW), ("in the race", ALIVE)):
        pts = groups[name]
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts],
                       s=[10 + 50 * p[2] / most for p in pts],
                       color=color, alpha=0.7, label=name)
    if sel is not None:
        ax.scatter([sel[0]], [sel[1]], s=180, marker="*", color=SELECTED, edgecolor="black",
                   linewidth=0.7, zorder=3, label="selected")
    times = [p[0] for g in groups.values() for p in g]
    if times and min(times) > 0 and max(times) / min(times) > 20:
        ax.set_xscale("log")
    quality = [p[1] for g in groups.values() for p in g]
    if quality and min(quality) > 0 and max(quality) / min(quality) > 10:
        ax.set_yscale("log")
    ax.set_xlabel("mean training time per instance (s)")
    ax.set_ylabel(plain(f"{criterion} of {metric}"))
    ax.set_title("training cost against quality (marker size: instances trained)", fontsize=10)
    ax.grid(alpha=0.3)
    if times:
        ax.legend(fontsize=8, loc="best")
    return fig
