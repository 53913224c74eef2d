"""A valid study spec: its structure (:mod:`stalwart.spec`) checked against the registries.

:func:`load_spec` and :func:`parse_spec` are how a spec enters stalwart: they return a
:class:`~stalwart.spec.StudySpec` whose names (dataset, model and training parameters,
strategy, criterion, evaluators) exist. A driver asks more before it creates a study:
:func:`check_runnable` (:func:`load_runnable_spec` for a file) also refuses settings that
cannot work or would be silently changed (dataset options, a ``train_size`` larger than the
training pool, a metric direction that would select the worst config, a halving warm-up
above ``instances.n``), cheapest first and without loading any data. Kept apart from :mod:`stalwart.spec`, which stays
the pure YAML/pydantic layer, because the checks import the torch-side registries (so this
module sits above :mod:`stalwart.spec` and :mod:`stalwart.space`). Every problem is a
one-line :class:`~stalwart.errors.SpecError` that starts with a key path.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stalwart.checks import choice, first
from stalwart.errors import DataError, SpecError
from stalwart.spec import StudySpec, parse_structure, read_spec_yaml


def parse_spec(data: Any, *, source: str = "spec") -> StudySpec:
    """:func:`~stalwart.spec.parse_structure` (same arguments), then :func:`check_spec`: a
    mapping loaded from YAML into a spec whose structure and names are valid; the first
    problem of either is a one-line :class:`~stalwart.errors.SpecError`."""
    spec = parse_structure(data, source=source)
    check_spec(spec)
    return spec


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a YAML spec file; every problem is a one-line SpecError."""
    return parse_spec(read_spec_yaml(path), source=str(Path(path)))


def load_runnable_spec(path: str | Path) -> StudySpec:
    """Read a spec file and make every check a driver makes before training.

    :func:`check_runnable` on what :func:`load_spec` reads, in the order that reports
    problems found without torch before importing it. A ``trainer`` the spec names is
    looked for next to the spec file first (:func:`spec_trainer`).

    Raises
    ------
    SpecError
        The first problem, on one line that starts with its key path.
    """
    spec = parse_structure(read_spec_yaml(path), source=str(Path(path)))
    check_runnable(spec, spec_dir=Path(path).parent)
    return spec


def spec_trainer(spec: StudySpec, spec_dir: str | Path | None = None) -> Callable[..., Any] | None:
    """The function a spec's ``trainer: package.module:function`` names, imported (the
    module is looked for in ``spec_dir`` first, then on the Python path); None for the
    built-in trainer.

    Raises
    ------
    SpecError
        ``trainer: ...`` for a module or function that cannot be found or is not callable.
    """
    if spec.trainer is None:
        return None
    from stalwart.trainers import load_trainer

    return load_trainer(spec.trainer, search_path=spec_dir)


def _split_problem(problem: str) -> tuple[str, str]:
    key, sep, msg = problem.partition(":")
    return (key.strip(), msg.strip()) if sep else ("", problem)


def check_configs(spec: StudySpec) -> None:
    from stalwart.models import check_model_config
    from stalwart.space import expand_with_origins, key_path
    from stalwart.training import check_training_config

    for config, origin in expand_with_origins(spec):
        problems = list(check_model_config(config)) + list(check_training_config(config))
        if problems:
            key, msg = _split_problem(problems[0])
            top = key.split(".")[0].split("[")[0]
            path = key_path(spec, origin, top, config.get(top))
            rest = key[len(top):]
            raise SpecError(f"{path}{rest}: {msg}")


