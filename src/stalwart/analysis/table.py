"""Wide result tables: one row per config, one column per instance.

A wide table is how per-instance results travel between studies and replays:

* stalwart's own format (written by :func:`write_wide`, i.e. ``stalwart results --format
  csv``): ``config_id``, the hyperparameter columns, ``<metric>_1 .. <metric>_n``,
  ``time_1 .. time_n`` (seconds) and, when the instances report one,
  ``train_loss_1 .. train_loss_n`` (the training loss of each instance's kept weights,
  which a criterion's ``near_optimal`` option needs);
* any CSV with one row per model, hyperparameter columns and per-instance columns named
  by a pattern such as ``ValAccuracy_{i}`` / ``TrainingTime_{i}`` / ``TrainLoss_{i}``
  (``{i}`` is the instance's integer index; any start, no gaps).

Cells
-----
Three kinds of cell, kept apart because they mean different things:

* a number is a finished instance;
* the literal ``nan`` (any case) is an instance that ran and failed or diverged: the
  criteria score it as a failure (``failures="worst"`` or ``"ignore"``);
* an *empty* cell is an instance that was never trained (a halving or racing study
  eliminates configs before their last instances). It is no failure: the table records
  it in :attr:`ResultTable.trained` and knows no value for it.

``inf`` and ``-inf`` are read as failed instances, as the selection criteria treat any
non-finite value (a diverged loss); :func:`read_table` adds a note naming the first such
cell, because a table that means something else by ``inf`` would be misread.
:func:`write_wide` writes every non-finite value as ``nan``, so stalwart's own tables
never carry ``inf``.

A time cell is empty exactly when its value cell is: a time without a result, or a
result without a time, is an error. The same holds for a training-loss cell, which is
``nan`` for a finished instance whose training loss is unknown (a trainer that reports
none, a diverged training).

A replay needs a value for every instance it may ask for: :meth:`ResultTable.complete`
keeps the instance columns that every config has (the warm-up of a halving study), and
:meth:`ResultTable.require_complete` refuses a table with empty cells.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from stalwart.core import Config, InstanceResult
from stalwart.errors import TableError

__all__ = ["ResultTable", "read_table", "write_wide", "table_from_results"]

ID_COLUMNS: tuple[str, ...] = ("config_id", "model")
"""Columns used as the config id, in order of preference, when ``id_column`` is not given."""

_FAMILY = re.compile(r"^(?P<prefix>.+)_(?P<index>\d+)$")


@dataclass
class ResultTable:
    """Per-instance results of a set of configs.

    Attributes
    ----------
    config_ids:
        one id per row, unique.
    params:
        the hyperparameters of each row (cells parsed as int, float or str; empty = None).
    values:
        ``(n_configs, n_instances)`` float array of the metric; NaN = failed instance.
    times:
        training seconds, same shape as ``values``, or None when the table has none.
    metric:
        the metric's name (the column prefix, e.g. ``ValAccuracy``).
    instance_labels:
        the integer index each instance column carried in the file (e.g. ``1..20``).
        Replays address instances by *position* ``0..n_instances-1`` instead.
    trained:
        optional boolean mask of the cells that were run; ``write_wide`` leaves the others
        empty (a study that eliminated configs early never ran them) and ``read_table``
        reads them back into this mask. Their ``values`` are NaN, but they are not failed
        instances. None: every cell was run.
    notes:
        one-line remarks on how the table was read (e.g. ``inf`` cells counted as failed),
        for the caller to show.
    train_losses:
        the training loss of each instance's kept weights, same shape as ``values`` (NaN:
        unknown or never trained), or None when the table has none. A criterion's
        ``near_optimal`` option needs them.
    """

    config_ids: list[str]
    params: list[dict[str, Any]]
    values: np.ndarray
    times: np.ndarray | None
    metric: str
    instance_labels: list[int] = field(default_factory=list)
    trained: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    train_losses: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=float)
        if self.values.ndim != 2 or self.values.shape[0] != len(self.config_ids):
            raise ValueError("values must have shape (n_configs, n_instances)")
        if len(self.params) != len(self.config_ids):
            raise ValueError("params must have one dict per config")
        if self.times is not None:
            self.times = np.asarray(self.times, dtype=float)
            if self.times.shape != self.values.shape:
                raise ValueError("times must have the same shape as values")
        if self.train_losses is not None:
            self.train_losses = np.asarray(self.train_losses, dtype=float)
            if self.train_losses.shape != self.values.shape:
                raise ValueError("train_losses must have the same shape as values")
        if not self.instance_labels:
            self.instance_labels = list(range(1, self.values.shape[1] + 1))
        if self.trained is not None:
            self.trained = np.asarray(self.trained, dtype=bool)
            if self.trained.shape != self.values.shape:
                raise ValueError("trained must have the same shape as values")

    @property
    def n_configs(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_instances(self) -> int:
        return int(self.values.shape[1])

    def index(self, config_id: str) -> int:
        """Row number of ``config_id``."""
        return self.config_ids.index(config_id)

    def row(self, config_id: str) -> np.ndarray:
        """All instance values of one config."""
        return self.values[self.index(config_id)]

    def values_by_id(self) -> dict[str, np.ndarray]:
        """``{config_id: values}`` for every row, in table order."""
        return {cid: self.values[i] for i, cid in enumerate(self.config_ids)}

    def train_losses_by_id(self) -> dict[str, np.ndarray] | None:
        """``{config_id: training losses}`` for every row, or None without them."""
        if self.train_losses is None:
            return None
        return {cid: self.train_losses[i] for i, cid in enumerate(self.config_ids)}

    def total_time(self) -> float | None:
        """Seconds an exhaustive search over the whole table trained (failed cells count 0)."""
        return None if self.times is None else float(np.nansum(self.times))

    @property
    def n_missing(self) -> int:
        """Cells that were never trained (empty in the CSV)."""
        return 0 if self.trained is None else int((~self.trained).sum())

    def require_complete(self, where: str = "table") -> None:
        """Refuse a table with never-trained cells: a replay cannot look them up.

        Raises
        ------
        TableError
            naming the first empty cell and how to get a full table.
        """
        if self.n_missing == 0:
            return
        assert self.trained is not None  # n_missing > 0
        r, c = (int(i) for i in np.argwhere(~self.trained)[0])
        raise TableError(
            f"{where}: {self.n_missing} cells were never trained (first: config "
            f"{self.config_ids[r]!r}, instance {self.instance_labels[c]}); a replay needs a "
            "value for every instance it may ask for: use ResultTable.complete() or a "
            "table of an exhaustive study"
        )

    def complete(self, where: str = "table") -> ResultTable:
        """The table restricted to the instance columns that every config has.

        A halving or racing study trains its first instances (the warm-up) for every
        config and the later ones only for the survivors; a replay can only use what
        every config has, so it gets those columns, all configs kept. A complete table
        is returned as it is.

        Raises
        ------
        TableError
            when no instance column is complete (some config was never trained at all,
            or the configs share no instance).
        """
        if self.n_missing == 0:
            return self
        assert self.trained is not None  # n_missing > 0
        keep = self.trained.all(axis=0)
        if not keep.any():
            empty = [cid for cid, row in zip(self.config_ids, self.trained, strict=True)
                     if not row.any()]
            why = (f"config {empty[0]!r} has no trained instance" if empty
                   else "no instance was trained for every config")
            raise TableError(
                f"{where}: nothing to replay: {why}; a replay needs instances that every "
                "config has (a study's table has its warm-up; an exhaustive study has all)"
            )
        cols = np.flatnonzero(keep)
        return ResultTable(
            config_ids=list(self.config_ids),
            params=[dict(p) for p in self.params],
            values=self.values[:, cols],
            times=None if self.times is None else self.times[:, cols],
            metric=self.metric,
            instance_labels=[self.instance_labels[i] for i in cols],
            trained=None,
            notes=list(self.notes),
            train_losses=None if self.train_losses is None else self.train_losses[:, cols],
        )


# ---- reading -------------------------------------------------------------------------


def _pattern_regex(pattern: str, flag: str) -> re.Pattern[str]:
    if pattern.count("{i}") != 1:
        raise TableError(f"{flag} {pattern!r} must contain '{{i}}' exactly once")
    before, after = pattern.split("{i}")
    return re.compile(f"^{re.escape(before)}(\\d+){re.escape(after)}$")


def _pattern_metric(pattern: str) -> str:
    # 'ValAccuracy_{i}' -> 'ValAccuracy'; '{i}_acc' -> 'acc'
    return pattern.replace("{i}", "").strip("_-. ") or "value"


def _match_columns(header: Sequence[str], regex: re.Pattern[str]) -> dict[int, str]:
    return {int(m.group(1)): col for col in header if (m := regex.match(col))}


def _families(header: Sequence[str]) -> dict[str, dict[int, str]]:
    """Columns named ``<prefix>_<int>``, grouped by prefix, in header order."""
    out: dict[str, dict[int, str]] = {}
    for col in header:
        m = _FAMILY.match(col)
        if m:
            out.setdefault(m.group("prefix"), {})[int(m.group("index"))] = col
    return out


def _is_time_prefix(prefix: str) -> bool:
    # stalwart writes time_i; other tools write TrainingTime_i, train_time_i, ...
    return prefix.lower().endswith("time")


TRAIN_LOSS_PREFIX = "train_loss"
"""The prefix of stalwart's training-loss columns (``train_loss_1 .. train_loss_n``)."""


