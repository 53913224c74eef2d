"""stalwart: robust model selection for deep learning.

A model configuration is *robust* when its quality varies little across its instances
(runs that differ only in seed-driven randomness) and under input perturbations. Stalwart
trains instances, scores configurations by robustness criteria, and eliminates the weak
ones early so that the robust configuration is found with far fewer trainings than an
exhaustive search.

A study runs from the command line (``stalwart run spec.yaml``) or from Python, through the
same function::

    from stalwart.study import run

    done = run("spec.yaml")  # validate, open or resume the store, train, summarize
    print(done.summary.selection)
"""

from stalwart.core import Config, InstanceResult, Status, instance_seed

__all__ = ["Config", "InstanceResult", "Status", "instance_seed"]
__version__ = "0.1.0"
