"""stalwart: robust model selection for deep learning.

A model configuration is *robust* when its quality varies little across its instances
(runs that differ only in seed-driven randomness) and under input perturbations. Stalwart
trains instances, scores configurations by robustness criteria, and eliminates the weak
ones early so that the robust configuration is found with far fewer trainings than an
exhaustive search.
"""

from stalwart.core import Config, InstanceResult, Status, instance_seed

__all__ = ["Config", "InstanceResult", "Status", "instance_seed"]
__version__ = "0.1.0"
