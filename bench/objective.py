"""The objective contract: what the harness minimises.

An objective is built once per worker process, so it must be picklable and cheap to
construct: heavy imports and data loading go in :meth:`Objective.setup`, which each worker
calls once before its first evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.space import Space


@dataclass
class Evaluation:
    """What one call of an objective returns.

    Attributes:
        value: the number to minimise (negative accuracy, a loss, a regret...).
        metrics: anything else worth keeping (accuracies, losses per epoch...). JSON-able.
    """

    value: float
    metrics: dict[str, Any] = field(default_factory=dict)


class Objective:
    """Base class of every objective.

    Subclasses set ``space`` (usually from the config's ``space`` mapping) and implement
    :meth:`__call__`. ``optimum`` is the known best value where there is one, for regret.
    """

    name: str = "objective"
    optimum: float | None = None

    def __init__(self, space: Mapping[str, Any] | Space, name: str | None = None):
        self.space = space if isinstance(space, Space) else Space.from_config(_plain(space))
        if name is not None:
            self.name = name

    def setup(self) -> None:
        """Loads data and imports heavy packages; called once per worker before evaluating."""

    def __call__(self, params: dict[str, Any], seed: int) -> Evaluation | float:
        raise NotImplementedError

    def cost(self, params: dict[str, Any]) -> float | None:
        """An optional duration model (seconds) for the simulated clock; None if there is none."""
        return None


def _plain(obj: Any) -> Any:
    """Turns an OmegaConf container into plain Python containers (no-op for plain ones)."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        return obj
    if isinstance(obj, DictConfig | ListConfig):
        return OmegaConf.to_container(obj, resolve=True)
    return obj


to_plain = _plain
