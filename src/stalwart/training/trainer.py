"""Train one instance of a config: the unit of work of every study.

``train_instance`` never raises on a bad config, a diverging run or a crash: the outcome
is always an :class:`~stalwart.core.InstanceResult` whose ``status`` says which
(``ok`` / ``diverged`` / ``failed``), so a study of thousands of instances keeps going.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from stalwart.core import Config, InstanceResult, instance_seed
from stalwart.data.base import Dataset
from stalwart.models import StalwartModel, build_model, check_model_config, count_parameters
from stalwart.models.layout import fast_memory_format, lay_out_weights
from stalwart.training.evaluation import predict
from stalwart.training.finetune import (
    backbone_to_eval,
    freeze_backbone,
    load_backbone,
    parameter_groups,
)
from stalwart.training.losses import TrainingLoss
from stalwart.training.objectives import Objective, objective_for, output_affine
from stalwart.training.optim import l2_penalty, make_optimizer, make_schedule
from stalwart.training.robust_losses import has_interval_bounds, make_training_loss
from stalwart.training.seeding import SeedPlan, Variation, generator, seed_plan, subsample_indices
from stalwart.training.settings import (
    TrainingSettings,
    check_training_config,
    check_training_fit,
)
from stalwart.training.torch_state import torch_settings
from stalwart.training.weights import WEIGHTS_SUFFIX, save_weights

Evaluator = Callable[[nn.Module, Dataset], Mapping[str, float]]


class _Diverged(Exception):
    """Internal signal: a loss or metric became NaN/inf."""


@dataclass
class _Split:
    """One split's tensors on the training device."""

    x: torch.Tensor
    y: torch.Tensor
    features: torch.Tensor | None

    def __len__(self) -> int:
        return int(self.x.shape[0])


def _n_outputs(dataset: Dataset) -> int:
    if dataset.kind == "classification":
        if dataset.n_classes is not None:
            return int(dataset.n_classes)
        return int(dataset.y_train.max()) + 1
    return int(dataset.y_train.shape[1]) if dataset.y_train.ndim > 1 else 1


def _feature_columns(dataset: Dataset, names: Sequence[str]) -> list[int]:
    """Columns of the dataset's feature table named by ``extra_inputs`` (empty: none)."""
    if not names:
        return []
    if dataset.features_train is None:
        raise ValueError(f"extra_inputs: dataset {dataset.name!r} has no extra features")
    missing = [n for n in names if n not in dataset.feature_names]
    if missing:
        raise ValueError(
            f"extra_inputs: {missing} not among the dataset's features {list(dataset.feature_names)}"
        )
    return [dataset.feature_names.index(n) for n in names]


def _targets(dataset: Dataset, y: torch.Tensor) -> torch.Tensor:
    if dataset.kind == "classification":
        return y.long().reshape(-1)
    y = y.float()
    return y.reshape(-1, 1) if y.ndim == 1 else y


def _split(dataset: Dataset, name: str, uses_features: bool, device: torch.device,
           rows: torch.Tensor | None = None) -> _Split:
    """One split on ``device``; features are the dataset's whole table (the model picks its
    columns, see :class:`~stalwart.models.StalwartModel`)."""
    x, y = getattr(dataset, f"x_{name}"), getattr(dataset, f"y_{name}")
    f = getattr(dataset, f"features_{name}") if uses_features else None
    if uses_features and f is None:
        raise ValueError(f"extra_inputs: dataset {dataset.name!r} has no {name} features")
    if rows is not None:
        x, y = x[rows], y[rows]
        f = None if f is None else f[rows]
    return _Split(x.float().to(device), _targets(dataset, y).to(device),
                  None if f is None else f.float().to(device))


