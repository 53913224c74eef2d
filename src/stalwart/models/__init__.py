"""Model families built from plain dict configs.

>>> from stalwart.models import build_model, count_parameters
>>> from stalwart.models.small_cnn import PAPER_CONFIGS
>>> count_parameters(build_model(PAPER_CONFIGS["energy_model_1"], (1, 15, 15), 1))
23923
"""

from stalwart.models.base import StalwartModel
from stalwart.models.flops import count_macs, training_flops
from stalwart.models.layers import ACTIVATIONS, INIT_SCHEMES, initialize, make_activation
from stalwart.models.registry import (
    MODEL_FAMILIES,
    build_model,
    check_model_config,
    count_parameters,
    register_family,
)
from stalwart.models.small_cnn import PAPER_CONFIGS
from stalwart.models.spec import ModelFamily

__all__ = [
    "ACTIVATIONS",
    "INIT_SCHEMES",
    "MODEL_FAMILIES",
    "PAPER_CONFIGS",
    "ModelFamily",
    "StalwartModel",
    "build_model",
    "check_model_config",
    "count_macs",
    "count_parameters",
    "initialize",
    "make_activation",
    "register_family",
    "training_flops",
]
