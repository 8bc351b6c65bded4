"""The executor contract: run tasks on ``workers`` slots and report outcomes as they finish.

The driver calls :meth:`Executor.start` once, then :meth:`submit` while slots are free and
:meth:`wait` for outcomes. ``now()`` is the run's clock: wall seconds since the run started,
or simulated seconds for the simulated executor.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bench.evaluate import Meter
from bench.objective import Objective
from bench.records import Outcome, Task

MeterFactory = Callable[[], "Meter | None"]


class Executor:
    """Base class of every executor.

    Args:
        workers: how many evaluations may run at once (set by the driver from ``workers=M``).
    """

    #: Whether outcomes carry simulated times (the driver then never sleeps or reads wall time).
    simulated: bool = False

    def __init__(self, workers: int = 1):
        self.workers = int(workers)
        self.clock_origin = time.time()
        self.objective: Objective | None = None
        self.meter_factory: MeterFactory | None = None

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

    def submit(self, task: Task) -> None:
        raise NotImplementedError

    def wait(self, first: bool = True, timeout: float | None = None) -> list[Outcome]:
        """Blocks until one (``first``) or every running task has finished.

        Returns the outcomes that finished, possibly several; an empty list only if
        ``timeout`` passed first or nothing was running.
        """
        raise NotImplementedError

    @property
    def running(self) -> int:
        """How many tasks are in flight."""
        raise NotImplementedError

    def now(self) -> float:
        return time.time() - self.clock_origin

    def close(self) -> None:
        """Stops every worker; tasks still in flight are abandoned."""
