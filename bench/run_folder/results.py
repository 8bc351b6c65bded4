"""results.csv: one row per finished evaluation, derived from the run's state; its columns defined once.

Rows come in the order the evaluations finished on the run's clock (``t_end``, then
``eval_id``; a result without an end time last), and ``best_so_far`` and ``regret`` are running
values in that order. While the run goes on the driver appends rows to the file
(:class:`bench.run_folder.results_file.ResultsFile`) so that it always holds the text
:func:`results_csv_text` gives for the rows finished so far; the journal stays the source of
truth, and :func:`bench.run_folder.rows_from_journal` rebuilds the same rows. A process killed
in the middle of an append leaves a torn last row: :func:`split_torn_tail` finds it, readers
skip it, and the next driver rewrites the file.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.records import OK
from bench.run_folder.files import RESULTS, atomic_write
from bench.run_folder.schema import as_float

if TYPE_CHECKING:
    from bench.run_folder.state import EvalState, RunState

#: Prefixes of the columns named after the search space's parameters and the objective's metrics.
PARAM = "param."
METRIC = "metric."
#: The column of a scheduled run (``scheduler=asha``): the resource each evaluation reached (epochs,
#: iterations, a fidelity level); absent from an unscheduled run's results.csv.
FIDELITY = "fidelity"


@dataclass(frozen=True)
class Column:
    """A fixed column of results.csv: its name, ``int``, ``float`` or ``text``, and what it holds."""

    name: str
    kind: str
    meaning: str


#: Before the ``param.*`` and ``metric.*`` columns.
HEAD = (
    Column("eval_id", "int", "the evaluation's id, in the order points were proposed"),
    Column("status", "text", "ok, diverged, error, invalid, crashed, timeout, cancelled, lost or stopped"),
    Column("value", "float", "the value to minimise (empty unless ok or stopped: a stopped one keeps its last)"),
)
#: After the ``param.*`` and ``metric.*`` columns.
TAIL = (
    Column("worker", "text", "where it ran"),
    Column("job_id", "text", "the executor's job id (Slurm)"),
    Column("attempt", "int", "re-runs after infrastructure failures before this result"),
    Column("t_submit", "float", "seconds on the run's clock when it was submitted"),
    Column("t_start", "float", "seconds on the run's clock when it started"),
    Column("t_end", "float", "seconds on the run's clock when it ended"),
    Column("duration_s", "float", "t_end - t_start"),
    Column("decision_s", "float", "the strategy's time to propose it (a batch's time shared by its points)"),
    Column("energy_kwh", "float", "the evaluation's energy"),
    Column("co2_kg", "float", "the evaluation's emissions (kg CO2e)"),
    Column("carbon_method", "text", "how energy and CO2 were measured"),
    Column("regret", "float", "best noise-free value so far (metric.true_value, else value) - the optimum"),
    Column("best_so_far", "float", "best value among the ok evaluations finished so far"),
    Column("message", "text", "the first line of what went wrong"),
)
FIXED_COLUMNS = tuple(c.name for c in HEAD)
TAIL_COLUMNS = tuple(c.name for c in TAIL)
NUMERIC_COLUMNS = tuple(c.name for c in (*HEAD, *TAIL) if c.kind in ("int", "float"))


def finish_key(ev: EvalState) -> tuple[bool, float, int]:
    """Where a finished evaluation's row goes: by end time on the run's clock, then eval_id (no end time: last)."""
    t_end = as_float((ev.final or {}).get("t_end"))
    return t_end is None, t_end if t_end is not None else 0.0, ev.eval_id


def finish_order(state: RunState) -> list[int]:
    """Finished evaluations in the order of their rows (:func:`finish_key`)."""
    return sorted(state.finished, key=lambda eid: finish_key(state.evals[eid]))


@dataclass
class RowMaker:
    """Makes rows one after the other in finish order, carrying the running best values."""

    optimum: float | None
    best: float = math.inf
    best_true: float = math.inf

    def row(self, ev: EvalState) -> dict[str, Any]:
        """The row of a finished evaluation, the next in finish order (see the module docstring)."""
        fin = ev.final or {}
        value = fin.get("value")
        metrics = fin.get("metrics") or {}
        if fin.get("status") == OK and value is not None:
            self.best = min(self.best, float(value))
            true = metrics.get("true_value", value)
            if isinstance(true, int | float):
                self.best_true = min(self.best_true, float(true))
        t_start, t_end = fin.get("t_start"), fin.get("t_end")
        duration = (t_end - t_start) if isinstance(t_start, int | float) and isinstance(t_end, int | float) else None
        optimum = self.optimum
        row: dict[str, Any] = {"eval_id": ev.eval_id, "status": fin.get("status"), "value": value}
        if "fidelity" in fin:  # a scheduled run's (bench/schedulers): the resource the evaluation reached
            row[FIDELITY] = fin["fidelity"]
        row.update({f"{PARAM}{k}": v for k, v in ev.params.items()})
        row.update({f"{METRIC}{k}": v for k, v in metrics.items()})
        row.update(
            worker=fin.get("worker"),
            job_id=fin.get("job_id") or ev.job_id,
            attempt=fin.get("attempt", 0),
            t_submit=ev.t_submit,
            t_start=t_start,
            t_end=t_end,
            duration_s=duration,
            decision_s=ev.decision_s,
            energy_kwh=fin.get("energy_kwh"),
            co2_kg=fin.get("co2_kg"),
            carbon_method=fin.get("carbon_method"),
            regret=(self.best_true - optimum) if optimum is not None and math.isfinite(self.best_true) else None,
            best_so_far=self.best if math.isfinite(self.best) else None,
            message=(fin.get("message") or "").splitlines()[0][:500] if fin.get("message") else None,
        )
        return row


def result_rows(state: RunState, optimum: float | None) -> list[dict[str, Any]]:
    """One row per finished evaluation (see the module docstring), keyed by column name."""
    maker = RowMaker(optimum)
    return [maker.row(state.evals[eid]) for eid in finish_order(state)]


def results_columns(rows: Iterable[dict[str, Any]]) -> list[str]:
    """The header of results.csv for these rows: fixed, parameters (in order), metrics (sorted), tail."""
    rows = list(rows)
    params = list(dict.fromkeys(k for r in rows for k in r if k.startswith(PARAM)))
    metrics = sorted(dict.fromkeys(k for r in rows for k in r if k.startswith(METRIC)))
    fidelity = [FIDELITY] if any(FIDELITY in r for r in rows) else []
    return [*FIXED_COLUMNS, *fidelity, *params, *metrics, *TAIL_COLUMNS]


def cell(v: Any) -> Any:
    """How a value is written in results.csv: empty for null and non-finite, JSON for lists and mappings."""
    if v is None:
        return ""
    if isinstance(v, dict | list):
        return json.dumps(v, separators=(",", ":"))
    if isinstance(v, float) and not math.isfinite(v):
        return ""
    return v


def results_csv_text(rows: Sequence[dict[str, Any]]) -> str:
    """results.csv's text for these rows: what :func:`write_results` writes."""
    return csv_lines(rows, results_columns(rows), header=True)


