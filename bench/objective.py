"""The objective contract: what the harness minimises.

An objective is built once per worker process, so it must be picklable and cheap to
construct: heavy imports and data loading go in :meth:`Objective.setup`, which each worker
calls once before its first evaluation. The pre-check pickles it when the executor is not
inline, so a lambda or an open file in it is a one-line error before any work.

What the harness reads from an objective besides its value:

- ``optimum``: the known minimum of ``value`` (a float) where there is one, else None.
  With it, every row of results.csv and summary.json carries simple regret,
  ``best noise-free value so far - optimum``.
- the metric ``true_value``: for a noisy objective, the noise-free value of the same point.
  Regret uses it instead of ``value`` wherever an evaluation reports it, so noise never makes
  regret look better than it is. Objectives without noise leave it out.
- ``cost(params)``: a duration model for the simulated clock (``executor.duration=cost``).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
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


class Objective(abc.ABC):
    """Base class of every objective.

    Subclasses pass ``space`` (usually the config's ``space`` mapping) and implement
    :meth:`__call__`; the other methods have defaults that do nothing.

    Attributes:
        name: shown in the progress bar, the summary and the report.
        optimum: the known minimum of ``value`` for regret, or None (see the module's docstring).
        space: the search space; strategies see its unit cube.
    """

    name: str = "objective"
    optimum: float | None = None

    def __init__(self, space: Mapping[str, Any] | Space, name: str | None = None):
        self.space = space if isinstance(space, Space) else Space.from_config(_plain(space))
        if name is not None:
            self.name = name

    def validate(self) -> None:
        """Checks what building could not (e.g. that every data file is there and well-formed).

        Called once by the driver, in its own process, before any evaluation; raises
        :class:`bench.errors.UserError` with one line naming the problem. The default checks nothing.
        """

    def set_run_dir(self, run_dir: Path) -> None:
        """Tells the objective the run folder, before any worker gets its copy.

        Called once by the driver, in its own process, before the executor starts, so the
        folder travels with the objective to every worker (pickled, Slurm jobs included). An
        objective that keeps files per evaluation (e.g. a command's stdout and stderr) keeps them
        under it, naming each by :func:`bench.evaluate.current_task`'s ``eval_id``. The default
        keeps nothing there.
        """

    def setup(self) -> None:
        """Loads data and imports heavy packages; called once per worker before evaluating."""

    @abc.abstractmethod
    def __call__(self, params: dict[str, Any], seed: int) -> Evaluation | float:
        """Evaluates one point.

        Args:
            params: one value per parameter of ``space``, in its native type and scale.
            seed: this evaluation's seed (the same on every attempt of it).

        Returns:
            The value to minimise, or an :class:`Evaluation` with metrics (``true_value`` among them
            for a noisy objective). NaN or inf marks a diverged evaluation; raising marks an error.
        """

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
