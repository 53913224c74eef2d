"""The calorimeter generator's physics parameters and their checks, free of numpy and torch.

Kept apart from :mod:`stalwart.data.calorimeter` so that a study spec's
``dataset.options`` can be checked (:mod:`stalwart.data.catalog`) without importing what
the generator needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from stalwart.checks import first, is_number
from stalwart.errors import DataError


def shower_problems(values: Mapping[str, Any], key: Callable[[str], str]) -> list[str]:
    """Problems of the shower parameters in ``values``, each ``"<key(name)>: <what>"``.

    Parameters
    ----------
    values:
        Parameter name -> value, every field of :class:`ShowerParams` present.
    key:
        Names a parameter in a message (``dataset.options.noise`` in a spec).
    """
    for name in SHOWER_FIELDS:
        value = values[name]
        if not is_number(value) or not math.isfinite(value) or value < 0:
            return [f"{key(name)}: must be a finite number >= 0, got {value!r}"]
    if not 0 < values["e_min"] < values["e_max"]:
        return [f"{key('e_min')}: needs 0 < e_min < e_max, got e_min={values['e_min']!r}, "
                f"e_max={values['e_max']!r}"]
    if not values["core_fraction"] <= 1:
        return [f"{key('core_fraction')}: must be in [0, 1], got {values['core_fraction']!r}"]
    for name in ("moliere_radius", "core_radius", "halo_radius"):
        if values[name] <= 0:
            return [f"{key(name)}: must be > 0, got {values[name]!r}"]
    # Impacts beyond the central 3x3 cells would let showers leak out of the window.
    if values["impact_halfwidth"] > 1.5:
        return [f"{key('impact_halfwidth')}: must be <= 1.5, got {values['impact_halfwidth']!r}"]
    return []


@dataclass(frozen=True)
class ShowerParams:
    """Physics parameters of the generator; see :mod:`stalwart.data.calorimeter`.

    Lengths are in cell units (radii in units of ``moliere_radius``), energies in GeV,
    ``stochastic_term`` in sqrt(GeV) (0.10 means 10%/sqrt(E)).
    """

    e_min: float = 1.0
    e_max: float = 100.0
    impact_halfwidth: float = 0.5
    moliere_radius: float = 1.0
    core_fraction: float = 0.85
    core_radius: float = 0.2
    halo_radius: float = 0.8
    radius_spread: float = 0.1
    stochastic_term: float = 0.10
    constant_term: float = 0.01
    noise: float = 0.02

    def __post_init__(self) -> None:
        first(shower_problems(asdict(self), lambda name: f"calorimeter option {name!r}"),
              DataError)
        for f in fields(self):
            object.__setattr__(self, f.name, float(getattr(self, f.name)))


SHOWER_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ShowerParams))
SHOWER_DEFAULTS: dict[str, float] = {f.name: f.default for f in fields(ShowerParams)}  # type: ignore[misc]
