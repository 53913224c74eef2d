"""Adversarial attacks in plain, batched torch, and a registry to build them by name.

>>> attack = make_attack("pgd_linf", eps=4 / 255, steps=20)
>>> attack.norm
'linf'
"""

from __future__ import annotations

import inspect
from typing import Any

from .apgd import APGD, checkpoint_iterations
from .apgdt import APGDT
from .autoattack import AutoAttack
from .base import Attack, dlr_loss, dlr_targeted_loss, project, robust_accuracy
from .fgsm import FGSM
from .pgd import PGD

#: Default radius per norm, for inputs in [0, 1] (the usual CIFAR-10 budgets; l1 from
#: "Mind the box").
DEFAULT_EPS: dict[str, float] = {"linf": 8 / 255, "l2": 0.5, "l1": 12.0}

#: name -> (class, fixed parameters). Fixed parameters define the name and cannot be
#: overridden through :func:`make_attack`.
ATTACKS: dict[str, tuple[type[Attack], dict[str, Any]]] = {
    "fgsm": (FGSM, {}),
    "pgd_linf": (PGD, {"norm": "linf"}),
    "pgd_l2": (PGD, {"norm": "l2"}),
    "apgd_ce_linf": (APGD, {"norm": "linf", "loss": "ce"}),
    "apgd_ce_l2": (APGD, {"norm": "l2", "loss": "ce"}),
    "apgd_dlr_linf": (APGD, {"norm": "linf", "loss": "dlr"}),
    "apgd_dlr_l2": (APGD, {"norm": "l2", "loss": "dlr"}),
    "apgd_l1": (APGD, {"norm": "l1", "loss": "ce"}),
    "apgd_t_linf": (APGDT, {"norm": "linf"}),
    "apgd_t_l2": (APGDT, {"norm": "l2"}),
    "apgd_t_l1": (APGDT, {"norm": "l1"}),
    "autoattack_linf": (AutoAttack, {"norm": "linf"}),
    "autoattack_l2": (AutoAttack, {"norm": "l2"}),
}


def attack_params(name: str) -> dict[str, Any]:
    """The tunable parameters of attack ``name`` and their defaults (``eps`` included)."""
    cls, fixed = _lookup(name)
    params: dict[str, Any] = {}
    for pname, p in inspect.signature(cls.__init__).parameters.items():
        if pname in ("self", *fixed) or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        params[pname] = None if p.default is inspect.Parameter.empty else p.default
    params["eps"] = DEFAULT_EPS[fixed.get("norm", "linf")]
    return params


def make_attack(name: str, **params: Any) -> Attack:
    """Build the attack registered as ``name``.

    Parameters
    ----------
    name:
        a key of :data:`ATTACKS`, e.g. ``"pgd_linf"`` or ``"autoattack_linf"``.
    **params:
        constructor arguments (``eps``, ``steps``, ``alpha``, ``seed``, ``input_range``...);
        ``eps`` defaults to :data:`DEFAULT_EPS` for the attack's norm.

    Raises
    ------
    ValueError
        for an unknown name, an unknown parameter or an attempt to override a fixed one.
    """
    cls, fixed = _lookup(name)
    allowed = attack_params(name)
    clash = sorted(set(params) & set(fixed))
    if clash:
        raise ValueError(f"attack {name!r} fixes {clash}; choose another attack name instead")
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown} for attack {name!r}; allowed: {sorted(allowed)}"
        )
    kwargs = {"eps": allowed["eps"], **fixed, **params}
    return cls(**kwargs)


def _lookup(name: str) -> tuple[type[Attack], dict[str, Any]]:
    try:
        return ATTACKS[name]
    except KeyError:
        raise ValueError(
            f"unknown attack {name!r}; known attacks: {', '.join(sorted(ATTACKS))}"
        ) from None


__all__ = [
    "APGD",
    "APGDT",
    "ATTACKS",
    "DEFAULT_EPS",
    "FGSM",
    "PGD",
    "Attack",
    "AutoAttack",
    "attack_params",
    "checkpoint_iterations",
    "dlr_loss",
    "dlr_targeted_loss",
    "make_attack",
    "project",
    "robust_accuracy",
]