def _is_train_loss_prefix(prefix: str) -> bool:
    # stalwart writes train_loss_i; other tools write TrainLoss_i, training_loss_i, ...
    return re.sub(r"[^a-z]", "", prefix.lower()) in ("trainloss", "trainingloss")


def _detect_value_columns(header: Sequence[str], path: str) -> tuple[str, dict[int, str]]:
    families = _families(header)
    times = {p: f for p, f in families.items() if _is_time_prefix(p)}
    candidates = {p: f for p, f in families.items() if not _is_time_prefix(p)}
    if len(candidates) > 1:
        # The training losses travel beside the metric; a table whose only instance
        # columns are training losses still reads them as its metric, as before.
        metric_like = {p: f for p, f in candidates.items() if not _is_train_loss_prefix(p)}
        candidates = metric_like or candidates
    if len(candidates) > 1 and len(times) == 1:
        # A hyperparameter such as `layer_2` looks like a family of one; the metric is
        # the family with the same instance indices as the time columns.
        time_idx = set(next(iter(times.values())))
        candidates = {p: f for p, f in candidates.items() if set(f) == time_idx}
    if not candidates:
        raise TableError(
            f"{path}: no instance columns named <metric>_1..n found; pass --value-pattern"
        )
    if len(candidates) > 1:
        names = ", ".join(f"{p}_{{i}}" for p in candidates)
        raise TableError(f"{path}: several instance column families ({names}); pass --value-pattern")
    prefix, cols = next(iter(candidates.items()))
    return prefix, cols


