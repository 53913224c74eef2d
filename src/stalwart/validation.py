"""A valid study spec: its structure (:mod:`stalwart.spec`) checked against the registries.

:func:`load_spec` and :func:`parse_spec` are how a spec enters stalwart: they return a
:class:`~stalwart.spec.StudySpec` whose names (dataset, model and training parameters,
strategy, criterion, evaluators) exist. Kept apart from :mod:`stalwart.spec`, which stays
the pure YAML/pydantic layer, because the checks import the torch-side registries (so this
module sits above :mod:`stalwart.spec` and :mod:`stalwart.space`). Every problem is a
one-line :class:`~stalwart.errors.SpecError` that starts with a key path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stalwart.checks import choice, first
from stalwart.errors import SpecError
from stalwart.spec import StudySpec, parse_structure, read_spec_yaml


def parse_spec(data: Any, *, source: str = "spec") -> StudySpec:
    """Validate a mapping (already loaded from YAML) into a :class:`~stalwart.spec.StudySpec`.

    Parameters
    ----------
    data
        The spec as plain Python data.
    source
        What ``data`` came from (a file name), for the message when it is not a mapping.

    Raises
    ------
    SpecError
        For the first problem of structure (:func:`~stalwart.spec.parse_structure`), then
        of names (:func:`check_spec`).
    """
    spec = parse_structure(data, source=source)
    check_spec(spec)
    return spec


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a YAML spec file; every problem is a one-line SpecError."""
    return parse_spec(read_spec_yaml(path), source=str(Path(path)))


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

    try:
        criterion = get_criterion(spec.criterion.name, **spec.criterion.params)
    except (ValueError, TypeError) as exc:
        raise SpecError(f"criterion: {exc}") from None
    try:
        make_strategy(
            spec.strategy.name,
            StrategySetup(
                ("a", "b"),
                n_instances=spec.instances.n,
                criterion=criterion,
                direction=spec.metric.direction,
                failures=spec.strategy.failures,
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
    """Raise a SpecError for the first problem found; return quietly when the spec is valid."""
    check_dataset(spec)
    check_selection(spec)
    check_evaluators(spec)
    check_configs(spec)


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
