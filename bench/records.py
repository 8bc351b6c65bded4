"""The records that flow between the driver, the executors and the journal."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

# Statuses of a finished evaluation attempt.
OK = "ok"
DIVERGED = "diverged"  # the objective returned NaN or inf: shown to the model as worse than the worst
ERROR = "error"  # the objective raised
INVALID = "invalid"  # the objective returned something that is not a number
CRASHED = "crashed"  # the worker process died (infrastructure: retried)
TIMEOUT = "timeout"  # the evaluation ran past its time limit
CANCELLED = "cancelled"  # the job was cancelled from outside (infrastructure: retried)
LOST = "lost"  # the executor lost track of the job (infrastructure: retried)
STOPPED = "stopped"  # a scheduler stopped it early (bench/schedulers): its value is the last one it reached

STATUSES = (OK, DIVERGED, ERROR, INVALID, CRASHED, TIMEOUT, CANCELLED, LOST, STOPPED)
RETRYABLE = frozenset({CRASHED, CANCELLED, LOST})


@dataclass
class Task:
    """One evaluation to run: ``attempt`` counts re-runs after infrastructure failures.

    Under a scheduler (:mod:`bench.schedulers`) a task is one segment of an evaluation: it runs
    from ``resume_from`` up to ``fidelity`` of the objective's resource. Unscheduled, ``fidelity``
    is None (the full resource).
    """

    eval_id: int
    params: dict[str, Any]
    seed: int
    attempt: int = 0
    fidelity: float | None = None
    resume_from: float = 0.0


@dataclass
class Outcome:
    """What an executor reports for one finished attempt.

    Times are seconds on the run's clock (wall time since the run started, or simulated).
    """

    eval_id: int
    status: str
    value: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    worker: str = "0"
    t_start: float = math.nan
    t_end: float = math.nan
    attempt: int = 0
    job_id: str | None = None
    energy_kwh: float | None = None
    co2_kg: float | None = None
    carbon_method: str | None = None
    #: a scheduled segment's intermediate reports (:class:`bench.objective.Report`), journaled by the
    #: scheduler, never in the result record
    reports: list[Any] = field(default_factory=list)

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE

    def to_json(self) -> dict[str, Any]:
        """The fields of the ``result`` record (the reports are journaled apart, as ``report`` records)."""
        out = asdict(self)
        del out["reports"]
        return out