def _detect_time_columns(header: Sequence[str], exclude: Iterable[str]) -> dict[int, str] | None:
    excluded = set(exclude)
    times = [
        f
        for p, f in _families(header).items()
        if _is_time_prefix(p) and not excluded.intersection(f.values())
    ]
    # Ambiguous (several time families): better no times than the wrong ones.
    return times[0] if len(times) == 1 else None


def _detect_train_loss_columns(
    header: Sequence[str], exclude: Iterable[str]
) -> dict[int, str] | None:
    excluded = set(exclude)
    families = [
        f
        for p, f in _families(header).items()
        if _is_train_loss_prefix(p) and not excluded.intersection(f.values())
    ]
    # Ambiguous (several training-loss families): better none than the wrong ones.
    return families[0] if len(families) == 1 else None


def _check_contiguous(columns: dict[int, str], what: str, path: str) -> list[int]:
    idx = sorted(columns)
    expected = list(range(idx[0], idx[0] + len(idx)))
    if idx != expected:
        missing = sorted(set(expected) - set(idx))[0]
        example = columns[idx[0]]
        raise TableError(
            f"{path}: {what} columns are ragged: index {missing} is missing "
            f"(have {len(idx)} columns from {example!r})"
        )
    return idx


def _parse_param(cell: str) -> Any:
    text = cell.strip()
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    # Config ids need finite values; keep oddities such as 'nan' as text.
    return value if math.isfinite(value) else text


