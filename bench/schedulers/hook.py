"""Where the driver meets a scheduler: segments to run, and each rung reached journaled with its decision.

The driver (:mod:`bench.driver`) calls, for a run with ``scheduler`` set:

- :meth:`Schedule.restore` with the journal's records, when it starts or resumes;
- :meth:`Schedule.span` for each task it dispatches (the segment: from the last rung reached to
  the next);
- :meth:`Schedule.observe` with what one ``wait`` returned (so a sync batch is decided on the
  same data), then :meth:`Schedule.segment_ended` for each of those outcomes that is not retried:
  it journals the segment's ``report`` records and its ``rung`` record, and returns None when the
  evaluation goes on (the driver dispatches its next segment) or the evaluation's final outcome
  (status ``stopped`` below the top rung) with the result record's extra fields.

Per-segment times, energy and resource go in the ``rung`` records; the final ``result`` of a
scheduled evaluation spans all its segments (``t_start`` of the first, energy and CO2 summed),
so summary.json's totals count each segment once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bench.evaluate import json_safe
from bench.objective import Fidelity, Objective
from bench.records import OK, STOPPED, Outcome
from bench.schedulers.base import Decision, Scheduler

Log = Callable[..., dict[str, Any]]

CONTINUE, STOP, DONE = "continue", "stop", "done"


@dataclass
class SoFar:
    """What an evaluation's finished segments add up to (from its ``rung`` records)."""

    t_start: float | None = None
    energy_kwh: float | None = None
    co2_kg: float | None = None
    resource: float = 0.0

    def add(self, t_start: Any, energy_kwh: Any, co2_kg: Any, resource: float) -> None:
        if self.t_start is None and isinstance(t_start, int | float):
            self.t_start = float(t_start)
        self.energy_kwh = _plus(self.energy_kwh, energy_kwh)
        self.co2_kg = _plus(self.co2_kg, co2_kg)
        self.resource += resource


def _plus(total: float | None, more: Any) -> float | None:
    if not isinstance(more, int | float) or isinstance(more, bool):
        return total
    return float(more) + (total or 0.0)


