"""The page of a landscape result (``benchmarks/landscape.py --json``).

The result is :meth:`stalwart.bilevel.landscape.Catalogue.to_dict`'s object
(``"schema": "stalwart.landscape/1"``): the distinct minima a basin-hopping search found
in a small network's weights, each with its training loss, validation loss and
interval-bound sensitivity, and Spearman's rho between loss and sensitivity with a
bootstrap interval. The page shows a header (the task, the search's counts, and what the
correlation says), the figure of loss against sensitivity
(:func:`stalwart.bilevel.landscape.minima_figure`, the same function the benchmark draws
with) and the table of minima, every text escaped like every text of a report.

"Lower minima are less sensitive" is said only when rho > 0 and its interval excludes 0;
otherwise the page says that it is not established. A malformed result (another schema
version, a missing key, a value of the wrong type) is a one-line
:class:`~stalwart.errors.UserError` that names the file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from stalwart.errors import UserError
from stalwart.report import html as h

#: The header's labels for the task's keys (other keys are shown under their own names).
_TASK_LABELS = {
    "dataset": "dataset", "sizes": "network", "activation": "activation",
    "n_train": "training examples", "n_val": "validation examples", "eps": "sensitivity eps",
    "weight_decay": "weight decay", "steps": "basin-hopping steps", "stepsize": "step size",
    "temperature": "temperature", "seed": "seed", "resamples": "bootstrap resamples",
    "confidence": "confidence level", "command": "command",
}

_COLUMNS = ("#", "train loss", "train CE", "val loss", "train err", "val err", "sensitivity",
            "grad norm", "visits", "first seen")


def landscape_page(result: dict[str, Any], path: Path) -> h.Page:
    """Lay out a landscape result read from ``path``."""
    from stalwart.bilevel.landscape import catalogue_from_dict, minima_figure

    try:
        cat, corr = catalogue_from_dict(result)
    except UserError as exc:
        raise UserError(f"{path}: not a readable landscape result: {exc}") from None
    task = result["task"]
    name = task.get("dataset") or path.stem
    page = h.Page(f"stalwart landscape {name}")
    page.header.append(h.facts([("file", str(path)), ("schema", result["schema"])]
                               + _task_facts(task)))
    page.header.append(h.facts([
        ("weights", cat.n_params),
        ("local minimisations", cat.n_minimisations),
        ("distinct minima", len(cat.minima)),
        ("not stationary (not catalogued)", cat.n_not_stationary),
    ]))
    page.header.append(h.box(correlation_sentence(corr, len(cat.minima),
                                                  task.get("confidence"))))
    fig = minima_figure(cat, corr)
    page.section("figure", "Minima: training loss against sensitivity").figure(
        fig, "each minimum's training objective (x) against its IBP sensitivity, the mean "
        f"log-volume of the output box over l_inf balls of radius {h.fmt(cat.eps)} around the "
        "validation inputs (y); colour: validation loss; marker size: visits")
    rows = [[str(i), _f(m.train_loss, ".5f"), _f(m.train_ce, ".5f"), _f(m.val_loss, ".4f"),
             _f(m.train_error, ".3f"), _f(m.val_error, ".3f"), _f(m.sensitivity, ".3f"),
             _f(m.grad_norm, ".1e"), str(m.visits), str(m.first_seen)]
            for i, m in enumerate(cat.minima)]
    page.section("minima", "Minima").add(
        h.table(_COLUMNS, rows, numeric=[True] * len(_COLUMNS))
        if rows else h.paragraph("no minimum was catalogued"))
    return page


def correlation_sentence(corr: Any, n_minima: int, confidence: Any = None) -> str:
    """What Spearman's rho between the minima's loss and sensitivity establishes, in words.

    ``corr``: a :class:`stalwart.bilevel.landscape.Correlation` (rho, low, high, n) or None.
    """
    level = (f"{100 * confidence:g}% bootstrap CI"
             if isinstance(confidence, int | float) and not isinstance(confidence, bool)
             and 0 < confidence < 1 else "bootstrap CI")
    if corr is None or not math.isfinite(corr.rho):
        n = n_minima if corr is None else corr.n
        return (f"Spearman rho(training loss, sensitivity): not computed over {n} minima "
                "(at least 3 are needed), so whether lower minima are less sensitive is not "
                "established.")
    head = f"Spearman rho(training loss, sensitivity) = {corr.rho:.3f}"
    if not (math.isfinite(corr.low) and math.isfinite(corr.high)):
        return (f"{head} over n = {corr.n} minima, without a confidence interval: whether "
                "lower minima are less sensitive is not established.")
    head += f", {level} [{corr.low:.3f}, {corr.high:.3f}] over n = {corr.n} minima"
    if corr.rho > 0 and corr.low > 0:
        return f"{head}: the interval excludes 0, so lower minima are less sensitive."
    if corr.rho < 0 and corr.high < 0:
        return (f"{head}: the interval excludes 0 with rho < 0, so here lower minima are more "
                "sensitive; that lower minima are less sensitive is not established.")
    return (f"{head}: the interval includes 0, so a link between a minimum's loss and its "
            "sensitivity (lower minima less sensitive) is not established.")


def _task_facts(task: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in task.items():
        if key == "sizes" and isinstance(value, list):
            value = "-".join(map(str, value))
        elif isinstance(value, list | dict):
            value = str(value)
        elif isinstance(value, float):
            value = f"{value:g}"
        out.append((_TASK_LABELS.get(key, str(key)), value))
    return out


def _f(value: float, spec: str) -> str:
    return format(value, spec) if math.isfinite(value) else "-"
