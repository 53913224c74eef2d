"""Study specs: YAML -> a validated :class:`StudySpec`.

Every problem becomes a :class:`~stalwart.errors.SpecError` whose one-line message starts
with the key path, e.g. ``search_space.product.lr[2]: must be > 0``.

A spec in brief (``examples/calorimeter.yaml`` shows a whole one)::

    name: calorimeter-demo
    seed: 0
    dataset: {name: calorimeter, task: energy, options: {n_pool: 20000}}
    model: small_cnn
    search_space:
      fixed:   {epochs: 4, optimizer: adam}       # the same in every config
      product: {lr: [0.001, 0.003], batch_size: [32, 64]}   # grid axes
      configs: [{lr: 0.01, batch_size: 128}]      # explicit configs, merged with fixed
    instances: {n: 10, train_size: 5000, variation: both}
    metric: {name: val_rmse_rel, direction: minimize}
    criterion: {name: mean}
    strategy: {name: halving, warmup: 3}
    budget: {max_trainings: 500, max_hours: 2}
    workers: 2

``search_space`` may also be a list of such blocks; the study trains their union.

A study may name its own trainer instead of the built-in one (``trainer:
package.module:function``, see :mod:`stalwart.trainers`); it then has no ``dataset`` or
``model`` (the trainer brings its own), its configs are any hyperparameters, and
``instances.pool_size`` says how many training rows the trainer's subsample indices are
drawn from when ``instances.train_size`` is set.

This module is the pure YAML/pydantic layer: it checks a spec's *structure* (keys, types,
bounds, finite numbers) and imports nothing of the registries. Whether the names in a spec
exist (dataset, model parameters, strategy, criterion, evaluators) is checked by
:mod:`stalwart.validation`, whose :func:`~stalwart.validation.load_spec` and
:func:`~stalwart.validation.parse_spec` return a fully validated spec.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from stalwart.core import canonical_json
from stalwart.errors import SpecError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetSpec(_Strict):
    name: str
    task: str | None = None
    root: str | None = None
    seed: int = 0
    options: dict[str, Any] = Field(default_factory=dict)


class SpaceBlock(_Strict):
    fixed: dict[str, Any] = Field(default_factory=dict)
    product: dict[str, list[Any]] = Field(default_factory=dict)
    configs: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("product")
    @classmethod
    def _non_empty_axes(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in v.items():
            if not values:
                raise ValueError(f"axis {key!r} has no values")
            bundles = [isinstance(x, dict) for x in values]
            if any(bundles) and not all(bundles):
                raise ValueError(f"axis {key!r} mixes mappings (bundles of keys) with plain "
                                 "values; make every value a mapping or none")
        return v


class InstancesSpec(_Strict):
    n: int = Field(10, ge=1, description="the most instances any config gets")
    train_size: int | None = Field(None, ge=1)
    variation: Literal["both", "init", "sampling"] = "both"
    pool_size: int | None = Field(
        None, ge=1, description="a user trainer's training rows, for its subsample indices")


class EvaluatorSpec(BaseModel):
    """A robustness metric computed on the test split after training (e.g. pgd_linf_acc)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class MetricSpec(_Strict):
    name: str = "val_loss"
    direction: Literal["minimize", "maximize"] = "minimize"
    evaluators: list[EvaluatorSpec] = Field(default_factory=list)


