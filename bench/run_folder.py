"""Writes a run folder's derived files, results.csv and summary.json, from the run's state.

Both are rewritten atomically (write to a temporary file, then rename), so a reader never
sees half a file; the journal stays the source of truth.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
from pathlib import Path
from typing import Any

from bench.records import OK
from bench.state import RunState

RESULTS = "results.csv"
SUMMARY = "summary.json"
FIXED_COLUMNS = ("eval_id", "status", "value")
TAIL_COLUMNS = (
    "worker",
    "job_id",
    "attempt",
    "t_submit",
    "t_start",
    "t_end",
    "duration_s",
    "decision_s",
    "energy_kwh",
    "co2_kg",
    "carbon_method",
    "regret",
    "best_so_far",
    "message",
)


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, dict | list):
        return json.dumps(v, separators=(",", ":"))
    if isinstance(v, float) and not math.isfinite(v):
        return ""
    return v


def result_rows(state: RunState, optimum: float | None) -> list[dict[str, Any]]:
    """One row per finished evaluation, in the order they finished."""
    rows, best, best_true = [], math.inf, math.inf
    for eid in state.finished:
        ev = state.evals[eid]
        fin = ev.final or {}
        value = fin.get("value")
        metrics = fin.get("metrics") or {}
        if fin.get("status") == OK and value is not None:
            best = min(best, float(value))
            true = metrics.get("true_value", value)
            if isinstance(true, int | float):
                best_true = min(best_true, float(true))
        t_start, t_end = fin.get("t_start"), fin.get("t_end")
        duration = (t_end - t_start) if isinstance(t_start, int | float) and isinstance(t_end, int | float) else None
        row: dict[str, Any] = {"eval_id": eid, "status": fin.get("status"), "value": value}
        row.update({f"param.{k}": v for k, v in ev.params.items()})
        row.update({f"metric.{k}": v for k, v in metrics.items()})
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
            regret=(best_true - optimum) if optimum is not None and math.isfinite(best_true) else None,
            best_so_far=best if math.isfinite(best) else None,
            message=(fin.get("message") or "").splitlines()[0][:500] if fin.get("message") else None,
        )
        rows.append(row)
    return rows


def write_results(folder: Path, state: RunState, optimum: float | None) -> list[dict[str, Any]]:
    rows = result_rows(state, optimum)
    params = list(dict.fromkeys(k for r in rows for k in r if k.startswith("param.")))
    metrics = sorted(dict.fromkeys(k for r in rows for k in r if k.startswith("metric.")))
    columns = [*FIXED_COLUMNS, *params, *metrics, *TAIL_COLUMNS]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({c: _cell(r.get(c)) for c in columns})
    atomic_write(folder / RESULTS, buf.getvalue())
    return rows


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).resolve().parent
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("bobench", "torch", "botorch", "gpytorch", "scikit-learn", "hydra-core", "ax-platform", "codecarbon"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def write_summary(folder: Path, summary: dict[str, Any]) -> None:
    atomic_write(folder / SUMMARY, json.dumps(summary, indent=2, allow_nan=False, default=str) + "\n")
