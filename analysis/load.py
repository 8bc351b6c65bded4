"""Loads run folders into one tidy frame, reading only JSON, CSV and YAML (never pickles).

A run folder holds ``results.csv``, ``journal.jsonl``, ``summary.json`` and ``.hydra/``;
any folder given is searched for run folders (a Hydra multirun folder holds one per job). A
partial run (no ``summary.json``) is derived from ``results.csv``, or from ``journal.jsonl``
when that is missing too. Whatever is left out is said in :attr:`Loaded.notes`.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from bench.errors import UserError
from bench.records import OK

RUN_FILES = ("results.csv", "journal.jsonl", "summary.json")
NUMERIC = (
    "eval_id",
    "value",
    "attempt",
    "t_submit",
    "t_start",
    "t_end",
    "duration_s",
    "decision_s",
    "energy_kwh",
    "co2_kg",
    "regret",
    "best_so_far",
)


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


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def _read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


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


def _journal_events(path: Path, notes: list[str]) -> list[dict[str, Any]]:
    events, bad = [], 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(event, dict):
            events.append(event)
    if bad:
        notes.append(f"{path}: {bad} unreadable line(s) skipped (a run cut off while writing?)")
    return events


def _rows_from_journal(events: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per final result, in the layout of results.csv."""
    submits: dict[Any, dict[str, Any]] = {}
    finals: dict[Any, dict[str, Any]] = {}
    for ev in events:
        kind = ev.get("event", ev.get("type"))
        if kind == "submit":
            submits[ev.get("eval_id")] = ev
        elif kind == "result" and ev.get("final", True):
            finals[ev.get("eval_id")] = ev
    rows = []
    for eval_id, res in finals.items():
        sub = submits.get(eval_id, {})
        row: dict[str, Any] = {
            k: res.get(k)
            for k in (
                "eval_id",
                "status",
                "value",
                "worker",
                "job_id",
                "attempt",
                "t_start",
                "t_end",
                "energy_kwh",
                "co2_kg",
                "carbon_method",
                "message",
            )
        }
        row["t_submit"] = sub.get("t_submit")
        row["decision_s"] = sub.get("decision_s")
        for name, v in (sub.get("params") or {}).items():
            row[f"param.{name}"] = v
        for name, v in (res.get("metrics") or {}).items():
            row[f"metric.{name}"] = json.dumps(v) if isinstance(v, list | dict) else v
        rows.append(row)
    return pd.DataFrame(rows)


