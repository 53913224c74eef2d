"""Cells: the runs of one configuration under one protocol on one block, averaged.

A *cell* is a (protocol, config, block) triple. Several runs of a cell (seeds, repeats:
rows that differ only in columns outside the roles) are replicates and are averaged,
metric by metric, before any ranking; an empty metric cell of one run is left out of
that average, and a cell whose runs are all empty on a metric is *missing* on it.

The order of protocols, configurations and blocks is their order of first appearance in
the table, so that every output lists them as the table does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from stalwart.analysis.benchmark.jsonsafe import plain
from stalwart.analysis.benchmark.roles import Roles, labels

PROTOCOL, CONFIG, BLOCK, RUNS = "_protocol", "_config", "_block", "_runs"


@dataclass(frozen=True)
class Cells:
    """The averaged cells of a table, with the factor values behind each label."""

    frame: pd.DataFrame  # PROTOCOL, CONFIG, BLOCK, RUNS and one column per metric
    roles: Roles
    config_values: dict[str, dict[str, Any]]
    protocol_values: dict[str, dict[str, Any]]

    @property
    def protocols(self) -> list[str]:
        return list(dict.fromkeys(self.frame[PROTOCOL]))

    def blocks(self, protocol: str | None = None) -> list[str]:
        frame = self.frame if protocol is None else self.of(protocol)
        return list(dict.fromkeys(frame[BLOCK]))

    def of(self, protocol: str) -> pd.DataFrame:
        return self.frame[self.frame[PROTOCOL] == protocol]

    def matrix(self, protocol: str) -> pd.DataFrame:
        """Configs x (block, metric) of one protocol; NaN where a cell is missing."""
        frame = self.of(protocol)
        wide = frame.pivot(index=CONFIG, columns=BLOCK, values=list(self.roles.metrics))
        wide = wide.swaplevel(axis=1)  # (block, metric)
        columns = pd.MultiIndex.from_product([self.blocks(protocol), list(self.roles.metrics)])
        configs = list(dict.fromkeys(frame[CONFIG]))
        return wide.reindex(index=configs, columns=columns)


def build_cells(table: pd.DataFrame, roles: Roles) -> Cells:
    """Average the runs of every (protocol, config, block) cell of a checked table."""
    keyed = table.assign(
        **{
            PROTOCOL: labels(table, roles.protocol),
            CONFIG: labels(table, roles.config),
            BLOCK: labels(table, (roles.block,)),
        }
    )
    keys = [PROTOCOL, CONFIG, BLOCK]
    groups = keyed.groupby(keys, sort=False)
    frame = groups[list(roles.metrics)].mean().reset_index()
    frame[RUNS] = groups.size().to_numpy()
    return Cells(
        frame=frame,
        roles=roles,
        config_values=_values(keyed, CONFIG, roles.config),
        protocol_values=_values(keyed, PROTOCOL, roles.protocol),
    )


def _values(keyed: pd.DataFrame, label: str, columns: tuple[str, ...]) -> dict[str, dict]:
    firsts = keyed.drop_duplicates(label)
    return {
        str(row[label]): {c: plain(row[c]) for c in columns}
        for _, row in firsts.iterrows()
    }