def _build_initial(cfg: Config, plan: SeedPlan, dataset: Dataset,
                   device: str | torch.device) -> StalwartModel:
    """Build the model from the plan's init seed and set its normalisation buffers."""
    columns = _feature_columns(dataset, list(cfg.get("extra_inputs", [])))
    model = build_model(cfg, dataset.input_shape, _n_outputs(dataset), len(columns),
                        generator=generator(plan.init))
    # Normalisations come from the whole pool, not the subsample, so they are the same
    # for every instance and config (they are part of the model, not of its randomness).
    # Features are divided by their RMS but not centred: a zero stays zero and an
    # energy-like feature stays proportional to energy, which the scale-only output map of
    # the relative loss relies on (see stalwart.training.objectives).
    if columns:
        assert dataset.features_train is not None  # checked by _feature_columns
        model.set_feature_columns(columns)
        rms = dataset.features_train[:, columns].float().pow(2).mean(0).sqrt()
        model.set_feature_normalisation(torch.zeros_like(rms), rms)
    if dataset.kind == "regression":
        loss = objective_for(dataset, str(cfg.get("loss", "auto"))).name
        model.set_output_affine(*output_affine(_targets(dataset, dataset.y_train), loss))
    return model.to(device)


def initial_model(config: Mapping[str, Any], instance_index: int, dataset: Dataset,
                  study_seed: int = 0, variation: Variation = "both",
                  device: str = "cpu") -> StalwartModel:
    """The model an instance starts training from (same seeds as :func:`train_instance`).

    Parameters
    ----------
    config, instance_index, dataset, study_seed, variation, device:
        As for :func:`train_instance`.

    Returns
    -------
    StalwartModel
        Initialised weights; normalisation buffers set from the training pool.
    """
    cfg = Config(config)
    problems = check_model_config(cfg)
    if problems:
        raise ValueError("; ".join(problems))
    return _build_initial(cfg, seed_plan(cfg.id, instance_index, study_seed, variation),
                          dataset, device)


def optimizer_parameters(model: StalwartModel, s: TrainingSettings) -> Any:
    """What the optimizer updates: the model's parameters as one group for a plain training
    (the exact update of every earlier release), else the fine-tuning groups
    (:func:`stalwart.training.finetune.parameter_groups`)."""
    plain = (s.init_from is None and s.finetune == "full" and s.backbone_lr is None
             and s.backbone_weight_decay is None and s.decay_norm_bias)
    return model.parameters() if plain else parameter_groups(model, s)


def _fork_devices(device: torch.device) -> list[int]:
    if device.type == "cuda":
        return [device.index if device.index is not None else torch.cuda.current_device()]
    return []


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise _Diverged(f"{what} is {value}")
    return value


def _evaluate(model: nn.Module, split: _Split, objective: Objective) -> dict[str, float]:
    return objective.measure(predict(model, split.x, split.features), split.y)