class CriterionSpec(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = "mean"

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class StrategySpec(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = "halving"
    failures: Literal["worst", "ignore"] = "worst"

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class BudgetSpec(_Strict):
    max_trainings: int | None = Field(None, ge=1)
    max_hours: float | None = Field(None, gt=0)


class ResourcesSpec(_Strict):
    """What one instance needs from a cluster node (the Ray executor schedules by it)."""

    cpus: float = Field(1, gt=0, description="CPUs reserved per instance")
    gpus: float = Field(0, ge=0, description="GPUs per instance (fractions share a GPU)")


class TrainingSpec(_Strict):
    deterministic: bool = False
    save_weights: bool = False
    threads: int | None = Field(None, ge=1, description="torch threads per worker")
    max_retries: int = Field(1, ge=0, description="retries of an instance lost with its worker")
    resources: ResourcesSpec = ResourcesSpec()


class StudySpec(_Strict):
    name: str = "study"
    seed: int = 0
    trainer: str | None = None
    dataset: DatasetSpec | None = None
    model: str | None = None
    search_space: SpaceBlock | list[SpaceBlock]
    instances: InstancesSpec = InstancesSpec()
    metric: MetricSpec = MetricSpec()
    criterion: CriterionSpec = CriterionSpec()
    strategy: StrategySpec = StrategySpec()
    budget: BudgetSpec = BudgetSpec()
    workers: int | None = Field(None, ge=1)
    training: TrainingSpec = TrainingSpec()

    @field_validator("criterion", mode="before")
    @classmethod
    def _criterion_shorthand(cls, v: Any) -> Any:
        return {"name": v} if isinstance(v, str) else v

    @field_validator("strategy", mode="before")
    @classmethod
    def _strategy_shorthand(cls, v: Any) -> Any:
        return {"name": v} if isinstance(v, str) else v

    @field_validator("metric", mode="before")
    @classmethod
    def _metric_shorthand(cls, v: Any) -> Any:
        return {"name": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _trainer_or_dataset(self) -> StudySpec:
        if self.trainer is None:
            if self.dataset is None:
                raise ValueError("dataset: required key is missing (or name your own "
                                 "trainer: package.module:function)")
            if self.instances.pool_size is not None:
                raise ValueError("instances.pool_size: only for a user trainer; the built-in "
                                 "trainer knows the dataset's pool")
            return self
        # A user trainer brings its own data and model: settings it cannot honour are
        # refused rather than silently ignored.
        for key, given in (("dataset", self.dataset is not None),
                           ("model", self.model is not None),
                           ("metric.evaluators", bool(self.metric.evaluators)),
                           ("training.save_weights", self.training.save_weights),
                           ("training.deterministic", self.training.deterministic)):
            if given:
                raise ValueError(f"{key}: not used with a user trainer ({self.trainer}): "
                                 "the trainer loads its own data, builds its own model and "
                                 "saves what it likes under instance.artifacts")
        if self.instances.train_size is not None and self.instances.pool_size is None:
            raise ValueError("instances.train_size: a user trainer's subsample needs "
                             "instances.pool_size, the number of rows it is drawn from")
        if self.instances.pool_size is not None and self.instances.train_size is not None \
                and self.instances.train_size > self.instances.pool_size:
            raise ValueError(f"instances.train_size: {self.instances.train_size} is larger "
                             f"than instances.pool_size ({self.instances.pool_size})")
        return self

    @model_validator(mode="after")
    def _space_not_empty(self) -> StudySpec:
        blocks = self.blocks
        if not blocks:
            raise ValueError("search_space: needs at least one block")
        for b in blocks:
            if not (b.fixed or b.product or b.configs):
                raise ValueError("search_space: a block needs fixed, product or configs")
        return self

    @property
    def blocks(self) -> list[SpaceBlock]:
        return self.search_space if isinstance(self.search_space, list) else [self.search_space]

    def identity(self) -> str:
        """Canonical JSON of everything that determines the results and the selection.

        ``workers``, ``training.threads``, ``training.resources`` and ``budget`` are left
        out: a study may be resumed with other parallelism, on other hardware or with a
        larger budget.
        """
        data = self.model_dump(mode="json")
        # Keys added later are left out while unset, so older studies keep their identity.
        for key in ("trainer", "dataset"):
            if data.get(key) is None:
                data.pop(key, None)
        if data.get("instances", {}).get("pool_size") is None:
            data.get("instances", {}).pop("pool_size", None)
        data.pop("workers", None)
        data.pop("budget", None)
        data.get("training", {}).pop("threads", None)
        data.get("training", {}).pop("max_retries", None)
        data.get("training", {}).pop("resources", None)
        return canonical_json(data)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json", exclude_defaults=False), sort_keys=False)


def format_loc(loc: tuple[int | str, ...]) -> str:
    """``('search_space', 'product', 'lr', 2)`` -> ``search_space.product.lr[2]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("SpaceBlock", "list[SpaceBlock]") or "[" in str(part):
            continue  # pydantic's union-branch labels are noise to a user
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    # With a union, pydantic reports every branch; the most specific loc is the useful one.
    err = max(errors, key=lambda e: len(e["loc"]))
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "required key is missing"
    msg = msg.removeprefix("Value error, ")
    return f"{format_loc(tuple(err['loc']))}: {msg}"


def parse_structure(data: Any, *, source: str = "spec") -> StudySpec:
    """Validate the structure of a mapping (already loaded from YAML) into a :class:`StudySpec`.

    Parameters
    ----------
    data
        The spec as plain Python data.
    source
        What ``data`` came from (a file name), for the message when it is not a mapping.

    Returns
    -------
    StudySpec
        A spec whose keys, types and bounds are right; its names are not checked against
        the registries (:func:`stalwart.validation.parse_spec` does both).

    Raises
    ------
    SpecError
        For the first problem, on one line that starts with its key path.
    """
    if not isinstance(data, dict):
        raise SpecError(f"{source}: a study spec must be a YAML mapping")
    try:
        spec = StudySpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_first_error(exc)) from None
    _check_numbers(data)
    return spec


def _check_numbers(data: Any, path: str = "") -> None:
    """YAML accepts .nan and .inf; no hyperparameter should be either."""
    if isinstance(data, float) and not math.isfinite(data):
        raise SpecError(f"{path or '(top level)'}: must be a finite number")
    if isinstance(data, dict):
        for k, v in data.items():
            _check_numbers(v, f"{path}.{k}" if path else str(k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            _check_numbers(v, f"{path}[{i}]")


def read_spec_yaml(path: str | Path) -> Any:
    """The YAML content of a spec file as plain Python data (not yet validated).

    Raises
    ------
    SpecError
        When the file is missing, unreadable, not UTF-8 or not valid YAML (one line naming
        the file).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{p}: no such spec file") from None
    except IsADirectoryError:
        raise SpecError(f"{p}: is a directory, not a spec file") from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"{p}: not a text file in UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise SpecError(f"{p}: cannot read spec ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise SpecError(f"{p}: invalid YAML{where}: {problem}") from None
    return data
