"""The report page of one study: header, the paper's views and the decisions table.

The header names the study, its state (finished, running, stopped, ended without a valid
result), the spec in one glance (strategy, metric, criterion, instances, what trains), the
counts (configs, trainings against the exhaustive search, failures, time) and the
selection with its statistics. Then come the figures of :mod:`~stalwart.report.study_views`
(and :mod:`~stalwart.report.robustness` when the instances carry robustness metrics), the
decisions table (which config left at which step, and why, with the numbers its strategy
recorded) and the failed or diverged instances with their errors.

A study without any result yet gets a page that says so (``no results yet``);
:func:`stalwart.report.build.build_report` decides whether that is an error.
"""

from __future__ import annotations

import math
import time
from typing import Any

from stalwart.report import html as h
from stalwart.report.robustness import (
    clean_key,
    corruption_keys,
    profile_figure,
    robustness_keys,
)
from stalwart.report.steps import steps as study_steps
from stalwart.report.study_data import StudyData
from stalwart.report.study_views import (
    MAX_FINALISTS,
    config_labels,
    cost_quality_figure,
    finalists_figure,
    funnel_figure,
    mean_std_figure,
    params_text,
    pick_panels,
    varying_keys,
)
from stalwart.selection import get_criterion
from stalwart.summary import why_removed

NO_RESULTS = "no results yet"
MAX_ERRORS = 50
MIN_FINALISTS = 6


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "-"


def spec_summary(data: StudyData) -> list[tuple[str, Any]]:
    spec = data.summary.spec
    strategy = spec.strategy.model_dump()
    name = strategy.pop("name", spec.strategy.name)
    crit = spec.criterion.params
    inst = spec.instances
    what = (f"trainer {spec.trainer}" if spec.trainer else
            f"model {spec.model or 'set per config'} on dataset {spec.dataset.name if spec.dataset else '-'}"
            + (f" ({spec.dataset.task})" if spec.dataset and spec.dataset.task else ""))
    rows: list[tuple[str, Any]] = [
        ("strategy", f"{name} ({_params(strategy)})"),
        ("metric", f"{spec.metric.name} ({spec.metric.direction})"),
        ("criterion", spec.criterion.name + (f" ({_params(crit)})" if crit else "")),
        ("instances", f"at most {inst.n} per config, variation {inst.variation}"
                      + (f", train_size {inst.train_size}" if inst.train_size else "")),
        ("trains", what),
        ("seed", spec.seed),
    ]
    if spec.metric.evaluators:
        rows.append(("robustness metrics", ", ".join(
            str(e.params.get("key", e.name)) for e in spec.metric.evaluators)))
    return rows


def _header(data: StudyData, page: h.Page) -> None:
    s = data.summary
    frac = s.n_trainings / s.n_exhaustive if s.n_exhaustive else math.nan
    est = s.exhaustive_time_estimate
    items: list[tuple[str, Any]] = [
        ("study directory", str(data.directory)),
        ("state", data.state),
        *spec_summary(data),
        ("configs", f"{s.n_configs} ({s.n_survivors} still in the race)"),
        ("trainings", f"{s.n_trainings} of {s.n_exhaustive} for an exhaustive search "
                      f"({h.pct(frac)}; saving {1 / frac:.1f}x)" if frac else
                      f"{s.n_trainings} of {s.n_exhaustive} for an exhaustive search"),
        ("failed or diverged", s.n_failed),
        ("training time", f"{s.training_time:.1f} s of about {est:.1f} s exhaustive "
                          f"(estimated at the mean time per training)" if est > 0 else
                          f"{s.training_time:.1f} s"),
    ]
    if data.elapsed_s is not None:
        items.append(("wall time of the driver", f"{data.elapsed_s:.1f} s"))
    if s.selection is not None:
        c = s.selection
        stats = ", ".join(f"{k} {h.fmt(v)}" for k, v in s.statistics.items())
        items.append(("selected", f"{c.config.id} {c.config.to_json()}"))
        items.append((f"{s.spec.criterion.name} of the selected",
                      f"{h.fmt(c.criterion_value)} over {len(c.values)} instances ({stats})"))
    else:
        items.append(("selected", "none yet" if not s.problem else "none (no valid result)"))
    page.header.append(h.facts(items))
    if s.problem:
        page.header.append(h.box(s.problem, "problem"))


