"""The executor contract: run tasks on ``workers`` slots and report outcomes as they finish.

The driver calls :meth:`Executor.set_run_dir` and :meth:`Executor.start` once, then
:meth:`Executor.submit` while slots are free and :meth:`Executor.wait` for outcomes.
``now()`` is the run's clock: wall seconds since the run started, or simulated seconds for
an executor whose :attr:`Executor.simulated` is true.

Three methods must be written (:meth:`submit`, :meth:`wait`, :attr:`running`); every other
capability the driver uses is a method here with a default that does nothing, so a new
executor overrides only what it can do: keep files in the run folder, move a virtual clock,
charge decision time to it, report a job id, or follow a job that outlived its driver.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from bench.evaluate import Meter
from bench.objective import Objective
from bench.records import Outcome, Task

MeterFactory = Callable[[], "Meter | None"]


class Executor(abc.ABC):
    """Base class of every executor.

    Args:
        workers: how many evaluations may run at once (set by the driver from ``workers=M``).
    """

    #: Whether outcomes carry simulated times (the driver then never sleeps or reads wall time).
    simulated: ClassVar[bool] = False
    #: How the objective reaches the workers: ``"pickle"`` (other processes, the default),
    #: ``"cloudpickle"`` (which also takes lambdas and local classes), or None (the driver's own
    #: process). The pre-check pickles the objective the same way, so a failure is one line.
    objective_pickler: ClassVar[str | None] = "pickle"

    def __init__(self, workers: int = 1):
        self.workers = int(workers)
        self.clock_origin = time.time()
        self.objective: Objective | None = None
        self.meter_factory: MeterFactory | None = None

    # -- what every executor writes ------------------------------------------------------------
    @abc.abstractmethod
    def submit(self, task: Task) -> str | None:
        """Starts (or queues) one evaluation; the driver never submits more than ``workers`` at once.

        Returns:
            The scheduler's job id where there is one (the same as :meth:`job_id` then says), else None.
        """

    @abc.abstractmethod
    def wait(self, first: bool = True, timeout: float | None = None) -> list[Outcome]:
        """Blocks until one (``first``) or every running task has finished.

        Returns the outcomes that finished, possibly several; an empty list only if
        ``timeout`` passed first or nothing was running.
        """

    @property
    @abc.abstractmethod
    def running(self) -> int:
        """How many tasks are in flight."""

    # -- life cycle ------------------------------------------------------------------------------
    def set_run_dir(self, run_dir: Path) -> None:
        """Tells the executor the run folder before :meth:`start` (e.g. where to keep job files).

        The default keeps nothing there.
        """

    def set_budget_seconds(self, seconds: float) -> None:
        """Tells the executor the run's ``budget.seconds``, before :meth:`start`.

        An executor on the wall clock without a per-evaluation limit of its own then bounds each
        evaluation by the whole budget, so a hung objective cannot hold a run past about twice
        its budget. The default (a virtual clock, a scheduler's own time limit) ignores it.
        """

    def start(
        self,
        objective: Objective,
        clock_origin: float,
        meter_factory: MeterFactory | None = None,
    ) -> None:
        """Prepares the workers.

        Args:
            objective: built once per worker (it is pickled to worker processes).
            clock_origin: ``time.time()`` at the run's (first) start; ``now()`` counts from it.
            meter_factory: builds one energy meter per worker, or None.
        """
        self.objective = objective
        self.clock_origin = clock_origin
        self.meter_factory = meter_factory

    def close(self) -> None:
        """Stops every worker; tasks still in flight are abandoned."""

    # -- the clock -------------------------------------------------------------------------------
    def now(self) -> float:
        """Seconds on the run's clock."""
        return time.time() - self.clock_origin

    def advance(self, seconds: float) -> None:
        """Moves a virtual clock forward (a charged decision, a resumed run's past).

        Wall clocks move by themselves: the default does nothing.
        """

    def charges_decision_time(self) -> bool:
        """Whether the driver should :meth:`advance` the clock by each decision's real time."""
        return False

    def decision_clock(self) -> str:
        """What a charged decision's time is: ``wall`` (its seconds) or ``cpu`` (the driver process's
        CPU seconds during it: what it takes on an idle core, when other work shares the machine)."""
        return "wall"

    # -- jobs that outlive a driver (Slurm) ----------------------------------------------------------
    def job_id(self, eval_id: int) -> str | None:
        """The scheduler's id of the job running ``eval_id``, journaled for resume; None if there is none."""
        return None

    def attach(self, task: Task, job_id: str) -> bool:
        """Follows a job an earlier driver submitted, as if just submitted.

        Returns:
            True if the executor now tracks the job (its outcome comes from :meth:`wait`);
            False if it cannot (the default), and the driver runs the task again.
        """
        return False