@dataclass
class _Infinities:
    """Where ``inf`` cells were met: counted as failed, and noted once."""

    count: int = 0
    first: str = ""

    def note(self, path: str) -> list[str]:
        if not self.count:
            return []
        return [
            f"{path}: {self.count} cell(s) are inf (first: {self.first}); counted as failed "
            "instances, like nan"
        ]


def _cell_float(cell: str, *, path: str, line: int, column: str, what: str) -> float | None:
    """The cell as a float (``float()``'s reading: nan, inf, 1e999), None when empty.

    Raises
    ------
    TableError
        naming the cell and ``what`` it should be, for text that is not a number.
    """
    text = cell.strip()
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        raise TableError(
            f"{path}: line {line}, column {column!r}: {text!r} is not {what}"
        ) from None


def _parse_number(
    cell: str, *, path: str, line: int, column: str, infinities: _Infinities
) -> float | None:
    """The cell's value: a float, NaN for a failed instance, None for an empty cell."""
    value = _cell_float(cell, path=path, line=line, column=column, what="a number")
    if value is None:
        return None
    if math.isinf(value):
        # float() also reads overflowing literals such as 1e999 as inf.
        if not infinities.count:
            infinities.first = f"line {line}, column {column!r}"
        infinities.count += 1
        return math.nan
    return value


_A_TIME = "a time in seconds (a number >= 0, or nan)"


def _parse_time(cell: str, *, path: str, line: int, column: str) -> float | None:
    """A training time in seconds: >= 0, NaN (unknown) or None (empty cell)."""
    value = _cell_float(cell, path=path, line=line, column=column, what=_A_TIME)
    if value is None or math.isnan(value) or (math.isfinite(value) and value >= 0):
        return value
    raise TableError(
        f"{path}: line {line}, column {column!r}: {cell.strip()!r} is not {_A_TIME}"
    )


def _parse_train_loss(cell: str, *, path: str, line: int, column: str) -> float | None:
    """A training loss: a number (NaN, and any non-finite number: unknown) or None
    (empty cell)."""
    value = _cell_float(cell, path=path, line=line, column=column,
                        what="a training loss (a number, or nan when unknown)")
    if value is None:
        return None
    return value if math.isfinite(value) else math.nan


def _paired(v: float | None, other: float | None, col: str, other_col: str, *, path: str,
            line: int) -> None:
    """Refuse a value cell and its time or training-loss cell that disagree on emptiness."""
    if (other is None) != (v is None):
        # A result without its time (or the reverse) is a broken table, not an
        # untrained instance: refuse rather than guess which cell is right.
        empty, full = (other_col, col) if other is None else (col, other_col)
        raise TableError(
            f"{path}: line {line}, column {empty!r} is empty but {full!r} is not "
            "(an empty cell is an instance never trained: leave both empty, or "
            "write nan for a failed one)"
        )


def _parse_instances(
    row: Sequence[str],
    pos: Mapping[str, int],
    value_cols: Mapping[int, str],
    time_cols: Mapping[int, str] | None,
    labels: Sequence[int],
    *,
    path: str,
    line: int,
    infinities: _Infinities,
    loss_cols: Mapping[int, str] | None = None,
) -> tuple[list[float], list[float] | None, list[bool], list[float] | None]:
    """One row's values, times, trained mask (an empty cell: never trained) and
    training losses."""
    values: list[float] = []
    times: list[float] | None = None if time_cols is None else []
    losses: list[float] | None = None if loss_cols is None else []
    trained: list[bool] = []
    for i in labels:
        col = value_cols[i]
        v = _parse_number(row[pos[col]], path=path, line=line, column=col,
                          infinities=infinities)
        trained.append(v is not None)
        values.append(math.nan if v is None else v)
        if time_cols is not None and times is not None:
            tcol = time_cols[i]
            t = _parse_time(row[pos[tcol]], path=path, line=line, column=tcol)
            _paired(v, t, col, tcol, path=path, line=line)
            times.append(math.nan if t is None else t)
        if loss_cols is not None and losses is not None:
            lcol = loss_cols[i]
            loss = _parse_train_loss(row[pos[lcol]], path=path, line=line, column=lcol)
            _paired(v, loss, col, lcol, path=path, line=line)
            losses.append(math.nan if loss is None else loss)
    return values, times, trained, losses