def csv_lines(rows: Iterable[dict[str, Any]], columns: Sequence[str], header: bool = False) -> str:
    """These rows as lines of results.csv under ``columns`` (after the header line, with ``header``)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    if header:
        writer.writeheader()
    for r in rows:
        writer.writerow({c: cell(r.get(c)) for c in columns})
    return buf.getvalue()


def split_torn_tail(text: str) -> tuple[str, str]:
    """results.csv's text as ``(its complete lines, a torn last row or "")``.

    Every row the driver writes ends with a newline outside quotes (CSV doubles a quote inside a
    quoted cell, so a newline ends a row exactly where the quotes before it are even); a process
    killed in the middle of an append leaves a last row without one.
    """
    total = text.count('"')
    if not text or (text.endswith("\n") and total % 2 == 0):
        return text, ""
    end, quotes_after = len(text), 0
    while True:
        newline = text.rfind("\n", 0, end)
        if newline < 0:
            return "", text
        quotes_after += text.count('"', newline + 1, end)
        if (total - quotes_after) % 2 == 0:
            return text[: newline + 1], text[newline + 1 :]
        end = newline


def write_results(folder: Path, state: RunState, optimum: float | None) -> list[dict[str, Any]]:
    """Rewrites results.csv from the state, atomically; returns its rows."""
    rows = result_rows(state, optimum)
    atomic_write(folder / RESULTS, results_csv_text(rows))
    return rows
