"""Robustness criteria: one number per config from the losses of its instances.

A criterion is a statistic of a config's instance values (losses, accuracies, ...).
It is *direction-aware*: ``direction="minimize"`` for a loss, ``"maximize"`` for an
accuracy. Two kinds exist:

* **level** criteria say how good the config is: ``mean``, ``median``, ``min``, ``max``,
  ``q1``, ``q3``, ``fence``, ``cvar``, ``worst``, ``mean_std``;
* **spread** criteria say how much the instances disagree: ``std``, ``iqr``, ``pd``.

Sort keys (lower is better)
---------------------------
``Criterion.key`` returns ``(primary, level)``; configs are ranked by the tuple, then by
their position in the config list.

* For a level criterion, ``primary`` is the value oriented so that lower is better: the
  value itself when minimizing, its negation when maximizing. ``min`` and ``max`` are
  literally the minimum and maximum: when minimizing a loss, ``max`` is the worst case
  and ``min`` the best case; when maximizing, their key is ``-value``.
* For a spread criterion, ``primary`` is the spread itself in both directions (less
  spread is more robust whether the metric is a loss or an accuracy).
* ``level`` is the *oriented mean* (the mean when minimizing, minus the mean when
  maximizing). It breaks ties: a constant model is perfectly robust by any spread
  criterion, so among equally spread configs the better one on average wins.
* ``primary`` is rounded to 6 significant digits, so that differences at the level of
  floating-point noise (the same spread computed from differently ordered sums) count
  as ties and the mean decides. A spread below ``1e-12`` times the sample's largest
  magnitude is set to 0: numpy's std of a constant sample is ~1e-17, not 0.
* A spread needs two values: with a single value it is undefined and ``primary`` is
  ``inf`` (one run says nothing about robustness), so such configs rank by mean after
  every config whose spread is known.

Failed instances
----------------
Non-finite values (NaN, and also +-inf: a diverged loss) mark failed instances. With
``failures="worst"`` (the default) a single failure makes the key ``(inf, inf)`` and the
value NaN: a config whose instances fail or diverge is not robust. With
``failures="ignore"`` failed instances are dropped; a config with no finite value left
gets the key ``(inf, inf)``.

Percentiles use numpy's linear interpolation between order statistics
(``np.percentile(..., method="linear")``, numpy's default, "type 7" of Hyndman & Fan).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from stalwart.checks import choice, first, number, unknown_keys
from stalwart.core import Direction

Failures = Literal["worst", "ignore"]
Kind = Literal["level", "spread"]
FAILURES: tuple[str, ...] = ("worst", "ignore")
DIRECTIONS: tuple[str, ...] = ("minimize", "maximize")

# A statistic sees a non-empty array of finite values and the direction.
Statistic = Callable[[np.ndarray, Direction], float]

_SIGNIFICANT_DIGITS = 6
_ZERO_SPREAD = 1e-12
_FAILED_KEY: tuple[float, float] = (math.inf, math.inf)


def check_direction(direction: str) -> Direction:
    """Return ``direction`` if it is ``minimize`` or ``maximize``; ValueError otherwise."""
    first(choice("direction", direction, DIRECTIONS, what="direction"))
    return direction  # type: ignore[return-value]


def check_failures(failures: str) -> Failures:
    """Return ``failures`` if it is ``worst`` or ``ignore``; ValueError otherwise."""
    first(choice("failures", failures, FAILURES, what="failure policy"))
    return failures  # type: ignore[return-value]


def orientation(direction: Direction) -> float:
    """+1 when minimizing, -1 when maximizing: multiply a level to make lower better."""
    return 1.0 if check_direction(direction) == "minimize" else -1.0


def round_significant(x: float, digits: int = _SIGNIFICANT_DIGITS) -> float:
    """``x`` rounded to ``digits`` significant digits (0 and non-finite values unchanged)."""
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


@dataclass(frozen=True)
class Criterion:
    """A named robustness statistic with its parameters.

    Use :func:`get_criterion` to build one. ``value`` gives the raw statistic (for
    reports), ``key`` the sort key (lower is better); see the module docstring.
    """

    name: str
    kind: Kind
    statistic: Statistic = field(compare=False, repr=False)
    params: Mapping[str, float] = field(default_factory=dict, hash=False)

    @property
    def label(self) -> str:
        """The name with its parameters, e.g. ``pd(upper=90, lower=10)``."""
        if not self.params:
            return self.name
        inner = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"{self.name}({inner})"

    def sign(self, direction: Direction) -> float:
        """The factor that turns :meth:`value` into the (unrounded) primary key."""
        return 1.0 if self.kind == "spread" else orientation(direction)

    def value(
        self, values: np.ndarray, direction: Direction, failures: Failures = "worst"
    ) -> float:
        """The raw statistic; NaN when failures make it undefined (see module docstring)."""
        x = _clean(values, failures)
        if x is None or (self.kind == "spread" and x.size < 2):
            return math.nan
        return float(self.statistic(x, direction))

    def key(
        self, values: np.ndarray, direction: Direction, failures: Failures = "worst"
    ) -> tuple[float, float]:
        """The sort key ``(primary, oriented mean)``: lower is better."""
        x = _clean(values, failures)
        if x is None:
            return _FAILED_KEY
        level = orientation(direction) * float(np.mean(x))
        if self.kind == "spread":
            if x.size < 2:
                return (math.inf, level)
            spread = float(self.statistic(x, direction))
            if spread <= _ZERO_SPREAD * float(np.max(np.abs(x))):
                spread = 0.0
            return (round_significant(spread), level)
        primary = self.sign(direction) * float(self.statistic(x, direction))
        return (round_significant(primary), level)


def _clean(values: np.ndarray, failures: Failures) -> np.ndarray | None:
    """The finite values to score, or None when the config counts as failed."""
    x = np.asarray(values, dtype=float).ravel()
    finite = np.isfinite(x)
    if check_failures(failures) == "worst" and not finite.all():
        return None
    x = x[finite]
    return x if x.size else None


# ---- statistics (on a non-empty array of finite values) -------------------------------
def _pct(x: np.ndarray, q: float) -> float:
    return float(np.percentile(x, q, method="linear"))


def _std(x: np.ndarray) -> float:
    # The sample standard deviation (ddof=1): instances are a sample of the seeds.
    return float(np.std(x, ddof=1))


def _worst(x: np.ndarray, d: Direction) -> float:
    return float(np.max(x) if d == "minimize" else np.min(x))


def _fence(x: np.ndarray, d: Direction) -> float:
    q1, q3 = _pct(x, 25), _pct(x, 75)
    return q3 + 1.5 * (q3 - q1) if d == "minimize" else q1 - 1.5 * (q3 - q1)


def _make_pd(upper: float = 90, lower: float = 10) -> Statistic:
    problems = [*number("pd.lower", lower, low=0, high=100),
                *number("pd.upper", upper, low=0, high=100)]
    if not problems and not lower < upper:
        problems.append(f"pd.lower: must be below pd.upper, got lower {lower:g}, upper {upper:g}")
    first(problems)
    return lambda x, d: _pct(x, upper) - _pct(x, lower)


def _make_cvar(alpha: float = 0.1) -> Statistic:
    first(number("cvar.alpha", alpha, low=0, high=1, low_open=True))

    def cvar(x: np.ndarray, d: Direction) -> float:
        # The worst ceil(alpha * n) values (at least one); the epsilon keeps 0.1 * 50
        # from becoming 6 through floating-point error.
        m = max(1, math.ceil(alpha * x.size - 1e-9))
        ordered = np.sort(x)
        worst = ordered[-m:] if d == "minimize" else ordered[:m]
        return float(np.mean(worst))

    return cvar


def _make_mean_std(k: float = 1) -> Statistic:
    first(number("mean_std.k", k, low=0))

    def mean_std(x: np.ndarray, d: Direction) -> float:
        s = _std(x) if x.size > 1 else 0.0
        return float(np.mean(x)) + (k * s if d == "minimize" else -k * s)

    return mean_std


def _fixed(stat: Statistic) -> Callable[[], Statistic]:
    return lambda: stat


@dataclass(frozen=True)
class CriterionSpec:
    """How to build a criterion: its kind, a factory taking the params, and a summary."""

    kind: Kind
    factory: Callable[..., Statistic]
    defaults: Mapping[str, float]
    summary: str


CRITERIA: dict[str, CriterionSpec] = {
    "mean": CriterionSpec("level", _fixed(lambda x, d: float(np.mean(x))), {}, "the mean"),
    "median": CriterionSpec("level", _fixed(lambda x, d: _pct(x, 50)), {}, "the median"),
    "min": CriterionSpec("level", _fixed(lambda x, d: float(np.min(x))), {}, "the minimum"),
    "max": CriterionSpec("level", _fixed(lambda x, d: float(np.max(x))), {}, "the maximum"),
    "q1": CriterionSpec("level", _fixed(lambda x, d: _pct(x, 25)), {}, "the 25th percentile"),
    "q3": CriterionSpec("level", _fixed(lambda x, d: _pct(x, 75)), {}, "the 75th percentile"),
    "fence": CriterionSpec(
        "level",
        _fixed(_fence),
        {},
        "pessimistic Tukey fence: Q3 + 1.5 IQR (min), Q1 - 1.5 IQR (max)",
    ),
    "cvar": CriterionSpec("level", _make_cvar, {"alpha": 0.1}, "mean of the worst alpha fraction"),
    "worst": CriterionSpec("level", _fixed(_worst), {}, "max when minimizing, min when maximizing"),
    "mean_std": CriterionSpec(
        "level", _make_mean_std, {"k": 1}, "mean + k std in the bad direction"
    ),
    "std": CriterionSpec("spread", _fixed(lambda x, d: _std(x)), {}, "sample std (ddof=1)"),
    "iqr": CriterionSpec(
        "spread", _fixed(lambda x, d: _pct(x, 75) - _pct(x, 25)), {}, "interquartile range Q3 - Q1"
    ),
    "pd": CriterionSpec(
        "spread", _make_pd, {"upper": 90, "lower": 10}, "percentile difference Q_upper - Q_lower"
    ),
}

ALIASES: dict[str, str] = {"q3_1.5iqr": "fence"}


def get_criterion(name: str, **params: float) -> Criterion:
    """Build the criterion ``name`` with ``params`` (see :data:`CRITERIA`).

    Raises
    ------
    ValueError
        for an unknown name or parameter, or an out-of-range parameter; the message names
        the criterion and the valid choices.
    """
    canonical = ALIASES.get(name.strip().lower(), name.strip().lower())
    if canonical not in CRITERIA:
        valid = ", ".join(sorted([*CRITERIA, *ALIASES]))
        raise ValueError(f"unknown criterion {name!r}; valid criteria: {valid}")
    spec = CRITERIA[canonical]
    first(unknown_keys(f"criterion {canonical!r}", params, list(spec.defaults)))
    merged: dict[str, float] = {}
    for k, default in spec.defaults.items():
        try:
            merged[k] = float(params.get(k, default))
        except (TypeError, ValueError):
            raise ValueError(f"{canonical}.{k}: must be a number, got {params[k]!r}") from None
    return Criterion(canonical, spec.kind, spec.factory(**merged), merged)


def as_criterion(criterion: Criterion | str) -> Criterion:
    """A criterion object from itself or its name."""
    return get_criterion(criterion) if isinstance(criterion, str) else criterion
