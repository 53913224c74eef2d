"""Robust training losses: adversarial training, TRADES, sensitivity, interval bounds.

Each is one :class:`~stalwart.training.losses.TrainingLoss` subclass chosen by the config
key ``training_loss`` (the keys, defaults and checks are in
:mod:`stalwart.training.settings`); :func:`make_training_loss` builds the one a config
names. Notation: ``f`` the model (train mode unless said), ``x, y`` the batch, ``CE`` the
cross-entropy, ``r`` in ``[0, 1]`` the ramp factor (0 during ``robust_warmup_epochs``, then
linear, batch by batch, over ``robust_ramp_epochs``, then 1; see :class:`Ramp`),
``eps = r * robust_eps``.

``task`` (:class:`~stalwart.training.losses.TrainingLoss`)
    ``objective.loss(f(x), y)``.
``at`` (:class:`AdversarialLoss`)
    ``CE(f(x_adv), y)`` with ``x_adv`` the inner attack's (``adv_attack``: PGD or APGD,
    ``robust_norm`` l_inf or l2, ``adv_steps``, ``adv_step_size``, ``adv_random_start``)
    maximiser of ``CE(f(x'), y)`` over the ``eps`` ball intersected with the input box, the
    model in ``adv_model_mode`` (eval by default) during the attack. Madry et al. (2018).
``trades`` (:class:`TradesLoss`)
    ``CE(f(x), y) + beta * mean_i KL(p(x_i) || p(x_adv_i))`` with ``p = softmax(f)`` and
    ``beta = r * trades_beta``; the gradient flows through both terms. ``trades_attack: kl``
    (Zhang et al., 2019) maximises ``KL(p_m(x) || p_m(x'))`` with ``p_m`` the model in
    ``adv_model_mode``, from ``x + 0.001 N(0, 1)`` when ``adv_random_start`` is false (the
    paper's start; at ``x`` itself the KL's gradient is zero); ``ce`` maximises
    ``CE(f(x'), y)`` as adversarial training does (the variant of the robust fine-tuning
    benchmark). With ``beta = 0`` no attack is run and the loss is ``CE(f(x), y)``.
``sensitivity`` (:class:`SensitivityLoss`)
    ``objective.loss(f(x), y) + lambda * mean_i sum_k log(max(u_ik - l_ik, 1e-12))`` with
    ``[l_i, u_i]`` the interval-bound (IBP) box of the model's outputs over the l_inf box
    ``[x_i - eps, x_i + eps]`` clipped to the input range (differentiable in the weights;
    features held fixed), ``lambda = r * sens_lambda``: the log-volume sensitivity of
    arXiv 1810.11726, for classifiers (logits) and regressors (outputs in target units)
    alike. The bounds describe the model in eval mode (BatchNorm on running statistics,
    dropout off), as the ``log_sensitivity`` metric measures it.
``ibp`` (:class:`IntervalBoundLoss`)
    ``kappa * CE(f(x), y) + (1 - kappa) * CE(z, y)`` with ``z`` the worst-case logits of the
    IBP box at ``eps`` (``z_y = l_y``, ``z_j = u_j`` for ``j != y``) and
    ``kappa = 1 - r * (1 - ibp_kappa)``: Gowal et al. (2018), kappa ramping from 1 to
    ``ibp_kappa`` while eps ramps from 0 to ``robust_eps``.

Training curves: every loss logs per-batch values that the trainer averages per epoch
into the instance's metrics as ``epoch<e>.<name>`` (see :mod:`stalwart.training.trainer`):
``strength`` (the ramp factor r, averaged over the epoch's batches) and, per loss,
``clean_loss``, ``clean_acc`` (``at``: on the first :data:`CLEAN_ROWS` rows of each batch, the
model in eval mode, as the loss does not compute clean outputs itself),
``adv_loss``/``adv_acc`` (at the inner attack's points, train mode), ``kl``,
``log_volume``, ``verified_loss``/``verified_acc`` (IBP box certified correct).

Layering: the inner attacks are :mod:`stalwart.training.inner`, in this layer, not the
evaluation attacks of :mod:`stalwart.robustness.attacks` one layer up; a test checks that
the PGD of both gives the same points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from stalwart.models.modes import in_mode
from stalwart.training.inner import maximise
from stalwart.training.losses import TrainingLoss
from stalwart.training.objectives import Objective
from stalwart.training.settings import TrainingSettings

#: Rows of each batch the adversarial-training loss measures its clean accuracy curve on.
CLEAN_ROWS = 32

#: The smallest output-box width the log-volume counts (as ``robustness.bounds``).
LOG_VOLUME_FLOOR = 1e-12


@dataclass(frozen=True)
class Ramp:
    """The strength factor in ``[0, 1]`` after ``progress`` epochs of training.

    0 during the first ``warmup`` epochs, then linear over ``ramp`` epochs, then 1.
    """

    warmup: int = 0
    ramp: int = 0

    def __call__(self, progress: float) -> float:
        t = progress - self.warmup
        if t < 0:
            return 0.0
        if self.ramp <= 0:
            return 1.0
        return min(1.0, t / self.ramp)


class RobustLoss(TrainingLoss):
    """Shared parts: the settings, the ramp, the input box and a private generator."""

    name = "robust"

    def __init__(self, objective: Objective, settings: TrainingSettings, *, seed: int = 0,
                 input_range: tuple[float, float] = (0.0, 1.0)) -> None:
        super().__init__(objective)
        self.settings = settings
        self.ramp = Ramp(settings.robust_warmup_epochs, settings.robust_ramp_epochs)
        self.input_range = (float(input_range[0]), float(input_range[1]))
        self.seed = int(seed)
        self._generator: torch.Generator | None = None

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(objective={self.objective.name!r}, "
                f"eps={self.settings.robust_eps:g})")

    @property
    def strength(self) -> float:
        """The ramp factor r at the current progress."""
        return self.ramp(self.progress)

    @property
    def eps(self) -> float:
        """The radius in effect: ``r * robust_eps``."""
        return self.strength * self.settings.robust_eps

    def generator(self, device: torch.device) -> torch.Generator:
        """A private generator on ``device`` (random starts), seeded once per loss."""
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device=device)
            self._generator.manual_seed(self.seed)
        return self._generator

    def _clean_acc(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   features: torch.Tensor | None) -> None:
        """Log the clean accuracy (eval mode) on the batch's first ``CLEAN_ROWS`` rows: a
        curve, kept to a quarter of a forward pass of cost per batch."""
        rows = slice(0, CLEAN_ROWS)
        f = None if features is None else features[rows]
        with in_mode(model, "eval"), torch.no_grad():
            self.log("clean_acc", _accuracy(model(x[rows], f), y[rows]), len(y[rows]))

    def _attack(self, model: nn.Module, x: torch.Tensor, objective: Callable, *,
                start: torch.Tensor | None = None) -> torch.Tensor:
        s = self.settings
        # The attack needs input gradients only: the weights are frozen meanwhile (the
        # graph then holds no weight paths), and their flags restored after.
        trainable = [q for q in model.parameters() if q.requires_grad]
        try:
            for q in trainable:
                q.requires_grad_(False)
            with in_mode(model, s.adv_model_mode):  # type: ignore[arg-type]
                return maximise(s.adv_attack, objective, x, eps=self.eps, norm=s.robust_norm,
                                steps=s.adv_steps, step_size=s.adv_step_size,
                                random_start=s.adv_random_start and start is None,
                                generator=self.generator(x.device),
                                input_range=self.input_range, start=start)
        finally:
            for q in trainable:
                q.requires_grad_(True)

    def _box(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        low, high = self.input_range
        return (x - self.eps).clamp(low, high), (x + self.eps).clamp(low, high)


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (logits.detach().argmax(1) == y).float().mean()


class AdversarialLoss(RobustLoss):
    """``CE(f(x_adv), y)``: adversarial training (Madry et al., 2018); see the module."""

    name = "at"

    def batch_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                   features: torch.Tensor | None = None) -> torch.Tensor:
        self.log("strength", self.strength, 1)
        self._clean_acc(model, x, y, features)
        if self.eps <= 0:  # warm-up: the task loss
            logits = model(x, features)
            loss = F.cross_entropy(logits, y)
            self.log("clean_loss", loss, len(y))
            return loss

        def objective(z: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(model(z, features), y, reduction="none")

        x_adv = self._attack(model, x, objective)
        logits = model(x_adv, features)
        loss = F.cross_entropy(logits, y)
        self.log("adv_loss", loss, len(y))
        self.log("adv_acc", _accuracy(logits, y), len(y))
        return loss


class TradesLoss(RobustLoss):
    """``CE(f(x), y) + beta KL(p(x) || p(x_adv))``: TRADES (Zhang et al., 2019)."""

    name = "trades"

    @property
    def beta(self) -> float:
        """The weight in effect: ``r * trades_beta``."""
        return self.strength * self.settings.trades_beta

    def batch_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                   features: torch.Tensor | None = None) -> torch.Tensor:
        self.log("strength", self.strength, 1)
        if self.eps <= 0 or self.beta <= 0:
            logits = model(x, features)
            loss = F.cross_entropy(logits, y)
            self.log("clean_loss", loss, len(y))
            self.log("clean_acc", _accuracy(logits, y), len(y))
            return loss
        start = None
        if self.settings.trades_attack == "kl":
            with in_mode(model, self.settings.adv_model_mode), torch.no_grad():  # type: ignore[arg-type]
                p_clean = F.softmax(model(x, features), dim=1)

            def objective(z: torch.Tensor) -> torch.Tensor:
                log_p = F.log_softmax(model(z, features), dim=1)
                return (p_clean * (p_clean.clamp_min(1e-30).log() - log_p)).sum(1)

            if not self.settings.adv_random_start:
                noise = torch.randn(x.shape, generator=self.generator(x.device),
                                    device=x.device, dtype=x.dtype)
                start = x + 0.001 * noise
        else:
            def objective(z: torch.Tensor) -> torch.Tensor:
                return F.cross_entropy(model(z, features), y, reduction="none")

        x_adv = self._attack(model, x, objective, start=start)
        logits = model(x, features)
        logits_adv = model(x_adv, features)
        clean = F.cross_entropy(logits, y)
        kl = F.kl_div(F.log_softmax(logits_adv, dim=1), F.log_softmax(logits, dim=1),
                      reduction="batchmean", log_target=True)
        n = len(y)
        self.log("clean_loss", clean, n)
        self.log("clean_acc", _accuracy(logits, y), n)
        self.log("kl", kl, n)
        self.log("adv_acc", _accuracy(logits_adv, y), n)
        return clean + self.beta * kl


class SensitivityLoss(RobustLoss):
    """Task loss + ``lambda`` * mean log-volume of the IBP output box (arXiv 1810.11726)."""

    name = "sensitivity"

    @property
    def lam(self) -> float:
        """The weight in effect: ``r * sens_lambda``."""
        return self.strength * self.settings.sens_lambda

    def log_volume(self, model: nn.Module, x: torch.Tensor,
                   features: torch.Tensor | None = None) -> torch.Tensor:
        """Per-sample log-volume ``(N,)`` of the output box at the current eps (differentiable)."""
        lower, upper = model.interval_forward(*self._box(x), features)
        return (upper - lower).clamp_min(LOG_VOLUME_FLOOR).log().reshape(len(x), -1).sum(1)

    def batch_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                   features: torch.Tensor | None = None) -> torch.Tensor:
        self.log("strength", self.strength, 1)
        pred = model(x, features)
        task = self.objective.loss(pred, y)
        n = len(x)
        self.log("clean_loss", task, n)
        if self.objective.metric == "accuracy":
            self.log("clean_acc", _accuracy(pred, y), n)
        if self.eps <= 0 or self.lam <= 0:
            return task
        volume = self.log_volume(model, x, features).mean()
        self.log("log_volume", volume, n)
        return task + self.lam * volume


class IntervalBoundLoss(RobustLoss):
    """``kappa CE(f(x), y) + (1 - kappa) CE(z_worst, y)``: IBP training (Gowal et al., 2018)."""

    name = "ibp"

    @property
    def kappa(self) -> float:
        """The clean weight in effect: ``1 - r * (1 - ibp_kappa)``."""
        return 1.0 - self.strength * (1.0 - self.settings.ibp_kappa)

    def worst_logits(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                     features: torch.Tensor | None = None) -> torch.Tensor:
        """``(N, K)`` worst-case logits over the box at eps (differentiable).

        With the model's ``interval_split`` (the box before its final linear layer and that
        layer), the final layer is elided as in Gowal et al.: ``z_j = -lower bound of
        (logit_y - logit_j)``, 0 in the label's column; otherwise ``z_j = u_j`` and
        ``z_y = l_y`` from the output box.
        """
        lower_in, upper_in = self._box(x)
        split = getattr(model, "interval_split", None)
        if callable(split):
            box, weight, bias = split(lower_in, upper_in, features)
            center, radius = box.center_radius()
            diff = weight[y].unsqueeze(1) - weight.unsqueeze(0)  # (N, K, D): w_y - w_j
            margin = ((diff @ center.unsqueeze(2)).squeeze(2)
                      - (diff.abs() @ radius.unsqueeze(2)).squeeze(2))
            if bias is not None:
                margin = margin + bias[y].unsqueeze(1) - bias.unsqueeze(0)
            return -margin
        lower, upper = model.interval_forward(lower_in, upper_in, features)
        is_y = F.one_hot(y, upper.shape[1]).bool()
        return torch.where(is_y, lower, upper)

    def batch_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                   features: torch.Tensor | None = None) -> torch.Tensor:
        self.log("strength", self.strength, 1)
        logits = model(x, features)
        clean = F.cross_entropy(logits, y)
        n = len(y)
        self.log("clean_loss", clean, n)
        self.log("clean_acc", _accuracy(logits, y), n)
        if self.eps <= 0:
            return clean
        worst = self.worst_logits(model, x, y, features)
        verified = F.cross_entropy(worst, y)
        self.log("verified_loss", verified, n)
        self.log("verified_acc", _accuracy(worst, y), n)
        return self.kappa * clean + (1.0 - self.kappa) * verified


def has_interval_bounds(model: nn.Module, x: torch.Tensor,
                        features: torch.Tensor | None = None) -> bool:
    """Whether ``model`` propagates interval bounds (probed on the first row of ``x``)."""
    if not callable(getattr(model, "interval_forward", None)):
        return False
    try:
        with in_mode(model, "eval"), torch.no_grad():
            model.interval_forward(x[:1], x[:1], None if features is None else features[:1])
    except TypeError:
        return False
    return True


#: ``training_loss`` -> its class (``task`` is the plain :class:`TrainingLoss`).
ROBUST_LOSSES: dict[str, type[RobustLoss]] = {
    "at": AdversarialLoss,
    "trades": TradesLoss,
    "sensitivity": SensitivityLoss,
    "ibp": IntervalBoundLoss,
}


def make_training_loss(settings: TrainingSettings, objective: Objective, *, seed: int = 0,
                       input_range: tuple[float, float] = (0.0, 1.0)) -> TrainingLoss:
    """The training loss a config's ``training_loss`` names, built on ``objective``.

    Parameters
    ----------
    settings:
        The config's training settings (checked).
    objective:
        The task's loss and metric.
    seed:
        Seeds the loss's private generator (random starts of the inner attack).
    input_range:
        The dataset's box of valid inputs: attacks and interval boxes stay inside it.
    """
    if settings.training_loss == "task":
        return TrainingLoss(objective)
    return ROBUST_LOSSES[settings.training_loss](objective, settings, seed=seed,
                                                 input_range=input_range)
