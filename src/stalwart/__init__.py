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

from typing import Any

from stalwart.core import Config, InstanceResult, Status, instance_seed

# The Python API (stalwart.api) on first use, so that `import stalwart` stays light.
_LAZY = {"Study": "stalwart.api", "StudyResult": "stalwart.api", "Instance": "stalwart.trainers"}

__all__ = ["Config", "Instance", "InstanceResult", "Status", "Study", "StudyResult",
           "instance_seed"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'stalwart' has no attribute {name!r}")
__version__ = "0.1.0"
