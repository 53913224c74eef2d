"""Column roles of a benchmark table, their defaults, and the checks of the table.

* **config** columns identify what is ranked (a backbone; several columns make a
  configuration of their joint values, written ``a/b``);
* **protocol** columns group runs into protocols ranked separately (the loss and the
  fine-tuning strategy); none means one protocol, ``all``;
* the **block** column is what every ranking is repeated over (the dataset);
* **metrics** are what is measured, higher is better unless listed in
  ``lower_is_better``.

Two layouts are known, so that their tables read as they are: the table of Heuillet et
al. (arXiv 2508.14079) and stalwart's own robust fine-tuning table. A role that is not
given comes from the layout whose config, protocol and block columns the table has; the
metrics default to those of the layout's metric columns the table has. A table of no
known layout needs ``--config``, ``--block`` and ``--metrics``.

:func:`checked_table` refuses what would give a NaN table or a traceback later: a column
that does not exist, a column in two roles, an empty factor cell, a metric that is not
numeric, not finite, empty or constant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from stalwart.errors import UserError

NO_PROTOCOL = "all"
"""The protocol label when no protocol column is given: every run in one protocol."""

SEPARATOR = "/"
"""Joins the values of several config (or protocol) columns into one label."""


@dataclass(frozen=True)
class Layout:
    """Column names of a known benchmark table."""

    config: tuple[str, ...]
    protocol: tuple[str, ...]
    block: str
    metrics: tuple[str, ...]


LAYOUTS: dict[str, Layout] = {
    # Heuillet et al. 2025: 40 backbones x 2 losses x 3 protocols x 6 datasets; the
    # "optimization strategy" (loss and update protocol) is what a ranking is within.
    "heuillet2025": Layout(
        config=("backbone_name",),
        protocol=("loss_function", "ft_strategy"),
        block="dataset",
        metrics=("clean_acc", "Linf_acc", "L2_acc", "L1_acc", "common_acc"),
    ),
    # stalwart's own table (benchmarks/data/robust_finetuning.csv).
    "stalwart": Layout(
        config=("backbone",),
        protocol=("training_loss", "protocol"),
        block="target",
        metrics=("clean_acc", "linf_acc", "l2_acc", "l1_acc", "corruption_acc"),
    ),
}


@dataclass(frozen=True)
class Roles:
    """What each column of the table is (see the module docstring)."""

    config: tuple[str, ...]
    protocol: tuple[str, ...]
    block: str
    metrics: tuple[str, ...]
    lower_is_better: tuple[str, ...] = ()
    layout: str | None = None

    def higher_is_better(self, metric: str) -> bool:
        return metric not in self.lower_is_better

    @property
    def factors(self) -> tuple[str, ...]:
        """The role columns that identify a cell: config, protocol, block."""
        return (*self.config, *self.protocol, self.block)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": list(self.config),
            "protocol": list(self.protocol),
            "block": self.block,
            "metrics": list(self.metrics),
            "lower_is_better": list(self.lower_is_better),
            "layout": self.layout,
        }


def split_names(text: str | None) -> list[str] | None:
    """``"a, b"`` -> ``["a", "b"]``; ``None`` stays ``None`` (not given)."""
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def detect_layout(columns: Sequence[str]) -> str | None:
    """The first known layout whose factor columns and some metric the table has."""
    have = set(columns)
    for name, layout in LAYOUTS.items():
        factors = {*layout.config, *layout.protocol, layout.block}
        if factors <= have and any(m in have for m in layout.metrics):
            return name
    return None


def resolve_roles(
    table: pd.DataFrame,
    *,
    config: Sequence[str] | None = None,
    protocol: Sequence[str] | None = None,
    block: str | None = None,
    metrics: Sequence[str] | None = None,
    lower_is_better: Sequence[str] = (),
) -> Roles:
    """The roles from what was given (``None``: not given) and the table's layout."""
    columns = [str(c) for c in table.columns]
    name = detect_layout(columns)
    layout = LAYOUTS.get(name) if name else None

    def missing(flag: str) -> UserError:
        known = "; ".join(
            f"{n}: {', '.join((*lay.config, *lay.protocol, lay.block))}"
            for n, lay in LAYOUTS.items()
        )
        return UserError(
            f"{flag} is required: the table's columns match no known layout ({known})"
        )

    if config is None:
        if layout is None:
            raise missing("--config")
        config = layout.config
    if block is None:
        if layout is None:
            raise missing("--block")
        block = layout.block
    if metrics is None:
        if layout is None:
            raise missing("--metrics")
        metrics = tuple(m for m in layout.metrics if m in columns)
    if protocol is None:
        protocol = layout.protocol if layout is not None else ()
    roles = Roles(
        config=tuple(config),
        protocol=tuple(protocol),
        block=block,
        metrics=tuple(metrics),
        lower_is_better=tuple(lower_is_better),
        layout=name,
    )
    check_roles(table, roles)
    return roles


