"""Model selection strategies: which configs to train next, which to drop, which wins.

Every strategy is built on a :class:`~stalwart.selection.base.StrategySetup` (configs,
instances, criterion, direction, budget), follows the ask/tell contract of
:mod:`stalwart.selection.base` and scores configs by a robustness criterion from
:mod:`stalwart.selection.criteria`:

* ``exhaustive``: every config gets ``n_instances`` instances; the best wins;
* ``halving``: successive halving at the median (Algorithm 1 of the paper);
* ``racing``: statistical tests against the best by mean drop configs early;
* ``adaptive``: asynchronous racing on pooled-noise confidence bounds with a tolerance.
"""

from stalwart.core import Decision, Direction, Trial
from stalwart.selection.adaptive import Adaptive
from stalwart.selection.base import Strategy, StrategySetup
from stalwart.selection.criteria import CRITERIA, Criterion, Failures, get_criterion
from stalwart.selection.exhaustive import Exhaustive
from stalwart.selection.halving import Halving
from stalwart.selection.racing import Racing
from stalwart.selection.registry import STRATEGIES, make_strategy
from stalwart.selection.scored import ScoredStrategy, ranking
from stalwart.selection.significance import TESTS
from stalwart.selection.step import StepStrategy

__all__ = [
    "Adaptive",
    "CRITERIA",
    "STRATEGIES",
    "TESTS",
    "Criterion",
    "Decision",
    "Direction",
    "Exhaustive",
    "Failures",
    "Halving",
    "Racing",
    "ScoredStrategy",
    "StepStrategy",
    "Strategy",
    "StrategySetup",
    "Trial",
    "get_criterion",
    "make_strategy",
    "ranking",
]
