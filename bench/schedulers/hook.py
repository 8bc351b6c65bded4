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
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.evaluate import json_safe
from bench.objective import Fidelity, Objective
from bench.records import OK, STOPPED, Outcome
from bench.run_folder.state import EvalState, RunState
from bench.schedulers.base import Decision, Scheduler
from bench.strategies.base import History

Log = Callable[..., dict[str, Any]]

CONTINUE, STOP, DONE, PAUSE = "continue", "stop", "done", "pause"
#: What :meth:`Schedule.segment_ended` returns for an evaluation paused at its rung (promotion type).
PAUSED = "paused"


@dataclass
class SoFar:
    """What an evaluation's finished segments add up to (from its ``rung`` records)."""

    t_start: float | None = None
    energy_kwh: float | None = None
    co2_kg: float | None = None
    resource: float = 0.0
    #: its last rung record (where a paused evaluation stands)
    last: dict[str, Any] | None = None
    paused: bool = False

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
        #: ``(eval_id, fidelity, value)`` of every rung reached, in journal order (live or replayed)
        self.reached: list[tuple[int, float, float]] = []

    # -- replay -----------------------------------------------------------------------------------
    def restore(self, records: Iterable[dict[str, Any]]) -> None:
        """Replays the journal's ``rung`` and ``promote`` records: the rungs' data and where each evaluation stands."""
        for rec in records:
            if rec.get("event") == "result" and rec.get("final", True) and int(rec["eval_id"]) in self.so_far:
                self._retire(int(rec["eval_id"]))  # it ended (one paused at a run's end, too)
                continue
            if rec.get("event") == "promote":
                self.scheduler.restore_promotion(int(rec["eval_id"]), int(rec["bracket"]), int(rec["rung"]))
                self.so_far.setdefault(int(rec["eval_id"]), SoFar()).paused = False
                continue
            if rec.get("event") != "rung":
                continue
            eid = int(rec["eval_id"])
            self.scheduler.restore(eid, int(rec["bracket"]), int(rec["rung"]), float(rec["value"]))
            self.reached.append((eid, float(rec["fidelity"]), float(rec["value"])))
            so_far = self.so_far.setdefault(eid, SoFar())
            so_far.add(rec.get("t_start"), rec.get("energy_kwh"), rec.get("co2_kg"), float(rec.get("resource", 0.0)))
            so_far.last, so_far.paused = rec, rec.get("decision") == PAUSE

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

    def segment_ended(self, outcome: Outcome, log: Log) -> tuple[Outcome, dict[str, Any]] | str | None:
        """Journals a segment's reports and rung; None if the evaluation goes on, else its final outcome.

        Returns:
            None when the evaluation goes on to its next rung now; :data:`PAUSED` when it waits at
            its rung for a promotion; otherwise the outcome to record as its final result and the
            result record's extra fields (``fidelity``).
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
        word = CONTINUE if decision.go_on else DONE if top else PAUSE if self.scheduler.promotes else STOP
        rec = log(
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
        so_far.last, so_far.paused = rec, word == PAUSE
        self.reached.append((eid, float(decision.level), float(decision.value)))
        if decision.go_on:
            return None
        if word == PAUSE:
            return PAUSED
        final = dataclasses.replace(outcome, status=OK if top else STOPPED)
        final.t_start = so_far.t_start if so_far.t_start is not None else outcome.t_start
        final.energy_kwh, final.co2_kg = so_far.energy_kwh, so_far.co2_kg
        return final, {"fidelity": decision.level}

    # -- promotion (type="promotion") -------------------------------------------------------------
    def paused(self, eval_id: int) -> bool:
        """Whether the evaluation waits at its rung for a promotion (nothing runs it)."""
        so_far = self.so_far.get(eval_id)
        return so_far is not None and so_far.paused

    def promote(self, n: int, log: Log) -> list[int]:
        """Up to ``n`` paused evaluations to run on now (a ``promote`` record each); their eval_ids."""
        if not self.scheduler.promotes:
            return []
        out = []
        for d in self.scheduler.promotions(n):
            log("promote", eval_id=d.trial, bracket=d.bracket, rung=d.rung, fidelity=d.level, value=d.value)
            self.so_far[d.trial].paused = False
            out.append(d.trial)
        return out

    def paused_points(self) -> dict[int, float]:
        """Each paused evaluation's value at its rung: what the strategy learns from it meanwhile."""
        return {eid: float(s.last["value"]) for eid, s in self.so_far.items() if s.paused and s.last is not None}

    def for_strategy(
        self, history: History, pending: list[EvalState], state: RunState
    ) -> tuple[History, list[EvalState]]:
        """What the strategy sees, with the evaluations still to come (``pending``) that it should count.

        Paused evaluations are learnt from at their rung's value, not as pending. Beside the rows
        every strategy reads (one per evaluation, as without a scheduler), the history carries
        every rung reached (``by_fidelity``: one row per ``rung`` record, its fidelity as a share
        of the full resource, in journal order, so a resumed run sees what an uninterrupted one
        did) and the rung each pending evaluation is running to (``pending_fidelity``): what a
        model over configuration and fidelity fits (MOBSTER, ``bench/strategies/mobster.py``).
        """
        paused = self.paused_points()
        dim = history.X.shape[1] if history.X.ndim == 2 else len(next(iter(state.evals.values())).x)
        if paused:
            X = np.vstack([history.X.reshape(-1, dim), np.array([state.evals[e].x for e in paused], dtype=float)])
            y = np.concatenate([history.y, np.array(list(paused.values()), dtype=float)])
            ids = history.eval_ids
            if len(ids) == len(history.y):  # the rows' ids go on with the paused ones
                ids = np.concatenate([ids, np.array(list(paused), dtype=int)])
            history = dataclasses.replace(history, X=X, y=y, eval_ids=ids)
            pending = [ev for ev in pending if ev.eval_id not in paused]
        full = float(self.fidelity.maximum)
        rows = [(e, level, value) for e, level, value in self.reached if math.isfinite(value) and e in state.evals]
        by_fidelity = History(
            np.array([state.evals[e].x for e, _, _ in rows], dtype=float).reshape(-1, dim),
            np.array([value for _, _, value in rows], dtype=float),
            np.zeros((0, dim)),
            fidelity=np.array([level / full for _, level, _ in rows], dtype=float),
            eval_ids=np.array([e for e, _, _ in rows], dtype=int),
        )
        heading = np.array([self.scheduler.span(ev.eval_id)[1] / full for ev in pending], dtype=float)
        return dataclasses.replace(history, by_fidelity=by_fidelity, pending_fidelity=heading), pending

    def finish(self) -> list[tuple[Outcome, dict[str, Any]]]:
        """At the run's end: each evaluation still paused ends ``stopped`` at its rung."""
        out = []
        for eid, s in sorted(self.so_far.items()):
            if not s.paused or s.last is None:
                continue
            last = s.last
            outcome = Outcome(
                eval_id=eid,
                status=STOPPED,
                value=float(last["value"]),
                worker=last.get("worker") or "0",
                t_start=s.t_start if s.t_start is not None else float(last.get("t_start") or 0.0),
                t_end=float(last.get("t_end") or 0.0),
                attempt=int(last.get("attempt", 0)),
                energy_kwh=s.energy_kwh,
                co2_kg=s.co2_kg,
            )
            self._retire(eid)
            out.append((outcome, {"fidelity": float(last["fidelity"])}))
        return out

    # -- helpers ----------------------------------------------------------------------------------
    def _retire(self, eval_id: int) -> None:
        """An evaluation with a final result: never paused, never promoted again (a resumed run goes on)."""
        self.so_far[eval_id].paused = False
        if self.scheduler.promotes and eval_id in self.scheduler.position:
            self.scheduler.restore_promotion(eval_id, *self.scheduler.position[eval_id])

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
