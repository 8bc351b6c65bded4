"""Runs each evaluation in the driver's own process, one at a time."""

from __future__ import annotations

from collections import deque

from bench.evaluate import Meter, evaluate
from bench.executors.base import Executor
from bench.executors.schema import InlineConf
from bench.guard import check_time_limit
from bench.records import Outcome, Task


class InlineExecutor(Executor):
    """Sequential, in-process: the simplest executor and the easiest to debug.

    Tasks submitted are run when :meth:`wait` is called, in submission order, so a sync
    batch of M runs one after the other.

    Args:
        workers: kept for the contract; evaluations run one at a time.
        timeout_s: each evaluation's time limit in seconds (SIGALRM interrupts the call; see
            :mod:`bench.guard`). None: no limit, unless the run has ``budget.seconds``, which then
            bounds each evaluation.
    """

    objective_pickler = None

    def __init__(self, workers: int = 1, timeout_s: float | None = InlineConf.timeout_s):
        super().__init__(workers)
        self.timeout_s = check_time_limit("executor.timeout_s", timeout_s)
        self.budget_s: float | None = None
        self._queue: deque[Task] = deque()
        self._meter: Meter | None = None
        self._ready = False

    def set_budget_seconds(self, seconds: float) -> None:
        self.budget_s = seconds

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
        limit, source = (self.timeout_s, "executor.timeout_s")
        if limit is None and self.budget_s is not None:
            limit, source = self.budget_s, "budget.seconds; set executor.timeout_s for another"
        outcomes = []
        while self._queue:
            task = self._queue.popleft()
            outcomes.append(evaluate(self.objective, task, self.clock_origin, "inline", self._meter, limit, source))
            if first:
                break
        return outcomes