def check_selection(spec: StudySpec) -> None:
    from stalwart.selection import StrategySetup, get_criterion, make_strategy
    from stalwart.selection.criteria import check_near_optimal
    from stalwart.space import expand

    # The near-optimal option is every criterion's, so its key path is the criterion's own.
    first(check_near_optimal(spec.criterion.params, prefix="criterion."), SpecError)
    try:
        criterion = get_criterion(spec.criterion.name, **spec.criterion.params)
    except (ValueError, TypeError) as exc:
        raise SpecError(f"criterion: {exc}") from None
    # The real configs, so that a strategy that models their hyperparameters (adaptive's
    # surrogate) is checked on them; a space that does not expand is reported elsewhere.
    try:
        configs = expand(spec)
    except (ValueError, TypeError):
        configs = []
    try:
        make_strategy(
            spec.strategy.name,
            StrategySetup(
                tuple(c.id for c in configs) or ("a", "b"),
                n_instances=spec.instances.n,
                criterion=criterion,
                direction=spec.metric.direction,
                failures=spec.strategy.failures,
                params=tuple(c.to_dict() for c in configs) or None,
            ),
            **spec.strategy.params,
        )
    except (ValueError, TypeError) as exc:
        raise SpecError(f"strategy: {exc}") from None


def check_dataset(spec: StudySpec) -> None:
    from stalwart.data import DATASETS

    first(choice("dataset.name", spec.dataset.name, sorted(DATASETS), what="dataset"), SpecError)


def check_evaluators(spec: StudySpec) -> None:
    if not spec.metric.evaluators:
        return
    from stalwart.robustness.metrics import make_evaluator

    for i, ev in enumerate(spec.metric.evaluators):
        try:
            make_evaluator(ev.name, **ev.params)
        except (ValueError, TypeError) as exc:
            raise SpecError(f"metric.evaluators[{i}]: {exc}") from None


def check_spec(spec: StudySpec) -> None:
    """Raise a SpecError for the first problem found; return quietly when the spec is valid.

    A spec with its own ``trainer`` has no dataset or model to check: its configs are the
    trainer's hyperparameters, whatever they are.
    """
    if spec.trainer is not None:
        check_selection(spec)
        return
    check_dataset(spec)
    check_selection(spec)
    check_evaluators(spec)
    check_configs(spec)


def check_runnable(spec: StudySpec, *, spec_dir: str | Path | None = None) -> None:
    """Every check a driver makes before it creates a study: :func:`check_spec`, then settings
    that cannot work or would be silently changed.

    The checks that need no torch come first (names, dataset options and sizes, the metric
    and its direction, the strategy against ``instances.n``), so that a typo is reported in
    well under a second; model configs import torch and come last (evaluators, when a spec
    has any, before the metric that may be theirs). Nothing is loaded: dataset sizes come
    from :data:`stalwart.data.CATALOG`.

    Kept out of :func:`check_spec`, which also reopens stored studies: a study stored before a
    check was added stays readable by ``stalwart show``.

    A spec with its own ``trainer`` is checked for what applies to it (strategy, metric
    direction, instance counts) and its trainer is imported from ``spec_dir`` or the
    Python path.

    Raises
    ------
    SpecError
        The first problem, on one line that starts with its key path.
    """
    if spec.trainer is not None:
        check_selection(spec)
        check_direction(spec)
        check_strategy_fits(spec)
        spec_trainer(spec, spec_dir)
        return
    check_dataset(spec)
    check_selection(spec)
    check_evaluators(spec)  # imports torch only for a spec that has evaluators
    check_settings(spec)  # after evaluators: the metric may be one of theirs
    check_configs(spec)
    check_training_losses(spec)
    check_backbones(spec)
    check_data_files(spec)


def check_training_losses(spec: StudySpec) -> None:
    """Every config's ``training_loss`` suits the dataset's kind (adversarial training,
    TRADES and interval-bound training need a classifier), known from the dataset's
    metadata without loading it. Whether a model family has interval bounds needs a built
    model: the trainer checks that before an instance's first epoch.

    Raises
    ------
    SpecError
        The config's key path of ``training_loss``, with why.
    """
    from stalwart.data import quality_metric
    from stalwart.space import expand_with_origins, key_path
    from stalwart.training import TrainingSettings, check_training_fit

    kind = "classification" if quality_metric(spec.dataset.name, spec.dataset.task) == \
        "accuracy" else "regression"
    for config, origin in expand_with_origins(spec):
        settings = TrainingSettings.from_config(config)  # check_configs vetted the keys
        problems = check_training_fit(settings, task_kind=kind, has_interval_bounds=True,
                                      model_name=str(config.get("model")))
        if problems:
            _, msg = _split_problem(problems[0])
            path = key_path(spec, origin, "training_loss", config.get("training_loss"))
            raise SpecError(f"{path}: {msg}")


