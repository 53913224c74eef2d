"""The vocabulary every part of stalwart shares: configs, instance seeds and results.

A **config** is an immutable mapping of hyperparameters (architecture and training) with a
stable id: a hash of its canonical JSON, so the same model keeps its id across runs,
processes and machines. An **instance** is (config, instance index); its seed derives from
(study seed, config id, index). A **result** is one finished instance. A **trial** names
an instance to train, a **decision** records why a strategy dropped or chose a config.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["ok", "diverged", "failed"]
#: of a metric: a loss is minimized, an accuracy maximized.
Direction = Literal["minimize", "maximize"]
STATUSES: tuple[str, ...] = ("ok", "diverged", "failed")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the same value always gives the same text.

    Tuples become lists, so ``(8, 16)`` and ``[8, 16]`` name the same config.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _freeze(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_freeze(v) for v in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"config values must be finite, got {value!r}")
        # 1.0 and 1 are different hyperparameters for some libraries; keep floats floats.
        return value
    # numpy scalars and the like
    if hasattr(value, "item"):
        return _freeze(value.item())
    raise TypeError(f"config values must be JSON-like, got {type(value).__name__}: {value!r}")


class Config(Mapping[str, Any]):
    """An immutable mapping of hyperparameters with a stable, content-derived id.

    >>> Config({"lr": 0.01, "depth": 2}).id == Config({"depth": 2, "lr": 0.01}).id
    True
    """

    __slots__ = ("_data", "_id")

    def __init__(self, data: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        merged = dict(data or {})
        merged.update(kwargs)
        self._data: dict[str, Any] = _freeze(merged)
        self._id = hashlib.sha256(canonical_json(self._data).encode()).hexdigest()[:12]

    @property
    def id(self) -> str:
        """12 hex digits of the SHA-256 of the canonical JSON."""
        return self._id

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(self._id)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Config):
            return self._id == other._id
        if isinstance(other, Mapping):
            return self._data == _freeze(dict(other))
        return NotImplemented

    def __repr__(self) -> str:
        return f"Config({self._data!r}, id={self._id!r})"

    def to_json(self) -> str:
        return canonical_json(self._data)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.to_json())

    @classmethod
    def from_json(cls, text: str) -> Config:
        return cls(json.loads(text))


def derive_seed(*parts: Any) -> int:
    """A 63-bit seed from any JSON-able parts; stable across processes and platforms."""
    digest = hashlib.sha256(canonical_json(list(parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)


def instance_seed(study_seed: int, config_id: str, instance_index: int) -> int:
    """The seed of one instance: drives weight init, data order, dropout and subsample."""
    return derive_seed("instance", int(study_seed), str(config_id), int(instance_index))


@dataclass
class InstanceResult:
    """One finished instance of a config.

    ``metrics`` holds every quality number the trainer measured, by name (for example
    ``val_loss``, ``test_loss``, ``val_accuracy``, ``test_accuracy``, or robustness metrics
    such as ``pgd_linf_acc``). ``status`` is ``ok``, ``diverged`` (the loss became NaN/inf;
    recorded, not raised) or ``failed`` (an exception; its text is in ``error``).
    """

    config_id: str
    instance: int
    seed: int
    status: Status = "ok"
    metrics: dict[str, float] = field(default_factory=dict)
    train_loss: float | None = None
    """The training loss of the kept weights (the built-in trainer: the mean batch loss of
    the epoch whose weights it keeps); None when a trainer reports none."""
    epochs: int = 0
    wall_time: float = 0.0
    n_params: int | None = None
    error: str | None = None
    weights_path: str | None = None

    def value(self, metric: str) -> float:
        """The named metric, or NaN when the instance did not finish ``ok`` or lacks it."""
        if self.status != "ok":
            return math.nan
        v = self.metrics.get(metric)
        return math.nan if v is None else float(v)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InstanceResult:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True, order=True)
class Trial:
    """One instance to train: a config and the index of its instance."""

    config_id: str
    instance: int


@dataclass
class Decision:
    """Why a config left the race (``removed``) or won it (``selected``).

    ``value`` is the config's criterion value at that step; ``threshold`` the value it
    was compared against (the survivors' median for halving); ``statistic`` and
    ``p_value`` come from a statistical test (racing).
    """

    step: int
    config_id: str
    action: Literal["removed", "selected"]
    reason: str
    value: float | None = None
    threshold: float | None = None
    statistic: float | None = None
    p_value: float | None = None
    n_instances: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
