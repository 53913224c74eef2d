"""Which keys of a flat config are not the model's: the training keys.

A config is one flat mapping. ``model`` and the family's architecture keys are read by
the model family, the training keys by the trainer (:mod:`stalwart.training.settings`, which
gives them their defaults, meanings and checks), and keys starting with ``_`` are free
annotations nobody reads. The model check must tell a training key from a typo such as
``widht``, so it needs their names; they are declared here, at the models layer, because
the models sit below the trainer and may not import it.
"""

from __future__ import annotations

#: The keys :mod:`stalwart.training` reads; model families leave them alone. The trainer's
#: defaults (:data:`stalwart.training.TRAINING_DEFAULTS`) have exactly these keys.
TRAINING_KEYS: frozenset[str] = frozenset({
    "optimizer",
    "lr",
    "batch_size",
    "epochs",
    "momentum",
    "nesterov",
    "betas",
    "eps",
    "weight_decay",
    "l2",
    "schedule",
    "patience",
    "restore_best",
    "grad_clip",
    "loss",
    "training_loss",
    "robust_eps",
    "robust_norm",
    "robust_warmup_epochs",
    "robust_ramp_epochs",
    "adv_attack",
    "adv_steps",
    "adv_step_size",
    "adv_random_start",
    "adv_model_mode",
    "trades_beta",
    "trades_attack",
    "sens_lambda",
    "ibp_kappa",
    "init_from",
    "finetune",
    "backbone_lr",
    "backbone_weight_decay",
    "decay_norm_bias",
    "memory_format",
})