def check_backbones(spec: StudySpec) -> None:
    """Every ``init_from`` names a weights file that exists (relative to the directory
    stalwart runs in), and, where ``stalwart pretrain`` described it, the config's
    architecture is the backbone's: a fine-tuning grid with a wrong path or a backbone of
    another shape is refused before training, not 40 failed instances later.

    Raises
    ------
    SpecError
        The config's key path of ``init_from`` (or of the differing architecture key).
    """
    from stalwart.models import MODEL_FAMILIES
    from stalwart.space import expand_with_origins, key_path
    from stalwart.training.finetune import read_sidecar

    for config, origin in expand_with_origins(spec):
        path = config.get("init_from")
        if path is None:
            continue
        where = key_path(spec, origin, "init_from", path)
        if not Path(path).is_file():
            raise SpecError(f"{where}: no weights file {path!r} (relative paths are relative "
                            f"to {str(Path.cwd())!r}; `stalwart pretrain` writes backbones)")
        try:
            described = read_sidecar(path)
        except ValueError as exc:
            raise SpecError(f"{where}: {str(exc).removeprefix('init_from: ')}") from None
        if described is None:
            continue
        family = MODEL_FAMILIES[config["model"]]  # check_configs vetted the family
        backbone = described.get("model", {})
        if backbone.get("model") != config["model"]:
            raise SpecError(f"{where}: {path!r} is a {backbone.get('model')!r} backbone; this "
                            f"config's model is {config['model']!r}")
        mine, theirs = family.settings(config), family.settings(backbone)
        for key in family.defaults:
            if key not in ("dropout", "extra_inputs", "init") and mine[key] != theirs[key]:
                raise SpecError(f"{key_path(spec, origin, key, config.get(key))}: the backbone "
                                f"{path!r} was pretrained with {key} {theirs[key]!r}, this "
                                f"config has {mine[key]!r}")


def check_data_files(spec: StudySpec) -> None:
    """A file dataset that may not download (``download: false``) has its files on disk.

    With downloads allowed, the workers fetch what is missing; that cannot be checked
    without downloading.

    Raises
    ------
    SpecError
        ``dataset.root`` (or ``dataset.options.download``), saying where it looked.
    """
    import importlib

    from stalwart.data import dataset_info

    info = dataset_info(spec.dataset.name)
    if info.find_local is None or {**info.defaults, **spec.dataset.options}.get("download", True):
        return
    module, function = info.find_local.split(":")
    try:
        getattr(importlib.import_module(module), function)(spec.dataset.name, spec.dataset.root)
    except DataError as exc:
        key = "dataset.root" if spec.dataset.root is not None else "dataset.options.download"
        raise SpecError(f"{key}: {exc}") from None


def check_settings(spec: StudySpec) -> None:
    """The part of :func:`check_runnable` beyond :func:`check_spec`: settings that cannot work
    on this dataset, or that would be silently changed. Needs no torch and loads nothing.

    Raises
    ------
    SpecError
        The first problem, on one line that starts with its key path.
    """
    if spec.trainer is None:  # a user trainer brings its own data and reports its own metric
        check_data_settings(spec)
        check_metric(spec)
    check_direction(spec)
    check_strategy_fits(spec)


