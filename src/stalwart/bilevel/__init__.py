"""The set of near-optimal trainings: pessimistic tuning and the minima of a landscape.

A tuner scores a hyperparameter by *one* training, but many trainings are almost equally
good on the training set. This package looks at that whole set.

- Linear classifiers (exact, convex): for L2-regularised logistic regression or a linear
  SVM with strength ``lam``, the eps-optimal set ``S_eps = {f <= min f + eps}`` of the
  training objective; its optimistic (best on validation), pessimistic (worst, by the
  flipped-label relaxation of Ustun, Xu, Zeng and Qian, "Hyperparameter Tuning Through
  Pessimistic Bilevel Optimization", arXiv 2412.03666) and plain (the minimiser) members
  (:mod:`.linear`); grid and golden-section search of ``lam`` for each (:mod:`.tuning`);
  sampling ``S_eps`` to measure how far the relaxation is from the true worst case
  (:mod:`.sampling`); test error under Gaussian noise and exact worst-case l_inf
  perturbations (:mod:`.perturbed`).
- Small networks (non-convex): basin-hopping over the weights, a catalogue of distinct
  minima with their interval-bound sensitivity (arXiv 1810.11726), its rank correlation
  with the training loss, and a figure (:mod:`.landscape`; imported on its own, it
  needs torch and matplotlib).

Layering: this package uses ``errors``, ``checks`` and, in :mod:`.landscape`,
``models.interval``.
"""

from __future__ import annotations

from .linear import LOSSES, MODES, LinearBilevel, Member, pointwise_loss
from .perturbed import linear_error, noisy_test_set, perturbed_error
from .sampling import SAMPLERS, RelaxationGap, Samples, relaxation_gap, sample_sublevel_set
from .tuning import (
    CRITERIA,
    SearchResult,
    golden_search,
    grid_search,
    grid_search_all,
    log_grid,
)

__all__ = [
    "CRITERIA",
    "LOSSES",
    "MODES",
    "SAMPLERS",
    "LinearBilevel",
    "Member",
    "RelaxationGap",
    "Samples",
    "SearchResult",
    "golden_search",
    "grid_search",
    "grid_search_all",
    "linear_error",
    "log_grid",
    "noisy_test_set",
    "perturbed_error",
    "pointwise_loss",
    "relaxation_gap",
    "sample_sublevel_set",
]
