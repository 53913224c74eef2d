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

Near-optimal instances (pessimistic selection)
----------------------------------------------
Pessimistic bilevel tuning (arXiv 2412.03666) scores a hyperparameter by the *worst*
validation loss over its epsilon-optimal trained models (training loss within epsilon of
the best), not by the luckiest one. A config's instances approximate that set, so every
criterion takes an option that restricts its sample to them (:class:`NearOptimal`):

* ``near_optimal: eps``: keep the instances whose training loss is at most the config's
  best training loss plus ``eps`` (training-loss units);
* ``near_optimal_relative: r``: the slack is ``r`` times the best training loss (its
  absolute value), e.g. 0.05 keeps the instances within 5% of the best.

At most one of them; ``criterion: {name: worst, near_optimal_relative: 0.05}`` in a spec.
:func:`near_optimal_mask` is the rule, applied before the statistic (and before the
failure policy, which decides as before):

* a failed instance (non-finite value) is always kept, and its training loss does not
  count for the best: the failure policy, not its training loss, decides what it means;
* an instance whose training loss is unknown (None, NaN or infinite: a user trainer
  that reports none, a diverged training) is kept: nothing shows it is far from optimal,
  and keeping it errs on the pessimistic side; a config with no known training loss is
  scored on all its instances, exactly as without the option;
* the best training loss itself and every tie with it are always kept, so a config with
  a finished instance keeps at least one finished instance;
* the threshold is compared with a relative tolerance of ``1e-12``, so that a training
  loss at exactly ``best + eps`` is not dropped by floating-point error.

The criterion carries the option (:attr:`Criterion.near_optimal`); callers that hold the
training losses apply it with :meth:`Criterion.sample` (the strategies, the full-table
:func:`~stalwart.selection.scored.ranking`, the study summary, the replays).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
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
_NEAR_TOLERANCE = 1e-12

#: the criterion options that restrict a config's sample to its near-optimal instances.
NEAR_OPTIMAL_KEYS: tuple[str, ...] = ("near_optimal", "near_optimal_relative")


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


def near_optimal_mask(
    train_losses: np.ndarray | list[float],
    slack: float,
    relative: bool = False,
    values: np.ndarray | list[float] | None = None,
) -> np.ndarray:
    """Which instances of one config are near-optimal: a boolean array, True = kept.

    Parameters
    ----------
    train_losses:
        each instance's training loss; NaN (or any non-finite number) when unknown.
    slack:
        ``eps >= 0``: the most an instance's training loss may exceed the best one.
    relative:
        the slack is a fraction of the best training loss (``eps * |best|``).
    values:
        the instances' metric values, aligned with ``train_losses``; an instance whose
        value is non-finite (failed) is kept and does not count for the best.

    See the module docstring for the rule. Pure: the same arrays give the same mask in
    any order of the instances.

    >>> near_optimal_mask([0.10, 0.12, 0.30, float("nan")], 0.05).tolist()
    [True, True, False, True]
    >>> near_optimal_mask([0.10, 0.12, 0.30], 0.1, relative=True).tolist()
    [True, False, False]
    """
    losses = np.asarray(train_losses, dtype=float).ravel()
    known = np.isfinite(losses)
    if values is not None:
        x = np.asarray(values, dtype=float).ravel()
        if x.shape != losses.shape:
            raise ValueError("values and train_losses must have the same length")
        finished = np.isfinite(x)
    else:
        finished = np.ones(losses.shape, dtype=bool)
    candidates = known & finished
    if not candidates.any():
        return np.ones(losses.shape, dtype=bool)
    best = float(np.min(losses[candidates]))
    threshold = best + (slack * abs(best) if relative else slack)
    within = np.zeros(losses.shape, dtype=bool)
    within[known] = losses[known] <= threshold + _NEAR_TOLERANCE * max(abs(threshold), 1e-300)
    return ~candidates | within


@dataclass(frozen=True)
class NearOptimal:
    """Restrict a config's sample to its near-optimal instances (see the module docstring).

    ``slack`` is in training-loss units, or a fraction of the best training loss when
    ``relative``.
    """

    slack: float
    relative: bool = False

    @property
    def key(self) -> str:
        """The option's name in a spec: ``near_optimal`` or ``near_optimal_relative``."""
        return NEAR_OPTIMAL_KEYS[1] if self.relative else NEAR_OPTIMAL_KEYS[0]

    @property
    def label(self) -> str:
        return f"{self.key}={self.slack:g}"

    def mask(
        self, train_losses: np.ndarray | list[float], values: np.ndarray | list[float] | None = None
    ) -> np.ndarray:
        """:func:`near_optimal_mask` with this slack."""
        return near_optimal_mask(train_losses, self.slack, self.relative, values)


