"""Runs each evaluation in the driver's own process, one at a time."""

from __future__ import annotations

from collections import deque

from bench.evaluate import Meter, evaluate
from bench.executors.base import Executor
from bench.records import Outcome, Task


class InlineExecutor(Executor):
    """Sequential, in-process: the simplest executor and the easiest to debug.

    Tasks submitted are run when :meth:`wait` is called, in submission order, so a sync
    batch of M runs one after the other. Per-evaluation time limits cannot be enforced here.
    """

    objective_pickler = None

    def __init__(self, workers: int = 1):
        super().__init__(workers)
        self._queue: deque[Task] = deque()
        self._meter: Meter | None = None
        self._ready = False

    def submit(self, task: Task) -> None:
        self._queue.append(task)

    @property
    def running(self) -> int:
        return len(self._queue)

    def _setup(self) -> None:
        if not self._ready:
            assert self.objective is not None, "start() first"
            self.objective.setup()
            self._meter = self.meter_factory() if self.meter_factory else None
            self._ready = True

    def wait(self, first: bool = True, timeout: float | None = None) -> list[Outcome]:
        self._setup()
        assert self.objective is not None
        outcomes = []
        while self._queue:
            task = self._queue.popleft()
            outcomes.append(evaluate(self.objective, task, self.clock_origin, "inline", self._meter))
            if first:
                break
        return outcomes
