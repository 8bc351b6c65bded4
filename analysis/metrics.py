"""Curves on a common grid, mean ± standard error over seeds, time-to-target and speed-up.

Conventions (see ``docs/analysis.md``):

- Best so far at grid point ``t`` is the best value among the run's evaluations that finished
  at or before ``t`` (``t_end <= t``; a step function), undefined before the first finished
  evaluation. A finished run's best stands after its end (so runs that stop at different
  times can be averaged to the longest one); a partial run's is undefined after its last
  evaluation, since what it would have found is unknown.
- Mean ± SE over the runs (seeds) of a line at each grid point: SE = sample standard
  deviation / sqrt(n); with one run the SE is undefined (NaN).
- Time-to-target: the evaluations, seconds and kg CO2e spent when a run's best so far first
  reaches ``<= target``. A run that never reaches it counts with what it spent in all
  (censored), and the line's mean is then a lower bound (``>=``); ``reached`` says how many did.
- Speed-up of a line against the baseline: baseline mean / line mean (> 1: faster), with the
  delta-method SE ``r * sqrt((se_b/m_b)^2 + (se/m)^2)``; a lower bound (``>=``) when only the
  baseline's mean is one, an upper bound (``<=``) when only the line's is, none when both are.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import UserError

AXES = {
    "evaluations": ("n", "evaluations"),
    "time": ("t_end", "time (s)"),
    "co2": ("co2_cum", "kg CO2e (evaluations + decisions)"),
}
GRID_POINTS = 200

#: The axis name of each ``objective.metric`` the built-in objectives know (the value is minimised).
METRIC_NAMES = {
    "neg_accuracy": "negative test accuracy",
    "neg_val_accuracy": "negative validation accuracy",
    "val_loss": "validation loss",
    "loss": "training loss",
}


def _number(v: Any) -> float | None:
    """A frame cell as a float (None where it is missing or not a number)."""
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None


def value_name(objective_config: Any, objective: str) -> str:
    """What a run's value is, for an axis: its ``objective.metric`` spelt out, else the objective's name.

    >>> value_name({"metric": "neg_accuracy", "cv": 3}, "mlp")
    'negative CV accuracy'
    >>> value_name({"space": {}}, "branin")
    'branin value'
    """
    metric = objective_config.get("metric") if isinstance(objective_config, Mapping) else None
    if not isinstance(metric, str) or not metric:
        return f"{objective} value"
    if metric == "neg_accuracy" and objective_config.get("cv"):
        return "negative CV accuracy"
    return METRIC_NAMES.get(metric, re.sub(r"^neg ", "negative ", metric.replace("_", " ")))


def decision_co2(records: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """When the driver made each decision and its kg CO2e, from the journal's submit records.

    A batch's decision is recorded as a share on each of its points; records without a figure
    (carbon off, a re-run after a failure) are left out.

    Returns:
        ``t_submit`` and ``decision_co2_kg`` of each submit record that has both, as arrays.
    """
    t, kg = [], []
    for rec in records:
        if rec.get("event") != "submit":
            continue
        ts, co2 = _number(rec.get("t_submit")), _number(rec.get("decision_co2_kg"))
        if ts is not None and co2 is not None and math.isfinite(ts) and math.isfinite(co2):
            t.append(ts)
            kg.append(co2)
    return np.asarray(t, dtype=float), np.asarray(kg, dtype=float)


def co2_spent(
    t_end: Sequence[float] | np.ndarray | pd.Series,
    eval_co2: Sequence[float] | np.ndarray | pd.Series,
    decision_t: np.ndarray,
    decision_kg: np.ndarray,
) -> np.ndarray:
    """kg CO2e spent by each finished evaluation's end: the driver's and the evaluations' alike.

    Row ``k`` (evaluations in the order they finished) counts the evaluations finished so far
    (rows ``0..k``) and every decision made before ``t_end[k]``, so a strategy's cost of deciding
    lies on the same axis as the cost of evaluating. NaN throughout when neither recorded CO2.
    """
    ends = np.asarray(pd.to_numeric(pd.Series(t_end), errors="coerce"), dtype=float)
    evals = np.asarray(pd.to_numeric(pd.Series(eval_co2), errors="coerce"), dtype=float)
    if not np.isfinite(evals).any() and not len(decision_kg):
        return np.full(len(ends), np.nan)
    spent = np.cumsum(np.where(np.isfinite(evals), evals, 0.0))
    if len(decision_kg):
        order = np.argsort(decision_t, kind="stable")
        made = np.concatenate([[0.0], np.cumsum(decision_kg[order])])
        # A missing end time (never expected) counts every decision; ends run in finishing order.
        at = np.maximum.accumulate(np.where(np.isfinite(ends), ends, np.inf)) if len(ends) else ends
        spent = spent + made[np.searchsorted(decision_t[order], at, side="left")]
    return spent


def log_scale_suits(values: Sequence[float] | np.ndarray, decades: float = 2.0) -> bool:
    """Whether a log axis suits the values: all finite ones positive and spanning more than ``decades``."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return bool(len(v)) and bool((v > 0).all()) and math.log10(float(v.max()) / float(v.min())) > decades


