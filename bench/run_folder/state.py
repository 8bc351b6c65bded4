"""The run's state, derived from the journal's records alone (so resuming is replaying).

The driver rebuilds it with :meth:`RunState.from_records` when it resumes, and
:func:`bench.run_folder.read_run` does the same for analysis: one path from journal to state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.records import DIVERGED, OK, STOPPED
from bench.run_folder.schema import check_record
from bench.strategies.base import History

#: A diverged evaluation is shown to the model as the worst value seen plus this share of the
#: range of values seen (at least ``DIVERGED_MIN_GAP``): worse than anything that converged.
DIVERGED_MARGIN = 0.1
DIVERGED_MIN_GAP = 1e-3


@dataclass
class EvalState:
    """One evaluation: where it was proposed, its attempts, and its final result if any."""

    eval_id: int
    params: dict[str, Any]
    x: list[float]
    t_submit: float
    decision_s: float
    attempt: int = 0
    job_id: str | None = None
    job_attempt: int | None = None
    final: dict[str, Any] | None = None
    failed_attempts: list[dict[str, Any]] = field(default_factory=list)
    #: the fidelity its strategy chose (a share of the full resource), where it chose one (strategies/mf_fidelity.py)
    fidelity: float | None = None

    @property
    def abandoned(self) -> bool:
        """Whether the current attempt already has a (non-final) result, so nothing runs it now."""
        return any(r.get("attempt", 0) == self.attempt for r in self.failed_attempts)


class RunState:
    """Evaluations by id, in the order they were proposed, and finished ones in the order they finished."""

    def __init__(self) -> None:
        self.evals: dict[int, EvalState] = {}
        self.finished: list[int] = []
        self.start: dict[str, Any] | None = None
        self.last_t = 0.0
        #: Final result records found again for an evaluation that had one (the first one stands).
        self.duplicates: list[dict[str, Any]] = []
        #: Records about an evaluation never submitted (its submit record was damaged and set
        #: aside): not applied, so that a resumed run can give that eval_id to a new point.
        self.orphans: list[dict[str, Any]] = []

    @classmethod
    def from_records(cls, records: list[dict[str, Any]]) -> RunState:
        """Replays a journal's records.

        Records are checked as the journal's reader checks them (strictly from record version 1
        on); :func:`bench.journal.read_records` has already set damaged lines apart.

        Raises:
            RecordError: a record lacks a field the state needs or has one of the wrong type
                (see :mod:`bench.run_folder.schema`); the message names the record and field.
        """
        state = cls()
        for i, rec in enumerate(records, start=1):
            version = rec.get("v", 0)
            check_record(rec, strict=isinstance(version, int) and version >= 1, where=f"journal.jsonl record {i}")
            state.apply(rec)
        return state

    def apply(self, rec: dict[str, Any]) -> None:
        event = rec.get("event")
        if event == "start" and self.start is None:
            self.start = rec
        elif event == "submit":
            eid = int(rec["eval_id"])
            ev = self.evals.get(eid)
            if ev is None:
                self.evals[eid] = EvalState(
                    eid, rec["params"], rec["x"], rec["t_submit"], rec.get("decision_s", 0.0), rec.get("attempt", 0)
                )
                self.evals[eid].fidelity = rec.get("fidelity")
            else:
                ev.attempt = rec.get("attempt", ev.attempt)
            self.last_t = max(self.last_t, _num(rec.get("t_submit")))
        elif event == "job":
            ev = self.evals.get(int(rec["eval_id"]))
            if ev is None:
                self.orphans.append(rec)
            else:
                ev.job_id, ev.job_attempt = rec.get("job_id"), rec.get("attempt", 0)
        elif event == "attach":
            if int(rec["eval_id"]) not in self.evals:
                self.orphans.append(rec)
        elif event == "result":
            ev = self.evals.get(int(rec["eval_id"]))
            if ev is None:
                self.orphans.append(rec)
                return
            if ev.final is not None:
                self.duplicates.append(rec)  # the first final record stands
                return
            if rec.get("final", True):
                ev.final = rec
                self.finished.append(ev.eval_id)
            else:
                ev.failed_attempts.append(rec)
            self.last_t = max(self.last_t, _num(rec.get("t_end")))
        elif event in ("rung", "promote"):  # a scheduled evaluation's segment ended, or it goes on
            ev = self.evals.get(int(rec["eval_id"]))
            if ev is not None:  # the job that ran the segment is done: a resume must never follow it
                ev.job_id = None
            if event == "rung":
                self.last_t = max(self.last_t, _num(rec.get("t_end")))

    # -- views -----------------------------------------------------------------------------
    @property
    def next_eval_id(self) -> int:
        return max(self.evals, default=-1) + 1

    def in_flight(self) -> list[EvalState]:
        """Evaluations submitted without a final result, by id."""
        return [ev for _, ev in sorted(self.evals.items()) if ev.final is None]

    def n_finished(self) -> int:
        return len(self.finished)

    def final(self, eval_id: int) -> dict[str, Any]:
        """The final result record of a finished evaluation (every id in :attr:`finished` has one)."""
        record = self.evals[eval_id].final
        if record is None:
            raise KeyError(f"evaluation {eval_id} has no final result")
        return record

    def finals(self) -> list[dict[str, Any]]:
        """The final result records, in the order the evaluations finished."""
        return [self.final(e) for e in self.finished]

    def history(self, dim: int, exclude: set[int] | None = None) -> History:
        """What the strategy sees; diverged values are imputed (see ``DIVERGED_MARGIN``)."""
        ok_x, ok_y, div_x, failed_x = [], [], [], []
        ok_ids, div_ids = [], []
        for eid in self.finished:
            if exclude and eid in exclude:
                continue
            ev, final = self.evals[eid], self.final(eid)
            status = final["status"]
            if status in (OK, STOPPED):  # stopped early: its value at the resource it reached
                ok_x.append(ev.x)
                ok_y.append(float(final["value"]))
                ok_ids.append(eid)
            elif status == DIVERGED:
                div_x.append(ev.x)
                div_ids.append(eid)
            else:
                failed_x.append(ev.x)
        if div_x and ok_y:
            worst, best = max(ok_y), min(ok_y)
            imputed = worst + max(DIVERGED_MARGIN * (worst - best), DIVERGED_MIN_GAP * max(1.0, abs(worst)))
            X = np.array(ok_x + div_x, dtype=float).reshape(-1, dim)
            y = np.array(ok_y + [imputed] * len(div_x), dtype=float)
            ids = ok_ids + div_ids
        else:
            # With no converged value there is nothing to be worse than: diverged points count as failed.
            failed_x += div_x
            X = np.array(ok_x, dtype=float).reshape(-1, dim)
            y = np.array(ok_y, dtype=float)
            ids = ok_ids
        history = History(X, y, np.array(failed_x, dtype=float).reshape(-1, dim))
        history.eval_ids = np.array(ids, dtype=int)
        return history

    def best(self) -> EvalState | None:
        oks = [e for e in self.finished if self.final(e)["status"] == OK]
        best = min(oks, key=lambda e: self.final(e)["value"], default=None)
        return None if best is None else self.evals[best]


def _num(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return 0.0
    return f if math.isfinite(f) else 0.0
