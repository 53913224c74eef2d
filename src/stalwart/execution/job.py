"""What a worker needs to train an instance, and the function it runs.

A :class:`TrainingJob` is small and picklable: workers rebuild the dataset from its spec
(loaders cache in-process, so each worker loads it once) rather than receiving tensors.
An executor that already holds the dataset (the Ray executor shares one copy per node
through Ray's object store) passes it to :func:`run_trial` instead.

A job with a ``trainer`` (a user's function, :mod:`stalwart.trainers`) has no dataset: the
function is called with the config and an :class:`~stalwart.trainers.Instance`. It travels
inside the job, pickled by reference (its module is imported in the worker) by the local
executor and by value by Ray.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stalwart.core import Config, InstanceResult, instance_seed
from stalwart.spec import StudySpec


@dataclass(frozen=True)
class TrainingJob:
    dataset_name: str | None
    dataset_task: str | None
    dataset_root: str | None
    dataset_seed: int
    dataset_options: Mapping[str, Any]
    study_seed: int
    train_size: int | None
    variation: str
    evaluators: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    deterministic: bool = False
    threads: int | None = None
    weights_dir: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    cpus: float = 1.0
    gpus: float = 0.0
    #: a user trainer (None: the built-in one), the metric it must return, the size of the
    #: pool its subsample indices are drawn from, and where instances keep artifacts
    trainer: Callable[..., Any] | None = None
    metric: str | None = None
    pool_size: int | None = None
    artifacts_dir: str | None = None

    @property
    def has_dataset(self) -> bool:
        """Whether workers need the dataset (the built-in trainer does, a user's does not)."""
        return self.trainer is None

    @property
    def device(self) -> str:
        """Where instances train: an instance granted a GPU trains on it."""
        return "cuda" if self.gpus > 0 else "cpu"

    @classmethod
    def from_spec(cls, spec: StudySpec, *, threads: int | None = None, weights_dir: str | None = None,
                  trainer: Callable[..., Any] | None = None,
                  artifacts_dir: str | None = None) -> TrainingJob:
        """The job of ``spec``; ``trainer`` is the loaded function when the spec names one."""
        if (trainer is None) != (spec.trainer is None):
            raise ValueError("a spec that names a trainer needs its function, and only then")
        ds = spec.dataset
        return cls(
            dataset_name=ds.name if ds else None,
            dataset_task=ds.task if ds else None,
            dataset_root=ds.root if ds else None,
            dataset_seed=ds.seed if ds else 0,
            dataset_options=dict(ds.options) if ds else {},
            trainer=trainer,
            metric=spec.metric.name,
            pool_size=spec.instances.pool_size,
            artifacts_dir=artifacts_dir if trainer is not None else None,
            study_seed=spec.seed,
            train_size=spec.instances.train_size,
            variation=spec.instances.variation,
            evaluators=tuple((e.name, tuple(sorted(e.params.items()))) for e in spec.metric.evaluators),
            deterministic=spec.training.deterministic,
            threads=threads if threads is not None else spec.training.threads,
            weights_dir=weights_dir if spec.training.save_weights else None,
            cpus=float(spec.training.resources.cpus),
            gpus=float(spec.training.resources.gpus),
        )

    def load_dataset(self):  # -> Dataset; typed loosely to keep torch out of import time
        from stalwart.data import load_dataset

        return load_dataset(
            self.dataset_name,
            task=self.dataset_task,
            root=self.dataset_root,
            seed=self.dataset_seed,
            **dict(self.dataset_options),
        )


def failed_result(config: Config, instance: int, study_seed: int, error: str, wall_time: float = 0.0) -> InstanceResult:
    return InstanceResult(
        config_id=config.id,
        instance=instance,
        seed=instance_seed(study_seed, config.id, instance),
        status="failed",
        error=error,
        wall_time=wall_time,
    )


def run_trial(job: TrainingJob, config_params: Mapping[str, Any], instance: int,
              dataset: Any = None) -> InstanceResult:
    """Train one instance; never raises for a problem of the instance itself.

    ``dataset`` is the job's dataset when the caller already has it; None loads it.
    """
    config = Config(config_params)
    if job.trainer is not None:
        return _run_user_trainer(job, config, instance)
    start = time.perf_counter()
    try:
        from stalwart.training import train_instance

        if dataset is None:
            dataset = job.load_dataset()
        evaluators = []
        if job.evaluators:
            from stalwart.robustness.metrics import make_evaluator

            evaluators = [make_evaluator(name, **dict(params)) for name, params in job.evaluators]
        return train_instance(
            config,
            instance,
            dataset,
            job.study_seed,
            train_size=job.train_size,
            variation=job.variation,  # type: ignore[arg-type]
            evaluators=evaluators,
            threads=job.threads,
            deterministic=job.deterministic,
            weights_dir=job.weights_dir,
            device=job.device,
        )
    except Exception as exc:  # the trainer records its own failures; this catches setup ones
        return failed_result(config, instance, job.study_seed, f"{type(exc).__name__}: {exc}",
                             time.perf_counter() - start)


def _run_user_trainer(job: TrainingJob, config: Config, instance: int) -> InstanceResult:
    from stalwart.trainers import call_trainer, make_instance

    assert job.trainer is not None and job.metric is not None
    start = time.perf_counter()
    try:
        inst = make_instance(config, instance, job.study_seed, variation=job.variation,
                             pool_size=job.pool_size, train_size=job.train_size,
                             directory=job.artifacts_dir)
        if job.threads:
            import torch

            torch.set_num_threads(job.threads)
    except Exception as exc:  # a setup problem of this instance, not of the trainer
        return failed_result(config, instance, job.study_seed, f"{type(exc).__name__}: {exc}",
                             time.perf_counter() - start)
    return call_trainer(job.trainer, config, inst, job.metric)