def mean_se(values: Sequence[float] | np.ndarray) -> tuple[float, float, int]:
    """Mean, standard error (ddof=1) and count of the finite values."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return math.nan, math.nan, 0
    se = float(np.std(v, ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return float(np.mean(v)), se, n


def step_best(x_end: np.ndarray, best: np.ndarray, grid: np.ndarray, x_stop: float) -> np.ndarray:
    """Best so far at each grid point: the last ``best`` with ``x_end <= t``; NaN outside the run.

    ``x_end`` must be sorted and ``best`` its running minimum (NaN before the first usable value).
    """
    idx = np.searchsorted(np.asarray(x_end, dtype=float), grid, side="right") - 1
    out = np.full(len(grid), np.nan)
    hit = idx >= 0
    out[hit] = np.asarray(best, dtype=float)[idx[hit]]
    out[grid > x_stop + 1e-12 * max(1.0, abs(x_stop))] = np.nan
    return out


def run_extent(evals: pd.DataFrame, axis: str, elapsed_s: float | None = None) -> float:
    """Where a run ends on an axis: its evaluation count, elapsed time or total CO2."""
    col = AXES[axis][0]
    x = pd.to_numeric(evals[col], errors="coerce")
    last = float(x.max()) if x.notna().any() else math.nan
    if axis == "time" and elapsed_s is not None and math.isfinite(elapsed_s):
        return max(last, elapsed_s) if math.isfinite(last) else elapsed_s
    return last


def make_grid(extents: Sequence[float], axis: str) -> np.ndarray:
    top = max((e for e in extents if math.isfinite(e)), default=math.nan)
    if not math.isfinite(top) or top <= 0:
        return np.zeros(0)
    if axis == "evaluations":
        return np.arange(1, round(top) + 1, dtype=float)
    return np.linspace(0.0, top, GRID_POINTS)


def curves(frame: pd.DataFrame, runs: pd.DataFrame, axis: str, y: str = "best") -> pd.DataFrame:
    """Every run's ``y`` (``best``: best so far, or ``regret``) on its objective's common grid, long format.

    Returns:
        columns objective, label, run, x, y.
    """
    col = AXES[axis][0]
    rows = []
    for objective, obj_frame in frame.groupby("objective", sort=True):
        obj_runs = runs[runs["objective"] == objective].set_index("run")
        parts = {run: df for run, df in obj_frame.groupby("run", sort=False)}
        usable = {r: df for r, df in parts.items() if pd.to_numeric(df[col], errors="coerce").notna().any()}
        extents = {r: run_extent(df, axis, _number(obj_runs.at[r, "elapsed_s"])) for r, df in usable.items()}
        grid = make_grid(list(extents.values()), axis)
        if not len(grid):
            continue
        for run, df in usable.items():
            df = (
                df.assign(_x=pd.to_numeric(df[col], errors="coerce"))
                .dropna(subset=["_x"])
                .sort_values("_x", kind="stable")
            )
            if y == "regret":
                opt = _number(obj_runs.at[run, "optimum"])
                if opt is None or not math.isfinite(opt):
                    continue
            # Both are the run folder's running values: best_so_far, and regret (noise-free best - optimum).
            yv = df["best_so_far" if y == "best" else "regret"].to_numpy(dtype=float)
            stop = math.inf if bool(obj_runs.at[run, "complete"]) else extents[run]
            values = step_best(df["_x"].to_numpy(dtype=float), yv, grid, stop)
            rows.append(
                pd.DataFrame(
                    {
                        "objective": objective,
                        "label": df["label"].iloc[0],
                        "run": run,
                        "x": grid,
                        "y": values,
                    }
                )
            )
    if not rows:
        return pd.DataFrame(columns=["objective", "label", "run", "x", "y"])
    return pd.concat(rows, ignore_index=True)


def aggregate(long: pd.DataFrame, min_seeds: int | None = None) -> pd.DataFrame:
    """Mean ± SE, median and quartiles over runs at each grid point, where at least ``min_seeds``
    runs (default all) have a value."""
    out = []
    for (objective, label), df in long.groupby(["objective", "label"], sort=True):
        n_runs = df["run"].nunique()
        need = n_runs if min_seeds is None else min(max(1, min_seeds), n_runs)
        for x, g in df.groupby("x", sort=True):
            values = g["y"].to_numpy(dtype=float)
            m, se, n = mean_se(values)
            if n >= need:
                q1, med, q3 = np.nanpercentile(values, [25, 50, 75])
                out.append((objective, label, x, m, se, n, med, q1, q3))
    return pd.DataFrame(out, columns=["objective", "label", "x", "mean", "se", "n", "median", "q1", "q3"])


# -- targets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """A per-objective number from the command line: ``VALUE``, ``OBJ=VALUE`` or ``VALUE%``."""

    value: float
    relative: bool = False


def parse_specs(items: Sequence[str] | None, option: str, allow_percent: bool = False) -> dict[str | None, Spec]:
    """Parses ``--target``/``--tolerance`` values; the key None applies to every objective."""
    specs: dict[str | None, Spec] = {}
    for item in items or []:
        key, _, text = item.rpartition("=") if "=" in item else (None, "", item)
        text = text.strip()
        relative = allow_percent and text.endswith("%")
        try:
            value = float(text[:-1] if relative else text)
        except ValueError:
            raise UserError(
                f"{option}: expected [OBJECTIVE=]NUMBER{'[%]' if allow_percent else ''}, got {item!r}"
            ) from None
        if not math.isfinite(value) or (allow_percent and value < 0):
            raise UserError(f"{option}: {item!r} is not a usable number")
        specs[key or None] = Spec(value / 100.0 if relative else value, relative)
    return specs


DEFAULT_TOLERANCE = Spec(0.05, relative=True)


def targets(
    frame: pd.DataFrame,
    target: Mapping[str | None, Spec] | None = None,
    tolerance: Mapping[str | None, Spec] | None = None,
) -> dict[str, tuple[float, str]]:
    """The target of each objective and how it was set.

    A given ``--target`` wins. Otherwise target = best found across all runs of the objective
    + tolerance; an absolute tolerance is in the value's units, a relative one (``5%``, the
    default) is that fraction of (median of all usable values - best found).
    """
    target = target or {}
    tolerance = tolerance or {}
    known = set(frame["objective"])
    for key in [*target, *tolerance]:
        if key is not None and key not in known:
            raise UserError(f"--target/--tolerance: no objective {key!r} in the runs (have {', '.join(sorted(known))})")
    out: dict[str, tuple[float, str]] = {}
    for group, df in frame.groupby("objective", sort=True):
        objective = str(group)
        given = target[objective] if objective in target else target.get(None)
        if given is not None:
            out[objective] = (given.value, "given by --target")
            continue
        values = df.loc[df["ok"], "value"].to_numpy(dtype=float)
        if not len(values):
            out[objective] = (math.nan, "no usable value")
            continue
        best, median = float(values.min()), float(np.median(values))
        tol = tolerance.get(objective, tolerance.get(None, DEFAULT_TOLERANCE))
        if tol.relative:
            slack = tol.value * (median - best)
            how = f"best found {best:.6g} + {tol.value:.3g} x (median {median:.6g} - best)"
        else:
            slack = tol.value
            how = f"best found {best:.6g} + tolerance {tol.value:.6g}"
        out[objective] = (best + slack, how)
    return out


def time_to_target(
    evals: pd.DataFrame, target: float, elapsed_s: float | None = None
) -> tuple[float, float, float, bool]:
    """(evaluations, seconds, kg CO2e) spent when the best so far first reaches ``<= target``.

    A run that never reaches it is censored: the figures are then what the whole run spent
    (a lower bound), and the last element, ``reached``, is False.
    """
    if not math.isfinite(target) or evals.empty:
        return math.nan, math.nan, math.nan, False
    hit = evals.index[evals["best_so_far"] <= target]
    reached = bool(len(hit))
    row = evals.loc[hit[0]] if reached else evals.iloc[-1]
    co2 = row.get("co2_cum", math.nan)
    t = float(row["t_end"])
    if not reached:
        t = run_extent(evals, "time", elapsed_s)
    return float(row["n"]), t, float(co2) if pd.notna(co2) else math.nan, reached


def ratio_se(m_b: float, se_b: float, m: float, se: float) -> tuple[float, float]:
    """``m_b / m`` and its delta-method standard error (independent estimates)."""
    if not (math.isfinite(m_b) and math.isfinite(m)) or m == 0:
        return math.nan, math.nan
    r = m_b / m
    if not (math.isfinite(se_b) and math.isfinite(se)) or m_b == 0:
        return r, math.nan
    return r, abs(r) * math.sqrt((se_b / m_b) ** 2 + (se / m) ** 2)


def pick_baseline(labels: Sequence[str], wanted: str | None) -> str:
    """The baseline line: ``wanted`` (a label or a strategy name), else random search, else the first."""
    labels = sorted(set(labels))
    if wanted is not None:
        if wanted in labels:
            return wanted
        matches = [lab for lab in labels if re.split(r" \(", lab)[0] == wanted]
        if len(matches) == 1:
            return matches[0]
        raise UserError(f"--baseline: {wanted!r} is not one of the strategies ({', '.join(labels)})")
    return next((lab for lab in labels if "random" in lab.lower()), labels[0])


def summary_table(
    frame: pd.DataFrame,
    runs: pd.DataFrame,
    target_of: Mapping[str, tuple[float, str]],
    baseline: str | None = None,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """One row per objective × line: time-to-target, speed-up, final regret, CO2, utilisation.

    Returns:
        the table (``*_mean`` / ``*_se`` columns) and the baseline used per objective.
    """
    rows, baselines = [], {}
    if baseline is not None:
        pick_baseline(list(runs["label"]), baseline)  # raises if no line is called so
    for objective_key, obj_runs in runs.groupby("objective", sort=True):
        objective = str(objective_key)
        target, _ = target_of.get(objective, (math.nan, ""))
        per_label: dict[str, dict[str, Any]] = {}
        for label_key, lab_runs in obj_runs.groupby("label", sort=True):
            label = str(label_key)
            ttt, finals, regrets = [], [], []
            for run, elapsed in zip(lab_runs["run"], lab_runs["elapsed_s"], strict=True):
                ev = frame[frame["run"] == run]
                ttt.append(time_to_target(ev, target, elapsed))
                finals.append(ev["best_so_far"].iloc[-1] if len(ev) else math.nan)
                regrets.append(ev["regret"].iloc[-1] if len(ev) else math.nan)
            reached = np.array([t[3] for t in ttt], dtype=bool)
            ttt_arr = np.array([t[:3] for t in ttt], dtype=float).reshape(-1, 3)
            row: dict[str, Any] = {
                "objective": objective,
                "strategy": label,
                "n_seeds": len(lab_runs),
                "target": target,
                "reached": int(reached.sum()),
                # ">=": some run never reached the target, so its figures (what it spent) and the
                # mean are lower bounds.
                "to_target_bound": ">=" if math.isfinite(target) and not reached.all() else "",
            }
            for i, name in enumerate(("evals_to_target", "time_to_target_s", "co2_to_target_kg")):
                row[f"{name}_mean"], row[f"{name}_se"], _ = mean_se(ttt_arr[:, i])
            for name, values in (
                ("final_best", finals),
                ("final_regret", regrets),
                ("co2_kg", lab_runs["co2_kg"].astype(float).to_numpy()),
                ("utilisation", lab_runs["utilisation"].astype(float).to_numpy()),
            ):
                row[f"{name}_mean"], row[f"{name}_se"], _ = mean_se(values)
            per_label[label] = row
            rows.append(row)
        try:
            base = pick_baseline(list(per_label), baseline)
        except UserError:  # the baseline did not run on this objective: no speed-up here
            continue
        baselines[objective] = base
        b = per_label[base]
        for label, row in per_label.items():
            # baseline mean / line mean: a lower bound if only the baseline's mean is one, an
            # upper bound if only the line's is, unknown if both are.
            bound = {("", ""): "", (">=", ""): ">=", ("", ">="): "<="}.get(
                (b["to_target_bound"], row["to_target_bound"])
            )
            if label == base:
                bound = ""
            row["speedup_bound"] = bound if bound is not None else ""
            for name, col in (("speedup_evals", "evals_to_target"), ("speedup_time", "time_to_target_s")):
                if label == base:
                    ok = math.isfinite(b[f"{col}_mean"])
                    row[f"{name}_mean"], row[f"{name}_se"] = (1.0 if ok else math.nan), math.nan
                elif bound is None:
                    row[f"{name}_mean"], row[f"{name}_se"] = math.nan, math.nan
                else:
                    row[f"{name}_mean"], row[f"{name}_se"] = ratio_se(
                        b[f"{col}_mean"], b[f"{col}_se"], row[f"{col}_mean"], row[f"{col}_se"]
                    )
    table = pd.DataFrame(rows)
    for name in ("speedup_evals", "speedup_time"):
        for suffix in ("_mean", "_se"):
            if f"{name}{suffix}" not in table:
                table[f"{name}{suffix}"] = math.nan
    if "speedup_bound" not in table:
        table["speedup_bound"] = ""
    table["speedup_bound"] = table["speedup_bound"].fillna("")
    return table, baselines