def check_data_settings(spec: StudySpec) -> None:
    """The dataset's task and options exist and are valid, and ``instances`` fits its pool.

    Raises
    ------
    SpecError
        ``dataset.task``, ``dataset.options.<name>`` or ``instances.train_size`` /
        ``instances.variation``, with what is wrong.
    """
    from stalwart.data import dataset_info
    from stalwart.data.options import resolve_task

    info = dataset_info(spec.dataset.name)
    try:
        resolve_task(spec.dataset.name, spec.dataset.task, info.tasks)
    except DataError as exc:
        raise SpecError(f"dataset.task: {exc}") from None
    first(info.problems(spec.dataset.options), SpecError)
    pool = info.pool_size(spec.dataset.options)
    size = spec.instances.train_size
    where = f"the training pool of dataset {spec.dataset.name!r} has {pool:,} rows ({info.pool_rule})"
    if size is not None and size > pool:
        raise SpecError(f"instances.train_size: {size:,} is larger than the pool it is drawn "
                        f"from: {where}")
    if spec.instances.variation == "sampling" and (size is None or size == pool):
        # Init and order are fixed per config, and the whole pool is the same set every time:
        # every instance would be the same training.
        raise SpecError(f"instances.variation: 'sampling' varies only the training subsample, "
                        f"so it needs a train_size smaller than the pool ({where})")


# The metrics the trainer reports, by the direction in which they improve; a study that
# minimizes an accuracy would select the worst config and exit 0.
_HIGHER_IS_BETTER = ("accuracy",)
_LOWER_IS_BETTER = ("loss", "rmse", "rmse_rel")


def check_direction(spec: StudySpec) -> None:
    """The direction of a metric the trainer reports is the one in which it improves.

    Evaluator metrics are left to the user: their direction depends on what they measure.

    Raises
    ------
    SpecError
        ``metric.direction``, naming the right one.
    """
    name = spec.metric.name
    if name in {e.name for e in spec.metric.evaluators}:
        return
    base = name.removeprefix("val_").removeprefix("test_")
    right = ("maximize" if base in _HIGHER_IS_BETTER
             else "minimize" if base in _LOWER_IS_BETTER else spec.metric.direction)
    if spec.metric.direction != right:
        raise SpecError(f"metric.direction: {name} is better when "
                        f"{'higher' if right == 'maximize' else 'lower'}; set direction: {right} "
                        f"(it is {spec.metric.direction}, which would select the worst config)")


# Strategy parameters that count instances: a value above instances.n would be clamped, and
# the strategy would silently train every config n times (an exhaustive search).
_INSTANCE_COUNTS = {"halving": "warmup", "racing": "start"}


def check_strategy_fits(spec: StudySpec) -> None:
    """A strategy's instance counts (halving's ``warmup``, racing's ``start``) are at most
    ``instances.n``, whether given or defaulted.

    Raises
    ------
    SpecError
        ``strategy.warmup`` / ``strategy.start``, with both numbers.
    """
    from stalwart.selection import STRATEGIES

    param = _INSTANCE_COUNTS.get(spec.strategy.name)
    if param is None or spec.strategy.name not in STRATEGIES:
        return
    given = param in spec.strategy.params
    value = spec.strategy.params[param] if given else \
        inspect.signature(STRATEGIES[spec.strategy.name]).parameters[param].default
    n = spec.instances.n
    if isinstance(value, int) and value > n:
        what = f"{value}" if given else f"the default {value}"
        raise SpecError(f"strategy.{param}: {what} is more than instances.n ({n}); every config "
                        f"would get all {n} instances, an exhaustive search: set "
                        f"strategy.{param} to at most {n} or strategy.name: exhaustive")


def check_metric(spec: StudySpec) -> None:
    """The metric must be one the trainer or an evaluator reports for this dataset.

    Reads the dataset's quality metric from the data registry, without loading the data.
    Not part of :func:`check_spec`: a driver checks it before a study starts.

    Raises
    ------
    DataError
        For a task the dataset does not have.
    SpecError
        For a metric nothing reports (the message lists those that are).
    """
    from stalwart.data import quality_metric

    quality = quality_metric(spec.dataset.name, spec.dataset.task)
    known = {"val_loss", "test_loss", f"val_{quality}", f"test_{quality}"}
    known |= {e.name for e in spec.metric.evaluators}
    if spec.metric.name not in known:
        raise SpecError(f"metric.name: {spec.metric.name!r} is not reported for dataset "
                        f"{spec.dataset.name!r} (choose from {', '.join(sorted(known))})")
