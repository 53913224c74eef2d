"""Training one instance of a config: seeds, loss, optimizer, evaluation, weights.

The entry point is :func:`train_instance`; the helpers :func:`seed_plan`,
:func:`subsample_indices` and :func:`initial_model` expose how an instance's randomness is
derived, so a caller (or a test) can check what each variation mode varies. What each
training batch minimises is a :class:`TrainingLoss` (the plain task loss by default, or
a robust loss of :mod:`stalwart.training.robust_losses` named by ``training_loss``).
"""

from stalwart.training.evaluation import predict
from stalwart.training.losses import TrainingLoss
from stalwart.training.objectives import Objective, objective_for
from stalwart.training.robust_losses import (
    ROBUST_LOSSES,
    AdversarialLoss,
    IntervalBoundLoss,
    Ramp,
    SensitivityLoss,
    TradesLoss,
    make_training_loss,
)
from stalwart.training.seeding import (
    VARIATIONS,
    SeedPlan,
    Variation,
    seed_plan,
    subsample_indices,
)
from stalwart.training.settings import (
    LOSSES,
    OPTIMIZERS,
    SCHEDULES,
    TRAINING_DEFAULTS,
    TRAINING_KEYS,
    TRAINING_LOSSES,
    TrainingSettings,
    check_training_config,
    check_training_fit,
)
from stalwart.training.trainer import initial_model, train_instance
from stalwart.training.weights import load_weights, save_weights

__all__ = [
    "LOSSES",
    "ROBUST_LOSSES",
    "TRAINING_LOSSES",
    "AdversarialLoss",
    "IntervalBoundLoss",
    "Ramp",
    "SensitivityLoss",
    "TradesLoss",
    "check_training_fit",
    "make_training_loss",
    "OPTIMIZERS",
    "SCHEDULES",
    "TRAINING_DEFAULTS",
    "TRAINING_KEYS",
    "VARIATIONS",
    "Objective",
    "SeedPlan",
    "TrainingLoss",
    "TrainingSettings",
    "Variation",
    "check_training_config",
    "initial_model",
    "load_weights",
    "objective_for",
    "predict",
    "save_weights",
    "seed_plan",
    "subsample_indices",
    "train_instance",
]