def _require(table: pd.DataFrame, flag: str, names: Sequence[str]) -> None:
    for name in names:
        if name not in table.columns:
            shown = ", ".join(map(str, table.columns[:20]))
            more = ", ..." if len(table.columns) > 20 else ""
            raise UserError(f"{flag}: no column {name!r} in the table (columns: {shown}{more})")


def check_roles(table: pd.DataFrame, roles: Roles) -> None:
    """Every named column exists and is in one role only."""
    given = [
        ("--config", roles.config),
        ("--protocol", roles.protocol),
        ("--block", (roles.block,)),
        ("--metrics", roles.metrics),
    ]
    for flag, names in given:
        if flag != "--protocol" and not names:
            raise UserError(f"{flag}: expected at least one column name")
        _require(table, flag, names)
        if len(set(names)) != len(names):
            dup = next(n for n in names if list(names).count(n) > 1)
            raise UserError(f"{flag} {dup}: given twice")
    seen: dict[str, str] = {}
    for flag, names in given:
        for name in names:
            if name in seen:
                raise UserError(f"{flag} {name}: already used by {seen[name]}")
            seen[name] = flag
    for name in roles.lower_is_better:
        if name not in roles.metrics:
            raise UserError(
                f"--lower-is-better {name}: not one of the metrics ({', '.join(roles.metrics)})"
            )


def numeric_column(table: pd.DataFrame, column: str, flag: str) -> pd.Series:
    """The column as floats (empty cells NaN); refuses text and infinities."""
    raw = table[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise UserError(
            f"{flag}: column {column!r} is not numeric (row {row + 1}: {raw.iloc[row]!r})"
        )
    values = values.astype(float)
    if np.isinf(values).any():
        row = int(np.flatnonzero(np.isinf(values.to_numpy()))[0])
        raise UserError(f"{flag}: column {column!r} has an infinite value (row {row + 1})")
    if values.isna().all():
        raise UserError(f"{flag}: column {column!r} is empty")
    return values


def check_varies(values: pd.Series, column: str, flag: str) -> None:
    """Refuses a constant metric: nothing to rank, test or correlate."""
    present = values.dropna()
    if present.nunique() < 2:
        raise UserError(
            f"{flag}: column {column!r} is constant (every run {present.iloc[0]:g}): "
            f"nothing to rank or test; drop it"
        )


def checked_table(table: pd.DataFrame, roles: Roles) -> pd.DataFrame:
    """A copy of the table with float metrics, once every check has passed."""
    check_roles(table, roles)
    if len(table) < 2:
        raise UserError(f"the table has {len(table)} row(s): nothing to compare")
    out = table.copy()
    for flag, names in (("--config", roles.config), ("--protocol", roles.protocol),
                        ("--block", (roles.block,))):
        for name in names:
            empty = out[name].isna()
            if empty.any():
                rows = ", ".join(str(i + 1) for i in np.flatnonzero(empty.to_numpy())[:5])
                raise UserError(f"{flag}: column {name!r} has empty cells (rows {rows})")
    for metric in roles.metrics:
        out[metric] = numeric_column(out, metric, "--metrics")
        check_varies(out[metric], metric, "--metrics")
    if labels(out, roles.config).nunique() < 2:
        raise UserError(
            f"--config: {', '.join(roles.config)} has one value: nothing to rank"
        )
    return out


def labels(table: pd.DataFrame, columns: Sequence[str], default: str = NO_PROTOCOL) -> pd.Series:
    """One label per row: the columns' values joined by ``/`` (``default`` for none)."""
    if not columns:
        return pd.Series(default, index=table.index, dtype=object)
    parts = [table[c].map(_text) for c in columns]
    out = parts[0]
    for part in parts[1:]:
        out = out + SEPARATOR + part
    return out.astype(object)


def _text(value: Any) -> str:
    """A factor value as text: ``50`` not ``50.0`` for a whole float read by pandas."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)
