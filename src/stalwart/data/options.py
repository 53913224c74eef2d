"""The task name every loader validates the same way.

A loader's keyword options are declared and checked in :mod:`stalwart.data.catalog`
(:meth:`~stalwart.data.catalog.DatasetInfo.resolve`), readable without loading anything.
"""

from __future__ import annotations

from collections.abc import Sequence

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
