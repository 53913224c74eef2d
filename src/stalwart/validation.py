"""Checks of a parsed spec against the registries (datasets, models, training, strategies).

Kept apart from :mod:`stalwart.spec` because it imports the torch-side registries; every
problem is a one-line :class:`~stalwart.errors.SpecError` that starts with a key path.
"""

from __future__ import annotations

from stalwart.errors import SpecError
from stalwart.spec import StudySpec


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
    from stalwart.selection import get_criterion, make_strategy

    try:
        criterion = get_criterion(spec.criterion.name, **spec.criterion.params)
    except (ValueError, TypeError) as exc:
        raise SpecError(f"criterion: {exc}") from None
    try:
        make_strategy(
            spec.strategy.name,
            ["a", "b"],
            n_instances=spec.instances.n,
            criterion=criterion,
            direction=spec.metric.direction,
            failures=spec.strategy.failures,
            **spec.strategy.params,
        )
    except (ValueError, TypeError) as exc:
        raise SpecError(f"strategy: {exc}") from None


def check_dataset(spec: StudySpec) -> None:
    from stalwart.data import DATASETS

    if spec.dataset.name not in DATASETS:
        names = ", ".join(sorted(DATASETS))
        raise SpecError(f"dataset.name: unknown dataset {spec.dataset.name!r} (choose from {names})")


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
