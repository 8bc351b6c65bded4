"""Loads run folders into one tidy frame, reading only JSON, CSV and YAML (never pickles).

Each run folder is read by :func:`bench.run_folder.read_run`, the reader the driver resumes
with: the journal (live or finished), the state replayed from it, then the rows of
results.csv rebuilt from that state (results.csv itself only where there is no usable
journal). Best so far, regret, the optimum and each evaluation's unit point are taken from
the run folder, never worked out again. Any folder given is searched for run folders (a
Hydra multirun folder holds one per job); whatever is left out is said in :attr:`Loaded.notes`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.metrics import co2_spent, decision_co2, value_name
from bench.errors import UserError
from bench.records import OK
from bench.run_folder import RUN_FILES, RunFolder, read_run


@dataclass
class Run:
    """One run folder: its description (``meta``) and its finished evaluations (``evals``)."""

    path: Path
    meta: dict[str, Any]
    evals: pd.DataFrame


@dataclass
class Loaded:
    """Every run, the tidy frame of all evaluations, one row per run, and what was left out."""

    runs: list[Run]
    frame: pd.DataFrame
    runs_frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def is_run_folder(path: Path) -> bool:
    return any((path / name).is_file() for name in RUN_FILES)


def find_run_folders(path: Path) -> list[Path]:
    """Run folders at or under ``path`` (hidden folders such as ``.hydra`` are skipped)."""
    if is_run_folder(path):
        return [path]
    found: list[Path] = []
    try:
        children = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return found
    for child in children:
        found.extend(find_run_folders(child))
    return found


def _get(d: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _target_name(node: Any) -> str | None:
    target = _get(node, "_target_")
    return str(target).rsplit(".", 1)[-1] if target else None


def _finite(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _evals(folder: RunFolder) -> pd.DataFrame:
    """The run folder's rows, in the order they finished, with what analysis adds to them.

    ``best_so_far``, ``regret`` and the unit point ``x`` are the run folder's own; added are the
    completion count ``n``, ``ok`` (a usable value) and ``co2_cum``, the kg CO2e spent by each
    evaluation's end, the driver's decisions included (:func:`analysis.metrics.co2_spent`).
    """
    df = folder.frame().reset_index(drop=True)
    df["n"] = np.arange(1, len(df) + 1)
    df["value"] = df["value"].where(np.isfinite(df["value"]))
    df["ok"] = (df["status"] == OK) & df["value"].notna()
    df["co2_cum"] = co2_spent(df["t_end"], df["co2_kg"], *decision_co2(folder.records))
    return df


def load_run(path: Path, notes: list[str]) -> Run | None:
    """Loads one run folder (see :func:`bench.run_folder.read_run`), or returns None with the reason in ``notes``."""
    folder = read_run(path)
    notes.extend(folder.notes)
    if not folder.rows:
        notes.append(f"{path}: left out, no finished evaluations")
        return None
    df = _evals(folder)
    summary, config, choices = folder.summary, folder.config, folder.choices

    def pick(*values: Any) -> Any:
        return next((v for v in values if v is not None and v != ""), None)

    objective = pick(
        _get(choices, "objective"),
        summary.get("objective"),
        _get(config, "objective", "name"),
        _target_name(_get(config, "objective")),
        "objective",
    )
    strategy = pick(
        _get(choices, "strategy"), summary.get("strategy"), _target_name(_get(config, "strategy")), "strategy"
    )
    executor = pick(
        _get(choices, "executor"), summary.get("executor"), _target_name(_get(config, "executor")), "unknown"
    )
    clock = pick(summary.get("clock"), "simulated" if "sim" in str(executor).lower() else "wall")
    meta: dict[str, Any] = {
        "run": str(path),
        "objective": str(objective),
        "strategy": str(strategy),
        "executor": str(executor),
        "experiment": str(pick(_get(choices, "experiment"), summary.get("experiment"), "")),
        "arm": pick(_get(choices, "arm"), summary.get("arm")),
        "mode": str(pick(summary.get("mode"), _get(config, "mode"), "sync")),
        "workers": int(pick(_finite(summary.get("workers")), _finite(_get(config, "workers")), 1)),
        "seed": pick(summary.get("seed"), _get(config, "seed"), folder.start.get("seed")),
        "clock": str(clock),
        "optimum": folder.optimum,
        "complete": folder.complete,
        "source": folder.source,
        "space": _get(config, "objective", "space"),
        "value_name": value_name(_get(config, "objective"), str(objective)),
        "co2_decisions": bool(len(decision_co2(folder.records)[1])),
        "claims": _get(config, "claims") or [],  # what the run's preset says it reproduces
    }
    meta["n_evals"] = len(df)
    meta["n_failed"] = int((~df["ok"]).sum())
    last_t = float(df["t_end"].max()) if df["t_end"].notna().any() else math.nan
    elapsed = _finite(summary.get("elapsed_s"))
    meta["elapsed_s"] = (
        max(elapsed, last_t)
        if elapsed is not None and math.isfinite(last_t)
        else (elapsed if elapsed is not None else last_t)
    )
    utilisation = _finite(summary.get("utilisation"))
    if utilisation is None and meta["elapsed_s"]:
        busy = df["duration_s"].clip(lower=0).sum()
        utilisation = float(busy / (meta["workers"] * meta["elapsed_s"])) if meta["elapsed_s"] > 0 else None
    meta["utilisation"] = utilisation
    co2_total = summary.get("co2_kg")
    co2_total = _finite(co2_total.get("total")) if isinstance(co2_total, dict) else _finite(co2_total)
    meta["co2_source"] = "summary.json total (evaluations + driver)" if co2_total is not None else "evaluations"
    if co2_total is None and df["co2_kg"].notna().any():
        co2_total = float(df["co2_kg"].sum())
    meta["co2_kg"] = co2_total
    methods = df["carbon_method"].dropna().astype(str)
    meta["carbon_method"] = ", ".join(sorted(set(methods))) or None
    return Run(path=path, meta=meta, evals=df)


def _labels(runs: Sequence[Run]) -> None:
    """A line label per run: the strategy, plus the settings that differ within an objective."""
    by_obj: dict[str, list[Run]] = {}
    for run in runs:
        by_obj.setdefault(run.meta["objective"], []).append(run)
    for group in by_obj.values():
        varying = [k for k in ("experiment", "executor", "mode", "workers") if len({r.meta[k] for r in group}) > 1]
        for run in group:
            extra = []
            for k in varying:
                v = run.meta[k]
                extra.append(f"w={v}" if k == "workers" else str(v) or f"no {k}")
            # A paper's named arm (asyTS, synTS...) says strategy and mode in one word.
            name = run.meta.get("arm") or run.meta["strategy"]
            extra = [e for e, k in zip(extra, varying, strict=True) if not (run.meta.get("arm") and k == "mode")]
            run.meta["label"] = name + (f" ({', '.join(extra)})" if extra else "")


def load_runs(paths: Iterable[str | Path]) -> Loaded:
    """Loads every run under ``paths``.

    Raises:
        UserError: a path is missing, is not a folder, or holds no readable run.
    """
    notes: list[str] = []
    runs: list[Run] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise UserError(f"{raw}: no such folder")
        if not path.is_dir():
            raise UserError(f"{raw}: not a folder (give run folders or multirun folders)")
        folders = find_run_folders(path)
        if not folders:
            raise UserError(f"{raw}: no run folder (results.csv, journal.jsonl or summary.json) in it")
        loaded_here = 0
        for folder in folders:
            key = folder.resolve()
            if key in seen:
                continue
            seen.add(key)
            run = load_run(folder, notes)
            if run is not None:
                runs.append(run)
                loaded_here += 1
        if not loaded_here:
            raise UserError(f"{raw}: no readable run ({'; '.join(n.split(': ', 1)[-1] for n in notes[-3:])})")
    _labels(runs)
    frames = []
    for run in runs:
        df = run.evals.copy()
        for column in (
            "run",
            "objective",
            "strategy",
            "label",
            "executor",
            "mode",
            "workers",
            "seed",
            "clock",
            "optimum",
        ):
            df[column] = run.meta[column]
        frames.append(df)
    frame = pd.concat(frames, ignore_index=True, sort=False)
    runs_frame = pd.DataFrame([{k: v for k, v in r.meta.items() if k not in ("space", "claims")} for r in runs])
    notes.extend(_summary_notes(runs))
    return Loaded(runs=runs, frame=frame, runs_frame=runs_frame, notes=notes)


def _summary_notes(runs: Sequence[Run]) -> list[str]:
    notes = []
    partial = [r for r in runs if not r.meta["complete"]]
    if partial:
        notes.append(
            f"{len(partial)} partial run(s) without summary.json, derived from results.csv or "
            f"journal.jsonl: {', '.join(r.meta['run'] for r in partial)}"
        )
    statuses: Counter[str] = Counter()
    nan_ok = 0
    for r in runs:
        bad = r.evals[~r.evals["ok"]]
        statuses.update(bad["status"][bad["status"] != OK])
        nan_ok += int((bad["status"] == OK).sum())
    if statuses:
        listed = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
        notes.append(
            f"{sum(statuses.values())} failed evaluation(s) ({listed}): counted as spent "
            "evaluations, time and CO2, left out of best-so-far values"
        )
    if nan_ok:
        notes.append(
            f"{nan_ok} evaluation(s) with status ok but a missing or non-finite value: left out of best-so-far values"
        )
    no_co2 = [r for r in runs if r.meta["co2_kg"] is None]
    if no_co2:
        notes.append(f"{len(no_co2)} run(s) without CO2 figures (carbon off?): left out of CO2 plots")
    return notes
