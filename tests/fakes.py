"""A fake executor whose 'trainings' are instant, deterministic functions of the trial."""

from __future__ import annotations

import math

from stalwart.core import Config, InstanceResult, Trial, derive_seed, instance_seed
from stalwart.execution.base import Executor
from stalwart.execution.job import TrainingJob


def fake_value(config: Config, instance: int) -> float:
    """A config-dependent level plus instance noise; lr > 0.5 'diverges'."""
    lr = float(config.get("lr", 0.1))
    if lr > 0.5:
        return math.nan
    level = abs(math.log10(lr) + 2.0)  # best near lr = 0.01
    noise = (derive_seed(config.id, instance) % 1000) / 1000.0 * float(config.get("noise", 0.3))
    return level + noise


class FakeExecutor(Executor):
    slots = 4

    def __init__(self, interrupt_after: int | None = None) -> None:
        self.queue: list[tuple[Trial, Config]] = []
        self.trained: list[Trial] = []
        self.interrupt_after = interrupt_after
        self.job: TrainingJob | None = None

    def start(self, job: TrainingJob) -> None:
        self.job = job

    def submit(self, trial: Trial, config: Config) -> None:
        self.queue.append((trial, config))

    def wait(self, timeout: float | None = None) -> list[tuple[Trial, InstanceResult]]:
        out = []
        for trial, config in self.queue[:2]:
            if self.interrupt_after is not None and len(self.trained) >= self.interrupt_after:
                if out:
                    break  # report what finished; the interrupt comes at the next wait
                raise KeyboardInterrupt
            v = fake_value(config, trial.instance)
            status = "diverged" if math.isnan(v) else "ok"
            out.append((trial, InstanceResult(
                config_id=config.id, instance=trial.instance,
                seed=instance_seed(self.job.study_seed if self.job else 0, config.id, trial.instance),
                status=status, metrics={} if math.isnan(v) else {"val_loss": v},
                wall_time=1.0 + 0.1 * trial.instance, epochs=1)))
            self.trained.append(trial)
        del self.queue[: len(out)]
        return out

    @property
    def n_running(self) -> int:
        return len(self.queue)

    def shutdown(self) -> None:
        self.queue.clear()