def _cell_matches(cell: str, wanted: str) -> bool:
    if cell.strip() == wanted.strip():
        return True
    try:  # `dt_len=10000` also matches a cell written 10000.0
        return float(cell) == float(wanted)
    except ValueError:
        return False


def read_table(
    path: str | Path,
    *,
    value_pattern: str | None = None,
    time_pattern: str | None = None,
    id_column: str | None = None,
    param_columns: list[str] | None = None,
    filter: Mapping[str, str] | None = None,  # named after the CLI flag
    train_loss_pattern: str | None = None,
) -> ResultTable:
    """Read a wide CSV of per-instance results.

    Parameters
    ----------
    path:
        the CSV file.
    value_pattern, time_pattern:
        instance column names with ``{i}`` for the integer index, e.g.
        ``"ValAccuracy_{i}"``. Without ``value_pattern`` the metric is the one column
        family ``X_1..X_n`` whose prefix does not end in ``time``; without
        ``time_pattern`` the times are the one family whose prefix ends in ``time``
        (``time_i``, ``TrainingTime_i``), if any.
    train_loss_pattern:
        the training-loss columns, e.g. ``"TrainLoss_{i}"``. Without it, the one family
        whose prefix is ``train_loss``, ``TrainLoss``, ``training_loss`` (any case,
        separators ignored), if any; never the metric's own columns.
    id_column:
        column holding the config id. Default: ``config_id``, else ``model``, else the
        stable hash of the row's hyperparameters (:attr:`stalwart.core.Config.id`).
    param_columns:
        the hyperparameter columns. Default: every column that is neither an instance
        column nor the id column.
    filter:
        ``{column: value}``: keep only the rows whose cells equal the values (as text, or
        as numbers when both parse), e.g. ``{"dt_len": "10000"}``.

    Returns
    -------
    ResultTable

    Raises
    ------
    TableError
        missing file, no instance columns, missing id/param/filter columns, non-numeric
        instance cells, a time cell empty where its value is not (or the reverse), index
        gaps, rows of the wrong length, duplicate ids, or a filter that keeps no row. The
        message is one line and names the column/line.

    Notes
    -----
    Empty instance cells are instances never trained (:attr:`ResultTable.trained`);
    ``nan`` cells failed; ``inf`` cells are read as failed and noted in
    :attr:`ResultTable.notes`.
    """
    where = str(path)
    p = Path(path)
    if not p.is_file():
        raise TableError(f"{where}: no such file")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise TableError(f"{where}: cannot read: {exc}") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise TableError(f"{where}: empty file")
    header = [h.strip() for h in rows[0]]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise TableError(f"{where}: duplicate column {dupes[0]!r}")

    if value_pattern is not None:
        value_cols = _match_columns(header, _pattern_regex(value_pattern, "--value-pattern"))
        if not value_cols:
            raise TableError(f"{where}: no columns match --value-pattern {value_pattern!r}")
        metric = _pattern_metric(value_pattern)
    else:
        metric, value_cols = _detect_value_columns(header, where)
    labels = _check_contiguous(value_cols, metric, where)

    if time_pattern is not None:
        time_cols: dict[int, str] | None = _match_columns(
            header, _pattern_regex(time_pattern, "--time-pattern")
        )
        if not time_cols:
            raise TableError(f"{where}: no columns match --time-pattern {time_pattern!r}")
    else:
        time_cols = _detect_time_columns(header, value_cols.values())
    if time_cols is not None and sorted(time_cols) != labels:
        raise TableError(
            f"{where}: time columns have indices {min(time_cols)}..{max(time_cols)} "
            f"({len(time_cols)} columns), {metric} columns {labels[0]}..{labels[-1]}"
        )

    if train_loss_pattern is not None:
        loss_cols: dict[int, str] | None = _match_columns(
            header, _pattern_regex(train_loss_pattern, "--train-loss-pattern")
        )
        if not loss_cols:
            raise TableError(
                f"{where}: no columns match --train-loss-pattern {train_loss_pattern!r}"
            )
        clash = set(loss_cols.values()) & set(value_cols.values())
        if clash:
            raise TableError(
                f"{where}: --train-loss-pattern {train_loss_pattern!r} matches the {metric} "
                f"columns (e.g. {sorted(clash)[0]!r})"
            )
    else:
        loss_cols = _detect_train_loss_columns(
            header, [*value_cols.values(), *(time_cols or {}).values()]
        )
    if loss_cols is not None and sorted(loss_cols) != labels:
        raise TableError(
            f"{where}: training-loss columns have indices {min(loss_cols)}..{max(loss_cols)} "
            f"({len(loss_cols)} columns), {metric} columns {labels[0]}..{labels[-1]}"
        )

    instance_cols = (set(value_cols.values()) | set((time_cols or {}).values())
                     | set((loss_cols or {}).values()))
    for col in [id_column, *(param_columns or []), *(filter or {})]:
        if col is not None and col not in header:
            raise TableError(f"{where}: no column {col!r}")
    if id_column is None:
        id_column = next((c for c in ID_COLUMNS if c in header), None)
    if param_columns is None:
        param_columns = [c for c in header if c not in instance_cols and c != id_column]

    pos = {c: i for i, c in enumerate(header)}
    ids: list[str] = []
    params: list[dict[str, Any]] = []
    values: list[list[float]] = []
    times: list[list[float]] = []
    losses: list[list[float]] = []
    trained: list[list[bool]] = []
    infinities = _Infinities()
    seen: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank line
        if len(row) != len(header):
            raise TableError(
                f"{where}: line {line} has {len(row)} cells, the header {len(header)} "
                "(ragged row)"
            )
        if filter and not all(_cell_matches(row[pos[c]], v) for c, v in filter.items()):
            continue
        hp = {c: _parse_param(row[pos[c]]) for c in param_columns}
        if id_column is not None:
            cid = row[pos[id_column]].strip()
            if not cid:
                raise TableError(f"{where}: line {line}, column {id_column!r} is empty")
        else:
            cid = Config(hp).id
        if cid in seen:
            raise TableError(
                f"{where}: duplicate config id {cid!r} (lines {seen[cid]} and {line})"
            )
        seen[cid] = line
        ids.append(cid)
        params.append(hp)
        row_values, row_times, row_trained, row_losses = _parse_instances(
            row, pos, value_cols, time_cols, labels, path=where, line=line,
            infinities=infinities, loss_cols=loss_cols,
        )
        values.append(row_values)
        trained.append(row_trained)
        if row_times is not None:
            times.append(row_times)
        if row_losses is not None:
            losses.append(row_losses)
    if not ids:
        if filter:
            spec = ",".join(f"{c}={v}" for c, v in filter.items())
            raise TableError(f"{where}: --filter {spec} matches no row")
        raise TableError(f"{where}: no data rows")
    mask = np.array(trained, dtype=bool)
    return ResultTable(
        config_ids=ids,
        params=params,
        values=np.array(values, dtype=float),
        times=np.array(times, dtype=float) if time_cols is not None else None,
        metric=metric,
        instance_labels=labels,
        # None when every cell was run, so a full table reads exactly as before.
        trained=None if mask.all() else mask,
        notes=infinities.note(where),
        train_losses=np.array(losses, dtype=float) if loss_cols is not None else None,
    )


