"""A per-config robustness profile: clean, adversarial and corruption accuracy side by side.

A study measures robustness when its instances carry robustness metrics besides the
selection metric: those of the built-in trainer's evaluators
(:data:`stalwart.robustness.metrics.EVALUATORS`: ``pgd_linf_acc``, ``pgd_l2_acc``,
``fgsm_acc``, ``apgd_ce_acc``, ``autoattack_acc``, ``corruption_acc``, ``verified_acc``,
``log_sensitivity``), the keys a spec gives its evaluators (``key:``), and a user
trainer's metrics whose names say they are attack or corruption accuracies (``linf``,
``l2``, ``l1``, ``adv``, ``attack``, ``corrupt``, ``robust``, ... ending in ``acc`` or
``accuracy``). The clean accuracy beside them is the first of ``test_accuracy``,
``accuracy``, ``clean_acc`` and ``val_accuracy`` the instances hold (the evaluators
measure the test split). Per-corruption accuracies (``corruption_acc/<name>``) get their
own panel; per-epoch curves (``epoch3.clean_acc``) are left out.

The names are listed here rather than imported, so that a report never loads torch;
``tests/report`` checks that they match the registry.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from stalwart.core import InstanceResult
from stalwart.report.html import plain

#: The evaluators of :mod:`stalwart.robustness.metrics` (kept equal by a test).
EVALUATOR_METRICS = ("pgd_linf_acc", "pgd_l2_acc", "fgsm_acc", "apgd_ce_acc", "autoattack_acc",
                     "corruption_acc", "log_sensitivity", "verified_acc")
CLEAN_METRICS = ("test_accuracy", "accuracy", "clean_acc", "val_accuracy")
#: Robustness metrics that are not accuracies (drawn on their own axis).
SCALE_METRICS = ("log_sensitivity",)
_ROBUST_NAME = re.compile(
    r"(fgsm|pgd|apgd|autoattack|attack|adv|corrupt|verified|robust|l_?inf|l_?1|l_?2)"
    r".*(acc|accuracy)$", re.IGNORECASE)


def robustness_keys(metric_names: Iterable[str], evaluator_keys: Iterable[str] = ()) -> list[str]:
    """The robustness metrics among ``metric_names`` (top level, no per-corruption or
    per-epoch keys), in the order of :data:`EVALUATOR_METRICS`, then by name."""
    names = set(metric_names)
    wanted = set(evaluator_keys) | set(EVALUATOR_METRICS)
    found = {n for n in names if "/" not in n and "." not in n
             and (n in wanted or _ROBUST_NAME.search(n))}
    found -= set(CLEAN_METRICS)
    order = {n: i for i, n in enumerate(EVALUATOR_METRICS)}
    return sorted(found, key=lambda n: (order.get(n, len(order)), n))


def corruption_keys(metric_names: Iterable[str]) -> list[str]:
    """The per-corruption accuracies (``<key>/<corruption>``) among ``metric_names``."""
    return sorted(n for n in set(metric_names) if "/" in n and "." not in n.split("/")[0])


def clean_key(metric_names: Iterable[str]) -> str | None:
    names = set(metric_names)
    return next((k for k in CLEAN_METRICS if k in names), None)


def _mean_sd(rs: Sequence[InstanceResult], key: str) -> tuple[float, float]:
    vals = [r.metrics.get(key) for r in rs if r.status == "ok"]
    x = np.asarray([v for v in vals if v is not None and math.isfinite(v)], dtype=float)
    if x.size == 0:
        return math.nan, math.nan
    return float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else 0.0


def profile_figure(configs: list[str], results: Mapping[str, list[InstanceResult]],
                   keys: list[str], clean: str | None, labels: Mapping[str, str],
                   selected: str | None, corruptions: list[str] | None = None) -> Figure:
    """Each config's mean (and std over instances) of every robustness metric.

    One line per config over the accuracy metrics (clean first); ``log_sensitivity`` and
    the per-corruption accuracies, when present, in panels of their own.
    """
    acc = ([clean] if clean else []) + [k for k in keys if k not in SCALE_METRICS]
    scale = [k for k in keys if k in SCALE_METRICS]
    corr = corruptions or []
    panels = [p for p in (acc, scale, corr) if p]
    widths = [max(2.0, 1.1 * len(p)) for p in panels]
    fig = Figure(figsize=(min(15.0, 2.2 + sum(widths)), 4.4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False, width_ratios=widths)[0]
    colors = [f"C{i % 10}" for i in range(len(configs))]
    for ax, names in zip(axes, panels, strict=True):
        x = np.arange(len(names))
        for c, color in zip(configs, colors, strict=True):
            stats = [_mean_sd(results.get(c, []), k) for k in names]
            ys = np.array([s[0] for s in stats])
            es = np.array([s[1] for s in stats])
            if not np.isfinite(ys).any():
                continue
            is_sel = c == selected
            ax.errorbar(x, ys, yerr=np.nan_to_num(es), marker="*" if is_sel else "o",
                        ms=11 if is_sel else 5, lw=2.4 if is_sel else 1.1, capsize=2,
                        color="black" if is_sel else color, alpha=1.0 if is_sel else 0.8,
                        label=plain(labels.get(c, c) + (" (selected)" if is_sel else "")),
                        zorder=3 if is_sel else 2)
        shown = [n.split("/", 1)[1] if names is corr else n for n in names]
        ax.set_xticks(x, [plain(n) for n in shown], rotation=30, ha="right", fontsize=8)
        ax.grid(alpha=0.3)
        ax.set_xlim(-0.5, len(names) - 0.5)
        if names is acc:
            ax.set_ylabel("accuracy (mean ± std over instances)")
            ax.set_title("clean and robust accuracy", fontsize=10)
        elif names is scale:
            ax.set_title("log-sensitivity (lower: more robust)", fontsize=10)
        else:
            ax.set_title("accuracy per corruption", fontsize=10)
    handles, labs = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labs, loc="outside right upper", fontsize=7, frameon=False)
    return fig