def study_page(data: StudyData) -> h.Page:
    """The page of a study (see the module docstring)."""
    s = data.summary
    page = h.Page(f"stalwart study {s.name}")
    page.footer = (f"stalwart report of {data.directory}, written "
                   f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
    _header(data, page)
    if not data.results:
        page.header.append(h.box(f"{NO_RESULTS}: the study has not stored any training; "
                                 "this page shows its views once it has"))
        return page
    metric, direction = s.spec.metric.name, s.spec.metric.direction
    results = data.by_config()
    config_ids = [c.config.id for c in s.configs]
    labels = config_labels([c.config for c in s.configs])
    crit = {c.config.id: c.criterion_value for c in s.configs}
    removed = {c.config.id: c.removed_at for c in s.configs}
    selected = s.selection.config.id if s.selection is not None else None
    all_steps = study_steps(config_ids, s.decisions, results, over=data.over)
    panels = pick_panels(all_steps)
    sec = page.section("steps", "Mean against spread at every step")
    sec.add(h.paragraph(
        f"Each point is a config: the mean and the standard deviation of {metric} over its "
        "instances at that step (its first n instances, n the step's count). Configs still "
        "in the race in blue; removed at the step: grey crosses; removed earlier: light grey; "
        "the selected config: a star." + (f" Showing {len(panels)} of {len(all_steps)} steps."
                                          if len(panels) < len(all_steps) else "")))
    sec.figure(mean_std_figure(panels, results, metric, selected),
               f"mean against std of {metric} per step")
    sec = page.section("funnel", "Elimination funnel and cost")
    sec.figure(funnel_figure(all_steps, s.n_configs, s.n_exhaustive, s.exhaustive_time_estimate,
                             s.n_trainings, s.training_time),
               "configs in the race and training spent per step, against the exhaustive search")
    finalists = _finalists(all_steps, config_ids, crit, s.spec.criterion, direction, selected,
                           removed)
    sec = page.section("finalists", "Instance quality of the finalists")
    sec.add(h.paragraph(
        f"The {len(finalists)} configs that went farthest in the race (the selected one, those "
        "of the last step, then the latest removed; best "
        f"{s.spec.criterion.name} first in each group): a box of {metric} over all their "
        "instances, every instance as a dot, the criterion as a red diamond."))
    sec.figure(finalists_figure(finalists, results, metric, labels, crit, s.spec.criterion.name,
                                selected), f"distribution of {metric} over the finalists' instances")
    sec = page.section("cost", "Training cost against quality")
    sec.figure(cost_quality_figure(config_ids, results, crit, removed, s.spec.criterion.name,
                                   metric, selected),
               "mean training time per instance against the criterion, per config")
    _robustness(page, data, finalists, results, labels, selected)
    _decisions(page, data, labels)
    _failures(page, data)
    return page


def _finalists(all_steps: list, config_ids: list[str], crit: dict[str, float], criterion: Any,
               direction: str, selected: str | None, removed: dict[str, int | None]) -> list[str]:
    """The configs that went farthest in the race: the selected one, those in the race at
    the last step, then the latest removed, each group best criterion first; at least
    MIN_FINALISTS (when the study has them), at most MAX_FINALISTS."""
    last = list(all_steps[-1].alive) if all_steps else list(config_ids)
    sign = get_criterion(criterion.name, **criterion.params).sign(direction)  # type: ignore[arg-type]

    def key(c: str) -> tuple[int, float, int, float]:
        v = crit.get(c, math.nan)
        step = removed.get(c)
        return (0 if c == selected else 1, -math.inf if step is None else -step,
                0 if math.isfinite(v) else 1, sign * v if math.isfinite(v) else 0.0)

    n = min(MAX_FINALISTS, max(len(last), min(MIN_FINALISTS, len(config_ids))))
    return sorted(config_ids, key=key)[:n]


def _robustness(page: h.Page, data: StudyData, finalists: list[str],
                results: dict[str, list], labels: dict[str, str], selected: str | None) -> None:
    names = {k for r in data.results for k in r.metrics}
    evaluator_keys = [str(e.params.get("key", e.name)) for e in data.summary.spec.metric.evaluators]
    keys = robustness_keys(names, evaluator_keys)
    if not keys:
        return
    sec = page.section("robustness", "Robustness profile")
    clean = clean_key(names)
    sec.add(h.paragraph(
        "Clean accuracy" + (f" ({clean})" if clean else " (not recorded)") + " and the robustness "
        f"metrics the instances carry ({', '.join(keys)}) for the finalists: the mean over "
        "instances with the standard deviation as error bars; the selected config in black."))
    sec.figure(profile_figure(finalists, results, keys, clean, labels, selected,
                              corruption_keys(names)), "robustness profile of the finalists")


def _decisions(page: h.Page, data: StudyData, labels: dict[str, str]) -> None:
    s = data.summary
    sec = page.section("decisions", "Decisions")
    if not s.decisions:
        sec.add(h.paragraph("No decision yet: every config is still in the race."))
        return
    configs = [c.config for c in s.configs]
    keys = varying_keys(configs)
    params = {c.id: params_text(c, keys) for c in configs}
    fixed = [k for k in dict.fromkeys(k for c in configs for k in c) if k not in keys]
    rows, classes = [], []
    for d in s.decisions:
        rows.append([d.step, d.config_id, params.get(d.config_id, ""), d.action,
                     d.n_instances, d.value, why_removed(d, s.spec.strategy.name, h.fmt)])
        classes.append("selected" if d.action == "selected" else "")
    sec.add(h.paragraph(f"Which config left the race at which step and why; value: its "
                        f"{s.spec.criterion.name} of {s.spec.metric.name} at that step. "
                        "Hyperparameters: those that differ between configs"
                        + (f"; every config has {params_text(configs[0], fixed)}."
                           if fixed and configs else ".")))
    sec.add(h.table(["step", "config", "hyperparameters", "action", "instances",
                     f"value ({s.spec.criterion.name})", "why"], rows,
                    numeric=[True, False, False, False, True, True, False], row_classes=classes))


def _failures(page: h.Page, data: StudyData) -> None:
    bad = data.summary.unsuccessful
    if not bad:
        return
    sec = page.section("failures", f"Failed or diverged instances ({len(bad)})")
    rows = []
    for r in bad[:MAX_ERRORS]:
        last = (r.error or "").strip().splitlines()[-1:] or ["-"]
        rows.append([r.config_id, r.instance, r.status, last[0]])
    sec.add(h.table(["config", "instance", "status", "error (last line)"], rows,
                    numeric=[False, True, False, False]))
    for r in bad[:MAX_ERRORS]:
        if r.error and "\n" in r.error.strip():
            sec.add(h.details(f"{r.config_id} instance {r.instance}: whole error", r.error))
    if len(bad) > MAX_ERRORS:
        sec.add(h.paragraph(f"... and {len(bad) - MAX_ERRORS} more (stalwart show --errors "
                            "lists them all)."))