# ---- writing -------------------------------------------------------------------------


def _format_param(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def _format_number(value: float) -> str:
    # repr round-trips floats exactly. Every non-finite value is a failed instance to the
    # criteria, so it is written `nan`, the one spelling of a failure.
    return repr(float(value)) if math.isfinite(value) else "nan"


def write_wide(target: str | Path | TextIO, table: ResultTable) -> None:
    """Write ``table`` in stalwart's wide format; :func:`read_table` reads it back.

    Columns: ``config_id``, the hyperparameter columns (union over rows, first-seen
    order; lists/dicts as JSON), ``<metric>_1..n``, then ``time_1..n`` when the table has
    times, then ``train_loss_1..n`` when it has training losses (not when the metric is
    itself a training loss, e.g. ``train_loss``: the columns would clash). Failed instances (any
    non-finite value) are written ``nan``, and so are unknown training losses; instances
    never trained (``table.trained`` False) are left empty, value, time and training loss.

    Parameters
    ----------
    target:
        a path or an open text stream (e.g. ``sys.stdout``).
    table:
        the results.
    """
    keys: list[str] = []
    for hp in table.params:
        keys.extend(k for k in hp if k not in keys)
    n = table.n_instances
    header = ["config_id", *keys, *(f"{table.metric}_{i}" for i in range(1, n + 1))]
    if table.times is not None:
        header += [f"time_{i}" for i in range(1, n + 1)]
    losses = None if _is_train_loss_prefix(table.metric) else table.train_losses
    if losses is not None:
        header += [f"{TRAIN_LOSS_PREFIX}_{i}" for i in range(1, n + 1)]

    def emit(stream: TextIO) -> None:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        for r, cid in enumerate(table.config_ids):
            cells = [cid, *(_format_param(table.params[r].get(k)) for k in keys)]
            ran = np.ones(n, dtype=bool) if table.trained is None else table.trained[r]
            cells += [_format_number(v) if t else "" for v, t in zip(table.values[r], ran, strict=True)]
            if table.times is not None:
                cells += [_format_number(v) if t else "" for v, t in zip(table.times[r], ran, strict=True)]
            if losses is not None:
                cells += [_format_number(v) if t else "" for v, t in zip(losses[r], ran, strict=True)]
            writer.writerow(cells)

    if isinstance(target, str | Path):
        with open(target, "w", encoding="utf-8", newline="") as fh:
            emit(fh)
    else:
        emit(target)


def table_from_results(
    results: Iterable[InstanceResult],
    configs: Mapping[str, Mapping[str, Any]],
    metric: str,
    *,
    n_instances: int | None = None,
) -> ResultTable:
    """Assemble a :class:`ResultTable` from finished instances.

    Parameters
    ----------
    results:
        the instances; ``InstanceResult.value(metric)`` is NaN for failed ones.
    configs:
        ``{config_id: hyperparameters}``; one row each, in this order.
    metric:
        the metric to tabulate.
    n_instances:
        number of instance columns; default: the largest instance index + 1.

    Notes
    -----
    An instance that was never run is marked in ``trained`` and written as an empty
    cell, unlike a failed one (``nan``): the table of a study that eliminated configs
    early is honest about what it knows. ``read_table`` reads the empty cells back as
    never trained, and ``stalwart replay`` replays the columns every config has.

    The table has training losses (``InstanceResult.train_loss``; NaN where unknown)
    when at least one result reports a finite one; a study whose trainer reports none
    gets no training-loss columns, so a replay with a ``near_optimal`` criterion refuses
    it instead of silently scoring every instance.
    """
    items = list(results)
    if n_instances is None:
        n_instances = 1 + max((r.instance for r in items), default=-1)
    ids = list(configs)
    row = {cid: i for i, cid in enumerate(ids)}
    values = np.full((len(ids), n_instances), np.nan)
    times = np.full((len(ids), n_instances), np.nan)
    losses = np.full((len(ids), n_instances), np.nan)
    trained = np.zeros((len(ids), n_instances), dtype=bool)
    for r in items:
        if r.config_id in row and 0 <= r.instance < n_instances:
            values[row[r.config_id], r.instance] = r.value(metric)
            times[row[r.config_id], r.instance] = r.wall_time
            if r.train_loss is not None:
                losses[row[r.config_id], r.instance] = float(r.train_loss)
            trained[row[r.config_id], r.instance] = True
    return ResultTable(
        config_ids=ids,
        params=[dict(configs[c]) for c in ids],
        values=values,
        times=times,
        metric=metric,
        trained=trained,
        train_losses=losses if np.isfinite(losses).any() else None,
    )