def _coerce(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for col in NUMERIC:
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    for col in [c for c in df.columns if c.startswith(("metric.", "param."))]:
        numeric = pd.to_numeric(df[col], errors="coerce")
        if numeric.notna().sum() == df[col].notna().sum():  # keep text (lists, categories)
            df[col] = numeric
    if "status" not in df:
        df["status"] = OK
    df["status"] = df["status"].astype(str)
    if "duration_s" not in df and {"t_start", "t_end"} <= set(df.columns):
        df["duration_s"] = df["t_end"] - df["t_start"]
    return df


def _derive(df: pd.DataFrame, optimum: float | None) -> pd.DataFrame:
    """Completion order ``n``, ``ok``, best so far, regret and cumulative CO2 of one run."""
    if "t_end" not in df:
        df["t_end"] = np.nan
    df = df.sort_values(["t_end", "eval_id"], na_position="last", kind="stable").reset_index(drop=True)
    df["n"] = np.arange(1, len(df) + 1)
    value = pd.to_numeric(df.get("value"), errors="coerce") if "value" in df else pd.Series(np.nan, index=df.index)
    df["value"] = value.where(np.isfinite(value))
    df["ok"] = (df["status"] == OK) & df["value"].notna()
    df["best"] = _running_min(df["value"].where(df["ok"]))
    # Regret follows the driver: the best noise-free value (metric.true_value) where there is one.
    truth = df["value"]
    if "metric.true_value" in df:
        true = pd.to_numeric(df["metric.true_value"], errors="coerce")
        truth = true.where(true.notna(), df["value"])
    df["best_true"] = _running_min(truth.where(df["ok"]))
    df["regret"] = df["best_true"] - optimum if optimum is not None else np.nan
    co2 = pd.to_numeric(df["co2_kg"], errors="coerce") if "co2_kg" in df else pd.Series(np.nan, index=df.index)
    df["co2_kg"] = co2
    df["co2_cum"] = co2.fillna(0.0).cumsum() if co2.notna().any() else np.nan
    return df


def _running_min(values: pd.Series) -> np.ndarray:
    usable = pd.to_numeric(values, errors="coerce").fillna(np.inf).to_numpy(dtype=float)
    best = np.minimum.accumulate(usable) if len(usable) else usable
    return np.where(np.isfinite(best), best, np.nan)


def _optimum_from_results(df: pd.DataFrame) -> float | None:
    """optimum = best (noise-free) value so far - regret, from results.csv's own columns."""
    if "regret" not in df:
        return None
    ok = (df["status"] == OK) & np.isfinite(pd.to_numeric(df.get("value"), errors="coerce"))
    truth = df["value"]
    if "metric.true_value" in df:
        true = pd.to_numeric(df["metric.true_value"], errors="coerce")
        truth = true.where(true.notna(), df["value"])
    diff = pd.Series(_running_min(truth.where(ok)), index=df.index) - df["regret"]
    diff = diff.dropna()
    return float(diff.iloc[0]) if len(diff) else None


def load_run(path: Path, notes: list[str]) -> Run | None:
    """Loads one run folder, or returns None with the reason in ``notes``."""
    summary: dict[str, Any] = {}
    if (path / "summary.json").is_file():
        try:
            summary = _read_json(path / "summary.json") or {}
        except (OSError, ValueError) as exc:
            notes.append(f"{path}: summary.json unreadable ({exc}); treated as a partial run")
        if not isinstance(summary, dict):
            notes.append(f"{path}: summary.json is not a JSON object; treated as a partial run")
            summary = {}
    config = choices = None
    try:
        if (path / ".hydra" / "config.yaml").is_file():
            config = _read_yaml(path / ".hydra" / "config.yaml")
        if (path / ".hydra" / "hydra.yaml").is_file():
            choices = _get(_read_yaml(path / ".hydra" / "hydra.yaml"), "hydra", "runtime", "choices")
    except (OSError, yaml.YAMLError) as exc:
        notes.append(f"{path}: .hydra config unreadable ({exc})")
    events: list[dict[str, Any]] = []
    if (path / "journal.jsonl").is_file():
        try:
            events = _journal_events(path / "journal.jsonl", notes)
        except OSError as exc:
            notes.append(f"{path}: journal.jsonl unreadable ({exc})")
    start = next((e for e in events if e.get("event", e.get("type")) == "start"), {})
    if config is None and isinstance(start.get("config"), dict):
        config = start["config"]

    df, source = None, None
    if (path / "results.csv").is_file():
        try:
            df, source = pd.read_csv(path / "results.csv"), "results.csv"
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            notes.append(f"{path}: results.csv unreadable ({type(exc).__name__}); trying journal.jsonl")
    if events:
        # The journal is the source of truth and runs ahead of results.csv (refreshed every few
        # seconds) while a run is being written: take it when it knows more.
        journal_df = _rows_from_journal(events)
        if df is None or len(journal_df) > len(df):
            if df is not None:
                notes.append(f"{path}: results.csv is behind the journal (a run in progress?); read journal.jsonl")
            df, source = journal_df, "journal.jsonl"
    if df is None or df.empty:
        notes.append(f"{path}: left out, no finished evaluations")
        return None
    df = _coerce(df)

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
    optimum = _finite(summary.get("optimum"))
    if optimum is None:
        optimum = _optimum_from_results(df)
    clock = pick(summary.get("clock"), start.get("clock"), "simulated" if "sim" in str(executor).lower() else "wall")
    meta: dict[str, Any] = {
        "run": str(path),
        "objective": str(objective),
        "strategy": str(strategy),
        "executor": str(executor),
        "experiment": str(pick(_get(choices, "experiment"), summary.get("experiment"), "")),
        "arm": pick(_get(choices, "arm"), summary.get("arm")),
        "mode": str(pick(summary.get("mode"), _get(config, "mode"), "sync")),
        "workers": int(pick(_finite(summary.get("workers")), _finite(_get(config, "workers")), 1)),
        "seed": pick(summary.get("seed"), _get(config, "seed"), start.get("seed")),
        "clock": str(clock),
        "optimum": optimum,
        "complete": bool(summary) and (not events or events[-1].get("event") == "end"),
        "source": source,
        "space": _get(config, "objective", "space"),
    }
    df = _derive(df, optimum)
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
    if utilisation is None and {"t_start", "t_end"} <= set(df.columns) and meta["elapsed_s"]:
        busy = (df["t_end"] - df["t_start"]).clip(lower=0).sum()
        utilisation = float(busy / (meta["workers"] * meta["elapsed_s"])) if meta["elapsed_s"] > 0 else None
    meta["utilisation"] = utilisation
    co2_total = summary.get("co2_kg")
    co2_total = _finite(co2_total.get("total")) if isinstance(co2_total, dict) else _finite(co2_total)
    meta["co2_source"] = "summary.json total (evaluations + driver)" if co2_total is not None else "evaluations"
    if co2_total is None and df["co2_kg"].notna().any():
        co2_total = float(df["co2_kg"].sum())
    meta["co2_kg"] = co2_total
    methods = df["carbon_method"].dropna().astype(str) if "carbon_method" in df else pd.Series([], dtype=str)
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
        for key in ("run", "objective", "strategy", "label", "executor", "mode", "workers", "seed", "clock", "optimum"):
            df[key] = run.meta[key]
        frames.append(df)
    frame = pd.concat(frames, ignore_index=True, sort=False)
    runs_frame = pd.DataFrame([{k: v for k, v in r.meta.items() if k != "space"} for r in runs])
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
