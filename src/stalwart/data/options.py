"""Validation shared by every loader: the task name and the keyword options.

Loaders declare their options as a mapping name -> default; anything else a caller passes is
a user error (a typo in a study spec), reported with the valid choices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stalwart.checks import first, integer
from stalwart.errors import DataError


def resolve_task(dataset: str, task: str | None, tasks: Sequence[str]) -> str:
    """The task to load: ``task`` if it is one of ``tasks``, else the first (the default).

    Raises
    ------
    DataError
        If ``task`` is given and unknown; the message lists the valid tasks.
    """
    if task is None:
        return tasks[0]
    if task not in tasks:
        raise DataError(
            f"unknown task {task!r} for dataset {dataset!r}; valid tasks: {', '.join(tasks)}"
        )
    return task


def resolve_options(
    dataset: str, options: Mapping[str, Any], defaults: Mapping[str, Any]
) -> dict[str, Any]:
    """``defaults`` updated with ``options``, after checking every option name is known.

    Raises
    ------
    DataError
        If an option is unknown; the message lists the valid options.
    """
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        valid = ", ".join(sorted(defaults)) or "(none)"
        raise DataError(
            f"unknown option {unknown[0]!r} for dataset {dataset!r}; valid options: {valid}"
        )
    merged = dict(defaults)
    merged.update(options)
    return merged


def positive_int(dataset: str, name: str, value: Any, *, allow_zero: bool = False) -> int:
    """``value`` as an int, checked to be > 0 (or >= 0 with ``allow_zero``).

    Raises
    ------
    DataError
        ``"option 'n_val' of dataset 'mnist': must be an integer >= 1, got 0"`` and the like.
    """
    key = f"option {name!r} of dataset {dataset!r}"
    first(integer(key, value, low=0 if allow_zero else 1), DataError)
    return value
