"""Robustness to input perturbations: attacks, corruptions, interval bounds, metrics.

- :mod:`.attacks`: FGSM, PGD (l_inf / l2), APGD (CE / DLR; l_inf / l2 / l1), APGD-T and
  an AutoAttack-style ensemble, built by name with :func:`make_attack`;
  :func:`robust_accuracy`.
- :mod:`.corruptions`: CIFAR-10-C-style corruptions and geometric transforms
  (:func:`corrupt`, :data:`CORRUPTIONS`, :func:`corruption_accuracy`).
- :mod:`.bounds`: the output-box :func:`log_sensitivity` and :func:`verified_accuracy`,
  built on the interval bound propagation of :mod:`stalwart.models.interval`
  (:func:`interval_bounds`, :class:`Residual`, :func:`register_interval_handler`, exported
  here too).
- :mod:`.metrics`: evaluators for studies (:func:`make_evaluator`, :data:`EVALUATORS`).
- :mod:`.eval_command`: :func:`evaluate_checkpoint`, the engine of ``stalwart eval``.
"""

from __future__ import annotations

from stalwart.models.interval import Residual, interval_bounds, register_interval_handler

from .attacks import (
    APGD,
    APGDT,
    ATTACKS,
    FGSM,
    PGD,
    Attack,
    AutoAttack,
    make_attack,
    robust_accuracy,
)
from .bounds import log_sensitivity, verified_accuracy
from .corruptions import CORRUPTIONS, corrupt, corruption_accuracy
from .eval_command import evaluate_checkpoint
from .metrics import EVALUATORS, evaluator_params, make_evaluator

__all__ = [
    "APGD",
    "APGDT",
    "ATTACKS",
    "CORRUPTIONS",
    "EVALUATORS",
    "FGSM",
    "PGD",
    "Attack",
    "AutoAttack",
    "Residual",
    "corrupt",
    "corruption_accuracy",
    "evaluate_checkpoint",
    "evaluator_params",
    "interval_bounds",
    "log_sensitivity",
    "make_attack",
    "make_evaluator",
    "register_interval_handler",
    "robust_accuracy",
    "verified_accuracy",
]
