"""A simulated clock: evaluations run in-process at once, and finish in virtual time.

Each submitted task is evaluated immediately (the objective is cheap: a synthetic function),
then given a duration drawn from a distribution with mean 1 (see :mod:`bench.durations`) or
taken from ``objective.cost(params)``. It starts when its worker is free and finishes at
start + duration on a virtual clock; :meth:`SimulatedExecutor.wait` hands outcomes back in
virtual-time order. This is the setting of Kandasamy et al. (2018): with M workers, an
asynchronous run finishes about ``M·T/E[X]`` evaluations by time ``T`` and a synchronous one
about ``M·T/E[max of M draws]``.

Energy: the worker meter is stopped with the *simulated* duration, so a simulated run is
charged for the time its evaluations would have taken, not the microseconds they did take.

The objective is called when :meth:`SimulatedExecutor.wait` is, in submission order (not inside
:meth:`~SimulatedExecutor.submit`, which the driver runs with Ctrl-C held off), so a Ctrl-C reaches
a hung call. ``timeout_s`` limits a call's *real* time; the virtual clock is not involved.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any

from bench.durations import KINDS, Duration
from bench.errors import UserError
from bench.evaluate import Meter, evaluate
from bench.executors.base import Executor, MeterFactory
from bench.executors.schema import SimulatedConf
from bench.guard import check_time_limit
from bench.objective import Objective
from bench.records import Outcome, Task

DURATIONS = (*KINDS, "cost")
DECISION_CLOCKS = ("wall", "cpu")


@dataclass
class _Slotted:
    """A submitted task, its worker and its times on the virtual clock; its outcome once evaluated."""

    task: Task
    worker: str
    t_start: float
    t_end: float
    outcome: Outcome | None = None


class SimulatedExecutor(Executor):
    """``workers`` virtual workers on a virtual clock that starts at 0.

    Args:
        workers: how many evaluations run at once.
        duration: ``exponential``, ``uniform``, ``halfnormal``, ``pareto`` (all mean ``mean``)
            or ``cost`` (``objective.cost(params)`` simulated seconds).
        pareto_k: the Pareto shape (> 1).
        uniform_low: the uniform's lower end in units of the mean (``U(a, 2 - a)``).
        mean: the mean duration of the random distributions.
        seed: durations derive from ``(seed, eval_id, attempt)``.
        charge_decision_time: the driver then adds each decision's real time to the clock
            (through :meth:`advance`), as if the workers waited for the optimiser.
        decision_clock: what a charged decision's time is: ``wall`` (its seconds) or ``cpu`` (the
            driver process's CPU seconds during it: an idle core's time, on a machine others share).
        timeout_s: each call's limit in real seconds (SIGALRM; see :mod:`bench.guard`), or None.
    """

    simulated = True
    objective_pickler = None

    def __init__(
        self,
        workers: int = 1,
        duration: str = SimulatedConf.duration,
        pareto_k: float = SimulatedConf.pareto_k,
        uniform_low: float = SimulatedConf.uniform_low,
        mean: float = SimulatedConf.mean,
        seed: int = 0,
        charge_decision_time: bool = SimulatedConf.charge_decision_time,
        timeout_s: float | None = SimulatedConf.timeout_s,
        decision_clock: str = SimulatedConf.decision_clock,
    ):
        super().__init__(workers)
        if duration not in DURATIONS:
            raise UserError(f"executor.duration: expected one of {', '.join(DURATIONS)}, got {duration!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise UserError(f"executor.seed: expected an integer, got {seed!r}")
        if not isinstance(charge_decision_time, bool):
            raise UserError(f"executor.charge_decision_time: expected true or false, got {charge_decision_time!r}")
        if decision_clock not in DECISION_CLOCKS:
            raise UserError(f"executor.decision_clock: expected wall or cpu, got {decision_clock!r}")
        self.duration = duration
        self.distribution = (
            None if duration == "cost" else Duration(duration, mean=mean, pareto_k=pareto_k, uniform_low=uniform_low)
        )
        self.seed = seed
        self.charge_decision_time = charge_decision_time
        self._decision_clock = decision_clock
        self.timeout_s = check_time_limit("executor.timeout_s", timeout_s)
        self._now = 0.0
        self._free_at = [0.0] * self.workers
        self._heap: list[tuple[float, int, _Slotted]] = []
        self._unevaluated: list[_Slotted] = []  # submitted, not yet called: in submission order
        self._seq = 0
        self._meter: Meter | None = None
        self._ready = False

    def start(
        self,
        objective: Objective,
        clock_origin: float,
        meter_factory: MeterFactory | None = None,
    ) -> None:
        super().start(objective, clock_origin, meter_factory)
        if self.duration == "cost":
            probe = objective.space.to_params([0.5] * objective.space.dim)
            if objective.cost(probe) is None:
                raise UserError(
                    f"executor.duration: 'cost' needs an objective with a cost model; {objective.name} has none"
                )
        objective.setup()
        self._meter = meter_factory() if meter_factory else None
        self._ready = True

    # -- the clock ---------------------------------------------------------------------------
    def now(self) -> float:
        return self._now

    def charges_decision_time(self) -> bool:
        return self.charge_decision_time

    def decision_clock(self) -> str:
        return self._decision_clock

    def advance(self, seconds: float) -> None:
        """Moves the virtual clock forward (a charged decision, or a resumed run's past)."""
        seconds = float(seconds)
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"advance: expected a finite non-negative time, got {seconds}")
        self._now += seconds

    def sample_duration(self, task: Task) -> float:
        """The simulated duration of ``task`` (a pure function of the seed and the task).

        A scheduled segment (``task.fidelity`` set, :mod:`bench.schedulers`) lasts its share of
        the full duration, or ``objective.cost_at`` of its end less that of its start where the
        objective resumes from a checkpoint (from 0 where it does not).
        """
        assert self.objective is not None
        fidelity = self.objective.fidelity
        start = task.resume_from if fidelity is not None and fidelity.checkpoints else 0.0
        if self.distribution is not None:
            full = self.distribution.sample(self.seed, task.eval_id, task.attempt)
            if task.fidelity is None or fidelity is None:
                return full
            return full * (task.fidelity - start) / fidelity.maximum
        cost: Any
        if task.fidelity is None:
            cost = self.objective.cost(dict(task.params))
        else:
            cost = self.objective.cost_at(dict(task.params), task.fidelity)
            if start > 0 and isinstance(cost, int | float):
                before = self.objective.cost_at(dict(task.params), start)
                cost = cost - (before if isinstance(before, int | float) else 0.0)
        if isinstance(cost, bool) or not isinstance(cost, int | float) or not cost >= 0:
            raise UserError(f"executor.duration: {self.objective.name}.cost returned {cost!r}, not a duration >= 0")
        return float(cost)

    # -- the executor contract --------------------------------------------------------------
    def submit(self, task: Task) -> None:
        if not self._ready or self.objective is None:
            raise RuntimeError("SimulatedExecutor.submit before start()")
        slot = min(range(self.workers), key=lambda w: (self._free_at[w], w))
        t_start = max(self._now, self._free_at[slot])
        duration = self.sample_duration(task)
        entry = _Slotted(task, f"sim{slot}", t_start, t_start + duration)
        self._free_at[slot] = entry.t_end
        heapq.heappush(self._heap, (entry.t_end, self._seq, entry))
        self._unevaluated.append(entry)
        self._seq += 1

    def _evaluate_submitted(self) -> None:
        """Calls the objective for every task submitted since the last :meth:`wait`, in order."""
        assert self.objective is not None
        while self._unevaluated:
            entry = self._unevaluated[0]
            if self._meter is not None:
                self._meter.start()
            outcome = evaluate(self.objective, entry.task, self.clock_origin, entry.worker, None, self.timeout_s)
            if self._meter is not None:
                outcome.energy_kwh, outcome.co2_kg, outcome.carbon_method = self._meter.stop(
                    entry.t_end - entry.t_start
                )
            outcome.t_start, outcome.t_end = entry.t_start, entry.t_end
            entry.outcome = outcome
            self._unevaluated.pop(0)

    def wait(self, first: bool = True, timeout: float | None = None) -> list[Outcome]:
        """The earliest outcome and every other one finished by then, or all with ``first=False``.

        "By then" is the later of the earliest finish and the clock: with decision time charged
        (:meth:`advance`) the clock moves on while the driver decides, and every evaluation that
        finished meanwhile comes back at once, so the driver sees each worker that freed. Outcomes
        come in finish order. With ``timeout``, if nothing finishes within ``timeout`` virtual
        seconds the clock moves on by ``timeout`` and nothing is returned.
        """
        if not self._heap:
            return []
        self._evaluate_submitted()
        deadline = math.inf if timeout is None else self._now + max(float(timeout), 0.0)
        last = max(self._heap[0][0], self._now) if first else max(t for t, _, _ in self._heap)
        target = min(last, deadline)
        out = []
        while self._heap and self._heap[0][0] <= target:
            outcome = heapq.heappop(self._heap)[2].outcome
            assert outcome is not None
            out.append(outcome)
        self._now = max(self._now, target)
        return out

    @property
    def running(self) -> int:
        return len(self._heap)

    def close(self) -> None:
        self._heap.clear()
        self._unevaluated.clear()