def _fit(model: StalwartModel, s: TrainingSettings, plan: SeedPlan, train: _Split,
         val: _Split, loss_fn: TrainingLoss, device: torch.device,
         result: InstanceResult, history: dict[str, float] | None = None) -> None:
    """The epoch loop; fills ``result.epochs`` / ``train_loss``; raises ``_Diverged``.

    ``result.train_loss`` is the mean batch loss of the epoch whose weights the model ends
    with: the best-validation epoch under ``restore_best``, else the last.

    Every batch minimises ``loss_fn.batch_loss`` (plus the ``l2`` penalty); validation
    (early stopping, ``restore_best``) measures ``loss_fn.objective``, the task's loss.
    With ``history``, each epoch's curves go into it as ``epoch<e>.<name>``: ``train_loss``,
    ``val_loss`` when validation is measured, and the loss's own
    (:meth:`TrainingLoss.epoch_curves`).
    """
    n, bs = len(train), s.batch_size
    layout = fast_memory_format(model, train.x, s.memory_format)
    optimizer = make_optimizer(optimizer_parameters(model, s), s)
    schedule = make_schedule(optimizer, s, s.epochs * math.ceil(n / bs))
    order = generator(plan.order)
    # BatchNorm cannot train on a single sample: a trailing batch of one is skipped.
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    track = len(val) > 0 and (s.restore_best or s.patience is not None)
    best_loss, best_state, stale = math.inf, None, 0
    best_train_loss: float | None = None
    # Dropout draws from the global RNG (it takes no generator): seed it from the plan
    # inside a fork so the caller's global RNG state is left untouched.
    with torch.random.fork_rng(devices=_fork_devices(device)):
        torch.manual_seed(plan.dropout)
        for epoch in range(1, s.epochs + 1):
            model.train()
            if s.finetune == "linear_probe":
                backbone_to_eval(model)
            perm = torch.randperm(n, generator=order).to(device)
            total, seen = torch.zeros((), device=device), 0
            n_batches = max(math.ceil(n / bs), 1)
            for start in range(0, n, bs):
                rows = perm[start:start + bs]
                if has_bn and rows.numel() == 1 and n > 1:
                    continue
                loss_fn.set_progress(epoch - 1 + (start // bs) / n_batches)
                feats = None if train.features is None else train.features[rows]
                xb = train.x[rows]
                if layout != torch.contiguous_format:  # indexing may not keep the layout
                    xb = xb.contiguous(memory_format=layout)
                data_loss = loss_fn.batch_loss(model, xb, train.y[rows], features=feats)
                loss = data_loss + s.l2 * l2_penalty(model) if s.l2 > 0 else data_loss
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if s.grad_clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
                optimizer.step()
                if schedule is not None:
                    schedule.step()
                total += data_loss.detach() * rows.numel()
                seen += rows.numel()
            result.epochs = epoch
            result.train_loss = _finite(float(total) / max(seen, 1),
                                        f"train loss at epoch {epoch}")
            if history is not None:
                history[f"epoch{epoch}.train_loss"] = result.train_loss
                for key, value in loss_fn.epoch_curves().items():
                    history[f"epoch{epoch}.{key}"] = _finite(value, f"{key} at epoch {epoch}")
            if not track:
                continue
            val_loss = _finite(_evaluate(model, val, loss_fn.objective)["loss"],
                               f"validation loss at epoch {epoch}")
            if history is not None:
                history[f"epoch{epoch}.val_loss"] = val_loss
            if val_loss < best_loss:
                best_loss, stale, best_train_loss = val_loss, 0, result.train_loss
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
                if s.patience is not None and stale >= s.patience:
                    break
    if s.restore_best and best_state is not None:
        # the kept weights' epoch: its training loss is the one that describes them
        model.load_state_dict(best_state)
        result.train_loss = best_train_loss


def _run(cfg: Config, instance_index: int, dataset: Dataset, study_seed: int,
         train_size: int | None, variation: Variation, evaluators: Sequence[Evaluator],
         weights_dir: str | Path | None, device: str, result: InstanceResult) -> None:
    problems = check_model_config(cfg) + check_training_config(cfg)
    if problems:
        raise ValueError("; ".join(problems))
    s = TrainingSettings.from_config(cfg)
    dev = torch.device(device)
    plan = seed_plan(cfg.id, instance_index, study_seed, variation)
    rows = subsample_indices(dataset.n_pool, train_size, plan.subsample)
    model = _build_initial(cfg, plan, dataset, dev)
    if s.init_from is not None:
        load_backbone(model, s.init_from)
    if s.finetune == "linear_probe":
        freeze_backbone(model)
    result.n_params = count_parameters(model)
    train = _split(dataset, "train", model.uses_features, dev, rows)
    val = _split(dataset, "val", model.uses_features, dev)
    test = _split(dataset, "test", model.uses_features, dev)
    layout = fast_memory_format(model, train.x, s.memory_format)
    if layout != torch.contiguous_format:
        lay_out_weights(model, layout)
        for split in (train, val, test):
            split.x = split.x.contiguous(memory_format=layout)
    sigma = model.output_scale if dataset.kind == "regression" else None
    objective = objective_for(dataset, s.loss, sigma)

    # The training loss the config names (the plain task loss by default), refused here,
    # before any training, when it cannot work with this dataset or model.
    has_bounds = (s.training_loss not in ("sensitivity", "ibp")
                  or has_interval_bounds(model, train.x, train.features))
    problems = check_training_fit(s, task_kind=dataset.kind, has_interval_bounds=has_bounds,
                                  model_name=str(cfg.get("model")))
    if problems:
        raise ValueError("; ".join(problems))
    loss_fn = make_training_loss(s, objective, seed=plan.dropout ^ 0x5EED,
                                 input_range=dataset.input_range)
    # Robust losses keep per-epoch training curves in the metrics (``epoch<e>.<name>``).
    history: dict[str, float] | None = None if s.training_loss == "task" else {}
    _fit(model, s, plan, train, val, loss_fn, dev, result, history)

    metrics: dict[str, float] = dict(history or {})
    for name, split in (("val", val), ("test", test)):
        if len(split):
            for key, value in _evaluate(model, split, objective).items():
                metrics[f"{name}_{key}"] = _finite(value, f"{name}_{key}")
    model.eval()
    for evaluator in evaluators:
        for key, value in evaluator(model, dataset).items():
            metrics[str(key)] = _finite(float(value), str(key))
    result.metrics = metrics
    if weights_dir is not None:
        path = Path(weights_dir) / f"{cfg.id}_{instance_index}{WEIGHTS_SUFFIX}"
        result.weights_path = str(save_weights(model.state_dict(), path))


def train_instance(config: Mapping[str, Any], instance_index: int, dataset: Dataset,
                   study_seed: int = 0, *, train_size: int | None = None,
                   variation: Variation = "both", evaluators: Sequence[Evaluator] = (),
                   threads: int | None = None, deterministic: bool = False,
                   weights_dir: str | Path | None = None,
                   device: str = "cpu") -> InstanceResult:
    """Train and evaluate one instance of a config.

    Parameters
    ----------
    config:
        Flat mapping of architecture keys (see :mod:`stalwart.models`) and training keys
        (see :mod:`stalwart.training.settings`).
    instance_index:
        Which instance (0, 1, ...); with ``study_seed`` and the config id it fixes the seed
        ``instance_seed(study_seed, Config(config).id, instance_index)``.
    dataset:
        Pool, validation and test splits.
    study_seed:
        The study's seed.
    train_size:
        Training samples drawn without replacement from the pool; None = the whole pool.
    variation:
        Which randomness varies across instances: ``"both"``, ``"init"`` (subsample fixed
        for the study) or ``"sampling"`` (init/order/dropout fixed per config); see
        :mod:`stalwart.training.seeding`.
    evaluators:
        Each ``evaluator(model, dataset) -> {name: value}`` runs on the final model (eval
        mode, on ``device``); its values join ``metrics``.
    threads:
        ``torch.set_num_threads`` for the call (restored after).
    deterministic:
        ``torch.use_deterministic_algorithms(True)`` for the call (restored after).
    weights_dir:
        If given, the final (best-validation, see ``restore_best``) state dict is saved
        as ``<weights_dir>/<config_id>_<instance>.safetensors`` (``.pt`` without
        safetensors) and ``weights_path`` set.
    device:
        Torch device to train on.

    Returns
    -------
    InstanceResult
        ``metrics`` holds ``val_loss``, ``test_loss``, ``val_<metric>``, ``test_<metric>``
        (``metric`` is ``dataset.metric``: ``accuracy``, ``rmse_rel``, ``rmse``...) and the
        evaluators' values; with a robust ``training_loss``, also the per-epoch training
        curves ``epoch<e>.<name>`` (see :mod:`stalwart.training.robust_losses`). ``status`` is ``ok``; ``diverged`` when a loss or metric
        became NaN/inf (training stops, ``metrics`` is empty, ``error`` says where); or
        ``failed`` on any exception (``error`` = ``"ExcType: message"``). Never raises
        (except ``KeyboardInterrupt`` and the like).
    """
    start = time.perf_counter()
    try:
        cfg = Config(config)
        config_id = cfg.id
        seed = instance_seed(study_seed, config_id, instance_index)
    except Exception as exc:
        return InstanceResult(config_id="", instance=int(instance_index), seed=0,
                              status="failed", error=f"{type(exc).__name__}: {exc}",
                              wall_time=time.perf_counter() - start)
    result = InstanceResult(config_id=config_id, instance=int(instance_index), seed=seed)
    try:
        with torch_settings(threads, deterministic):
            _run(cfg, instance_index, dataset, study_seed, train_size, variation,
                 evaluators, weights_dir, device, result)
    except _Diverged as exc:
        result.status, result.error = "diverged", f"diverged: {exc}"
        result.metrics, result.train_loss = {}, None
    except Exception as exc:
        result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
    result.wall_time = time.perf_counter() - start
    return result
