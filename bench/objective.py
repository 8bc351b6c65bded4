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
- ``fidelity`` and :func:`reporter`: an objective that can be run for less than its full resource
  (epochs, iterations, a fidelity in [0, 1]) says so in ``fidelity``; a scheduler
  (``scheduler=asha``, :mod:`bench.schedulers`) then runs it in segments, each up to
  ``reporter().stop``, and the objective reports intermediate values with
  ``reporter().report(step, value)``. Outside a scheduled evaluation :func:`reporter` is a no-op
  that asks for the full resource, so an objective written this way runs as before.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import UserError
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


@dataclass(frozen=True)
class Fidelity:
    """The resource an objective can be run for less of (epochs, iterations, a fidelity level).

    Attributes:
        name: what the resource is called in reports and results (``epochs``, ``iterations``...).
        minimum: the smallest amount it can be run for (its first report).
        maximum: its full amount: what an evaluation without a scheduler runs.
        integer: whether amounts are whole numbers (epochs) or any number in range (a fidelity).
        checkpoints: whether a segment continues from where the previous one of the same
            evaluation stopped (a checkpoint); if not, every segment starts over from 0, and the
            simulated clock charges it so.
    """

    name: str
    minimum: float
    maximum: float
    integer: bool = False
    checkpoints: bool = False


def fidelity_from_config(node: Mapping[str, Any] | None, where: str = "objective.fidelity") -> Fidelity | None:
    """A user objective's declared resource (``{name, minimum, maximum, integer, checkpoints}``; empty: none), checked.

    Raises:
        UserError: naming the field that is missing or out of range.
    """
    node = dict(_plain(node) or {})
    if not node:  # none declared
        return None
    unknown = sorted(set(node) - {"name", "minimum", "maximum", "integer", "checkpoints"})
    if unknown:
        raise UserError(f"{where}.{unknown[0]}: unknown key (name, minimum, maximum, integer, checkpoints)")
    for key in ("minimum", "maximum"):
        v = node.get(key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v < float("inf"):
            raise UserError(f"{where}.{key}: expected a positive number, got {v!r}")
    if node["minimum"] > node["maximum"]:
        raise UserError(f"{where}.minimum: {node['minimum']!r} is above {where}.maximum ({node['maximum']!r})")
    return Fidelity(
        str(node.get("name") or "resource"),
        float(node["minimum"]),
        float(node["maximum"]),
        bool(node.get("integer", False)),
        bool(node.get("checkpoints", False)),
    )


@dataclass
class Report:
    """One intermediate value an evaluation reported at ``step`` of its resource, ``elapsed_s`` real seconds in."""

    step: float
    value: float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0


class Reporter:
    """What a scheduled evaluation runs for, and where it reports as it goes.

    Attributes:
        start: the amount of resource done by earlier segments of this evaluation (0 for a fresh
            one); an objective whose ``fidelity.checkpoints`` is true resumes from there.
        stop: the amount to run up to; None means the objective's full resource.
        reports: what :meth:`report` collected (none for the no-op reporter).
    """

    def __init__(self, start: float = 0.0, stop: float | None = None, record: bool = False):
        self.start = float(start)
        self.stop = None if stop is None else float(stop)
        self.record = record
        self.reports: list[Report] = []
        self._t0 = time.perf_counter()

    def until(self, maximum: float) -> float:
        """The amount to run up to, ``maximum`` (the full resource) when no scheduler set one."""
        return float(maximum) if self.stop is None else min(self.stop, float(maximum))

    def report(self, step: float, value: float, **metrics: Any) -> None:
        """Records an intermediate ``value`` after ``step`` units of the resource (a no-op unscheduled)."""
        if self.record:
            elapsed = time.perf_counter() - self._t0
            self.reports.append(Report(float(step), None if value is None else float(value), dict(metrics), elapsed))


_NO_OP = Reporter()
_REPORTER: ContextVar[Reporter] = ContextVar("bobench_reporter", default=_NO_OP)


def reporter() -> Reporter:
    """The reporter of the evaluation running in this thread (a no-op, full resource, outside one)."""
    return _REPORTER.get()


def set_reporter(rep: Reporter) -> Any:
    """Installs ``rep`` for the evaluation about to run; returns the token :func:`reset_reporter` takes."""
    return _REPORTER.set(rep)


def reset_reporter(token: Any) -> None:
    _REPORTER.reset(token)


class Objective(abc.ABC):
    """Base class of every objective.

    Subclasses pass ``space`` (usually the config's ``space`` mapping) and implement
    :meth:`__call__`; the other methods have defaults that do nothing.

    Attributes:
        name: shown in the progress bar, the summary and the report.
        optimum: the known minimum of ``value`` for regret, or None (see the module's docstring).
        space: the search space; strategies see its unit cube.
        fidelity: the resource it can be run for less of, or None (it cannot: no scheduler applies).
    """

    name: str = "objective"
    optimum: float | None = None
    fidelity: Fidelity | None = None

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

    def cost_at(self, params: dict[str, Any], amount: float) -> float | None:
        """The simulated seconds of running ``params`` from 0 up to ``amount`` of its resource.

        The default scales :meth:`cost` (the full resource's) by ``amount / fidelity.maximum``;
        None where there is no cost model or no fidelity.
        """
        full = self.cost(params)
        if full is None or self.fidelity is None:
            return full
        return float(full) * float(amount) / float(self.fidelity.maximum)


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
