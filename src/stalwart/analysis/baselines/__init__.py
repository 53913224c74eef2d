"""Model-selection baselines replayed on a result table, at a given trainings budget.

Each baseline treats one *model* (config) evaluated on ``n`` instances as the unit of a
hyperparameter search, spends at most ``budget`` trainings (instances) and returns the
same :class:`~stalwart.analysis.outcome.ReplayOutcome` as a strategy replay, so the
summaries are shared.

* ``random`` (:mod:`~stalwart.analysis.baselines.random_search`): uniform sampling of
  whole models;
* ``tpe`` (:mod:`~stalwart.analysis.baselines.tpe`): Optuna's TPE sampler over the
  table's hyperparameter space, one trial = one model;
* ``tpe_wilcoxon`` (:mod:`~stalwart.analysis.baselines.tpe_wilcoxon`): the same with
  Optuna's ``WilcoxonPruner``, instances as pruner steps.

:data:`~stalwart.analysis.baselines.registry.BASELINES` names them; the evaluator, the
search space and the optuna import they share are in ``_shared``.
"""

from stalwart.analysis.baselines._shared import SearchSpace
from stalwart.analysis.baselines.random_search import random_search
from stalwart.analysis.baselines.registry import BASELINES, baseline_params, run_baseline
from stalwart.analysis.baselines.tpe import tpe_search
from stalwart.analysis.baselines.tpe_wilcoxon import tpe_wilcoxon_search

__all__ = [
    "BASELINES",
    "SearchSpace",
    "baseline_params",
    "random_search",
    "run_baseline",
    "tpe_search",
    "tpe_wilcoxon_search",
]
