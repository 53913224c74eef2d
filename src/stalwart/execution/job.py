"""What a worker needs to train an instance, and the function it runs.

A :class:`TrainingJob` is small and picklable: workers rebuild the dataset from its spec
(loaders cache in-process, so each worker loads it once) rather than receiving tensors.
An executor that already holds the dataset (the Ray executor shares one copy per node
through Ray's object store) passes it to :func:`run_trial` instead.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stalwart.core import Config, InstanceResult, instance_seed
from stalwart.spec import StudySpec


@dataclass(frozen=True)
class TrainingJob:
    dataset_name: str
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

    @property
    def device(self) -> str:
        """Where instances train: an instance granted a GPU trains on it."""
        return "cuda" if self.gpus > 0 else "cpu"

    @classmethod
    def from_spec(cls, spec: StudySpec, *, threads: int | None = None, weights_dir: str | None = None) -> TrainingJob:
        return cls(
            dataset_name=spec.dataset.name,
            dataset_task=spec.dataset.task,
            dataset_root=spec.dataset.root,
            dataset_seed=spec.dataset.seed,
            dataset_options=dict(spec.dataset.options),
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