def check_near_optimal(params: Mapping[str, object], prefix: str = "") -> list[str]:
    """Problems with the ``near_optimal*`` entries of ``params`` (others are ignored).

    Each is a number >= 0, and at most one of them is given. ``prefix`` goes before the
    key in the messages (``"criterion."`` for a spec).
    """
    given = [k for k in NEAR_OPTIMAL_KEYS if k in params]
    problems = [p for k in given for p in number(f"{prefix}{k}", params[k], low=0)]
    if len(given) > 1:
        problems.append(
            f"{prefix}{given[1]}: give one of {' or '.join(NEAR_OPTIMAL_KEYS)}, not both"
        )
    return problems


@dataclass(frozen=True)
class Criterion:
    """A named robustness statistic with its parameters.

    Use :func:`get_criterion` to build one. ``value`` gives the raw statistic (for
    reports), ``key`` the sort key (lower is better); see the module docstring.
    ``near_optimal`` (None: off) restricts a config's sample to its near-optimal
    instances; ``value`` and ``key`` take the sample already restricted: callers that
    hold training losses restrict it with :meth:`sample`.
    """

    name: str
    kind: Kind
    statistic: Statistic = field(compare=False, repr=False)
    params: Mapping[str, float] = field(default_factory=dict, hash=False)
    near_optimal: NearOptimal | None = None

    @property
    def label(self) -> str:
        """The name with its parameters, e.g. ``pd(upper=90, lower=10)`` or
        ``worst(near_optimal_relative=0.05)``."""
        parts = [f"{k}={v:g}" for k, v in self.params.items()]
        if self.near_optimal is not None:
            parts.append(self.near_optimal.label)
        return f"{self.name}({', '.join(parts)})" if parts else self.name

    @property
    def spec_params(self) -> dict[str, float]:
        """The parameters as a spec (or :func:`get_criterion`) spells them, the
        near-optimal option included: ``get_criterion(c.name, **c.spec_params) == c``."""
        out = dict(self.params)
        if self.near_optimal is not None:
            out[self.near_optimal.key] = self.near_optimal.slack
        return out

    def without_near_optimal(self) -> Criterion:
        """The same statistic on every instance."""
        return self if self.near_optimal is None else replace(self, near_optimal=None)

    def sample(
        self, values: np.ndarray | list[float], train_losses: np.ndarray | list[float] | None
    ) -> np.ndarray:
        """The instance values this criterion scores, in the given order: all of them
        without ``near_optimal``, else those :func:`near_optimal_mask` keeps.

        ``train_losses`` is aligned with ``values`` (NaN: unknown). It may be None only
        without ``near_optimal``.

        Raises
        ------
        ValueError
            ``near_optimal`` without training losses, or arrays of different lengths.
        """
        x = np.asarray(values, dtype=float).ravel()
        if self.near_optimal is None:
            return x
        if train_losses is None:
            raise ValueError(
                f"criterion {self.label}: the near-optimal sample needs the instances' "
                "training losses"
            )
        return x[self.near_optimal.mask(train_losses, x)]

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

    Besides the statistic's own parameters, every criterion takes one of
    ``near_optimal`` / ``near_optimal_relative`` (see the module docstring).

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
    own = [k for k in params if k not in NEAR_OPTIMAL_KEYS]
    first([f"{problem}; every criterion also takes {' or '.join(NEAR_OPTIMAL_KEYS)}"
           for problem in unknown_keys(f"criterion {canonical!r}", own, list(spec.defaults))])
    first(check_near_optimal(params))
    near = next(
        (NearOptimal(float(params.pop(k)), relative=k == NEAR_OPTIMAL_KEYS[1])
         for k in NEAR_OPTIMAL_KEYS if k in params),
        None,
    )
    merged: dict[str, float] = {}
    for k, default in spec.defaults.items():
        try:
            merged[k] = float(params.get(k, default))
        except (TypeError, ValueError):
            raise ValueError(f"{canonical}.{k}: must be a number, got {params[k]!r}") from None
    return Criterion(canonical, spec.kind, spec.factory(**merged), merged, near)


def as_criterion(criterion: Criterion | str) -> Criterion:
    """A criterion object from itself or its name."""
    return get_criterion(criterion) if isinstance(criterion, str) else criterion