class Schedule:
    """A scheduler bound to a run: the driver's side (see the module's docstring).

    Args:
        scheduler: the scheduler (not yet bound).
        objective: the run's objective; its ``fidelity`` sets the rungs.
        seed: the run's seed (Hyperband's bracket draws).
        simulated: whether outcome times are virtual (report times are then spread over the
            segment by resource; on a wall clock they are the time each report was made).
    """

    def __init__(self, scheduler: Scheduler, objective: Objective, seed: int, simulated: bool):
        fidelity = objective.fidelity
        if fidelity is None:
            from bench.errors import UserError

            raise UserError(
                f"scheduler={scheduler.name}: objective {objective.name} reports no intermediate values "
                "(it has no fidelity); use scheduler=none, or an objective with one (docs/early-stopping.md)"
            )
        scheduler.bind(fidelity, seed)
        self.scheduler = scheduler
        self.fidelity: Fidelity = fidelity
        self.simulated = simulated
        self.so_far: dict[int, SoFar] = {}
        self._spans: dict[int, tuple[float, float]] = {}
        self._decided: dict[int, Decision] = {}

    # -- replay -----------------------------------------------------------------------------------
    def restore(self, records: Iterable[dict[str, Any]]) -> None:
        """Replays the journal's ``rung`` records: the rungs' data and where each evaluation stands."""
        for rec in records:
            if rec.get("event") != "rung":
                continue
            eid = int(rec["eval_id"])
            self.scheduler.restore(eid, int(rec["bracket"]), int(rec["rung"]), float(rec["value"]))
            self.so_far.setdefault(eid, SoFar()).add(
                rec.get("t_start"), rec.get("energy_kwh"), rec.get("co2_kg"), float(rec.get("resource", 0.0))
            )

    # -- the driver's calls -----------------------------------------------------------------------
    def span(self, eval_id: int) -> tuple[float, float]:
        """``(resume_from, fidelity)`` of the segment to dispatch for ``eval_id``."""
        return self.scheduler.span(eval_id)

    def observe(self, outcomes: Iterable[Outcome]) -> None:
        """Decides, on the same data, every ok segment one ``wait`` returned."""
        outcomes = list(outcomes)
        for o in outcomes:  # the segments that ended, before the decisions move their evaluations on
            self._spans[o.eval_id] = self.scheduler.span(o.eval_id)
        batch = [(o.eval_id, float(o.value)) for o in outcomes if o.status == OK and o.value is not None]
        for decision in self.scheduler.decide(batch):
            self._decided[decision.trial] = decision

    def segment_ended(self, outcome: Outcome, log: Log) -> tuple[Outcome, dict[str, Any]] | None:
        """Journals a segment's reports and rung; None if the evaluation goes on, else its final outcome.

        Returns:
            None when the evaluation goes on to its next rung; otherwise the outcome to record
            as its final result and the result record's extra fields (``fidelity``).
        """
        eid = outcome.eval_id
        start, stop = self._spans.pop(eid) if eid in self._spans else self.scheduler.span(eid)
        self._log_reports(outcome, start, stop, log)
        so_far = self.so_far.setdefault(eid, SoFar())
        resource = stop - start if self.fidelity.checkpoints and start > 0 else stop
        if outcome.status != OK or outcome.value is None:  # failed: ends here, at the rung it had reached
            return self._final(outcome, so_far, outcome.status, start), {"fidelity": start}
        decision = self._decided.pop(eid, None)
        if decision is None:  # not observed (cannot happen through the driver's loop): decide it alone
            (decision,) = self.scheduler.decide([(eid, float(outcome.value))])
        top = decision.rung == len(self.scheduler.brackets[decision.bracket].levels) - 1
        word = CONTINUE if decision.go_on else (DONE if top else STOP)
        log(
            "rung",
            eval_id=eid,
            attempt=outcome.attempt,
            bracket=decision.bracket,
            rung=decision.rung,
            resume_from=start,
            fidelity=decision.level,
            resource=resource,
            value=decision.value,
            decision=word,
            worker=outcome.worker,
            t_start=outcome.t_start,
            t_end=outcome.t_end,
            energy_kwh=outcome.energy_kwh,
            co2_kg=outcome.co2_kg,
        )
        so_far.add(outcome.t_start, outcome.energy_kwh, outcome.co2_kg, resource)
        if decision.go_on:
            return None
        final = dataclasses.replace(outcome, status=OK if top else STOPPED)
        final.t_start = so_far.t_start if so_far.t_start is not None else outcome.t_start
        final.energy_kwh, final.co2_kg = so_far.energy_kwh, so_far.co2_kg
        return final, {"fidelity": decision.level}

    # -- helpers ----------------------------------------------------------------------------------
    def _final(self, outcome: Outcome, so_far: SoFar, status: str, reached: float) -> Outcome:
        """A failed segment's outcome as the evaluation's result, its earlier segments' totals added."""
        final = dataclasses.replace(outcome, status=status)
        if so_far.t_start is not None:
            final.t_start = so_far.t_start
        final.energy_kwh = _plus(so_far.energy_kwh, outcome.energy_kwh)
        final.co2_kg = _plus(so_far.co2_kg, outcome.co2_kg)
        return final

    def _log_reports(self, outcome: Outcome, start: float, stop: float, log: Log) -> None:
        t0, t1 = outcome.t_start, outcome.t_end
        for rep in outcome.reports:
            if self.simulated and stop > start:
                t = t0 + (t1 - t0) * (rep.step - start) / (stop - start)
            else:
                t = t0 + rep.elapsed_s
            log(
                "report",
                eval_id=outcome.eval_id,
                attempt=outcome.attempt,
                step=rep.step,
                value=rep.value,
                t=t,
                metrics=json_safe(rep.metrics),
            )
