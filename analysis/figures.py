"""The report's figures, written as PNG and PDF (matplotlib's Agg backend, seaborn's theme).

- convergence: best so far and simple regret against evaluations, time and kg CO2e (the
  evaluations' and the driver's decisions'), a step line per strategy, mean ± SE over seeds
  where there are several (see :mod:`analysis.metrics`), on a log axis when the values span
  more than two decades;
- Figure 1 of the worksheet: negative train/test accuracy and the value against the learning
  rate of a grid run;
- for a 1-D run, a BoTorch ``SingleTaskGP`` fitted on the journal's unit-cube points of the
  first k evaluations, with its posterior and LogEI (what GPyOpt's ``plot_acquisition``
  shows), and the convergence plot (distance between consecutive points, best value so far;
  GPyOpt's ``plot_convergence``);
- the CNN's training and validation loss per epoch.

Axes name what the value is (``objective.metric`` spelt out, e.g. "negative test accuracy",
else "<objective> value"; :func:`analysis.metrics.value_name`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from analysis.load import Loaded, Run
from analysis.metrics import AXES, aggregate, curves, log_scale_suits
from bench.errors import UserError
from bench.run_folder import UNIT_POINT

FORMATS = ("png", "pdf")


@dataclass
class Figure:
    """A written figure: its section in the report, title, files and caption."""

    section: str
    title: str
    files: list[Path] = field(default_factory=list)
    caption: str = ""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


def _save(fig: Any, out_dir: Path, name: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for fmt in FORMATS:
        path = out_dir / f"{name}.{fmt}"
        fig.savefig(path, dpi=120, bbox_inches="tight")
        files.append(path)
    plt.close(fig)
    return files


def _theme() -> None:
    sns.set_theme(style="whitegrid", context="notebook")


def _palette(labels: Sequence[str]) -> dict[str, Any]:
    names = sorted(set(labels))
    return dict(zip(names, sns.color_palette("tab10", n_colors=max(len(names), 1)), strict=False))


def _time_label(clocks: set[str]) -> str:
    if clocks == {"simulated"}:
        return "simulated time (s)"
    if clocks == {"wall"}:
        return "wall time (s)"
    return "time (s; " + " and ".join(sorted(clocks)) + " clocks)"


def _value_name(runs: pd.DataFrame) -> str:
    """What the runs' value is (their names joined where runs of one objective differ)."""
    names = sorted({str(v) for v in runs["value_name"].dropna()}) if "value_name" in runs else []
    return " / ".join(names) or "value"


def _co2_label(runs: pd.DataFrame, notes: list[str], objective: str) -> str:
    recorded = runs["co2_decisions"].fillna(False).astype(bool) if "co2_decisions" in runs else None
    if recorded is None or not recorded.any():
        return "kg CO2e (evaluations)"
    if recorded.all():
        return AXES["co2"][1]
    notes.append(f"{objective}: {int((~recorded).sum())} run(s) without the driver's CO2 in their journal")
    return "kg CO2e (evaluations, + decisions where recorded)"


def _seeds_phrase(n_seeds: dict[str, int], center: str = "mean") -> str:
    """How a figure's lines were made: ``mean ± SE over N seeds`` (or the median and quartiles),
    or one seed, with no band."""
    counts = set(n_seeds.values()) or {1}
    if counts == {1}:
        return "one seed"
    how = "median and quartiles" if center == "median" else "mean ± SE"
    if len(counts) == 1:
        return f"{how} over {counts.pop()} seeds"
    return f"{how} over {min(counts)}-{max(counts)} seeds"


# -- convergence -----------------------------------------------------------------------------

Y_KINDS = ("best", "regret")


def convergence_plot(
    loaded: Loaded,
    objective: str,
    y: str,
    min_seeds: int | None = None,
    notes: list[str] | None = None,
    stats: dict[tuple[str, str], pd.DataFrame] | None = None,
    center: str = "mean",
) -> tuple[Any, list[str]] | None:
    """One objective's best so far (``y="best"``) or simple regret (``"regret"``), unsaved.

    A panel per axis with data (evaluations, time, kg CO2e); a step line per strategy (the
    best so far changes only when an evaluation ends), its ± SE band where it has several
    seeds; a log y axis where the values span more than two decades. With
    ``center="median"`` the line is the median over seeds and the band the interquartile range,
    which a few seeds stuck far away cannot move.

    Returns:
        the matplotlib figure and the axes drawn (None when there is nothing to draw).
    """
    notes = notes if notes is not None else []
    frame, runs = loaded.frame, loaded.runs_frame
    if stats is None:
        stats = {(y, axis): aggregate(curves(frame, runs, axis, y), min_seeds) for axis in AXES}
    obj_runs = runs[runs["objective"] == objective]
    panels = [(axis, stats[(y, axis)]) for axis in AXES]
    panels = [(a, s[s["objective"] == objective]) for a, s in panels]
    panels = [(a, s) for a, s in panels if len(s)]
    if not panels:
        return None
    n_seeds = {str(k): int(v) for k, v in obj_runs.groupby("label")["run"].nunique().items()}
    several = any(n > 1 for n in n_seeds.values())
    ylabel = f"best {_value_name(obj_runs)} so far" if y == "best" else "simple regret"
    log_y = log_scale_suits(np.concatenate([s[center].to_numpy(dtype=float) for _, s in panels]))
    palette = _palette(list(runs["label"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.0), squeeze=False, layout="constrained")
    for ax, (axis, s) in zip(axes[0], panels, strict=True):
        for label, g in s.groupby("label", sort=True):
            color = palette[str(label)]
            xs, m, se = g["x"].to_numpy(), g[center].to_numpy(dtype=float), g["se"].to_numpy(dtype=float)
            n = n_seeds.get(str(label), 0)
            ax.plot(xs, m, color=color, label=f"{label} (n={n})" if several else str(label), drawstyle="steps-post")
            if center == "median" and n > 1:
                lo, hi = g["q1"].to_numpy(dtype=float), g["q3"].to_numpy(dtype=float)
                if log_y:
                    lo = np.maximum(lo, m * 1e-3)
                ax.fill_between(xs, lo, hi, color=color, alpha=0.2, step="post", linewidth=0)
            elif center == "mean" and np.isfinite(se).any():
                se = np.nan_to_num(se)
                lo, hi = m - se, m + se
                if log_y:
                    lo = np.maximum(lo, m * 1e-3)  # a band reaching 0 would drop off a log axis
                ax.fill_between(xs, lo, hi, color=color, alpha=0.2, step="post", linewidth=0)
        if log_y:
            ax.set_yscale("log")
        if axis == "evaluations":
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        xlabel = AXES[axis][1]
        if axis == "time":
            xlabel = _time_label(set(obj_runs["clock"]))
        elif axis == "co2":
            xlabel = _co2_label(obj_runs, notes, objective)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
    axes[0][0].legend(fontsize="small")
    fig.suptitle(f"{objective}: {ylabel} ({_seeds_phrase(n_seeds, center)})")
    return fig, [p[0] for p in panels]


def convergence_figures(loaded: Loaded, out_dir: Path, min_seeds: int | None, notes: list[str]) -> list[Figure]:
    """Best so far and regret against evaluations, time and CO2, one figure per objective × y."""
    _theme()
    frame, runs = loaded.frame, loaded.runs_frame
    stats = {(y, axis): aggregate(curves(frame, runs, axis, y), min_seeds) for y in Y_KINDS for axis in AXES}
    figures = []
    for objective_key, obj_runs in runs.groupby("objective", sort=True):
        objective = str(objective_key)
        several = (obj_runs.groupby("label")["run"].nunique() > 1).any()
        for y in Y_KINDS:
            drawn = convergence_plot(loaded, objective, y, min_seeds, notes, stats)
            if drawn is None:
                if y == "regret":
                    notes.append(f"{objective}: no known optimum, so no regret figure")
                continue
            fig, panels = drawn
            if "co2" not in panels and y == "best":
                notes.append(f"{objective}: no CO2 figures in its runs, so no CO2 axis")
            ylabel = fig.axes[0].get_ylabel()
            bands = "; bands: ± one standard error over seeds" if several else ""
            figures.append(
                Figure(
                    "Convergence",
                    f"{objective}: {ylabel}",
                    _save(fig, out_dir, f"{_slug(objective)}_{y}"),
                    f"{ylabel} against " + ", ".join(panels) + f" (step lines){bands}.",
                )
            )
    return figures


# -- Figure 1: a grid over the learning rate ------------------------------------------------

LR_NAMES = re.compile(r"(^|[._])(lr|learning_rate|learning-rate|eta)($|[._])", re.IGNORECASE)


def _lr_column(df: pd.DataFrame, wanted: str | None) -> str | None:
    params = [c for c in df.columns if c.startswith("param.") and df[c].notna().any()]
    if wanted is not None:
        col = wanted if wanted.startswith("param.") else f"param.{wanted}"
        return col if col in params else None
    hits = [c for c in params if LR_NAMES.search(c[len("param.") :])]
    if len(hits) == 1:
        return hits[0]
    return params[0] if len(params) == 1 else None


def grid_figures(loaded: Loaded, out_dir: Path, notes: list[str], param: str | None = None) -> list[Figure]:
    """The worksheet's Figure 1: -train/-test accuracy and the value against the learning rate."""
    _theme()
    frame = loaded.frame
    grid = frame[frame["strategy"].str.contains("grid", case=False)]
    figures: list[Figure] = []
    if grid.empty:
        if {"metric.train_accuracy", "metric.test_accuracy"} <= set(frame.columns):
            notes.append("accuracy metrics found but no grid run (strategy named *grid*): no Figure 1")
        return figures
    for objective, df in grid.groupby("objective", sort=True):
        col = _lr_column(df, param)
        if col is None:
            notes.append(f"{objective}: grid run without a learning-rate parameter (use --grid-param): no Figure 1")
            continue
        df = df[df["ok"]].copy()
        df["_lr"] = pd.to_numeric(df[col], errors="coerce")
        df = df[df["_lr"] > 0]
        name_of_value = _value_name(loaded.runs_frame[loaded.runs_frame["objective"] == objective])
        series = [("value", f"value ({name_of_value})")]
        for metric, name in (("metric.train_accuracy", "training"), ("metric.test_accuracy", "test")):
            if metric in df and pd.to_numeric(df[metric], errors="coerce").notna().any():
                df[f"_neg_{name}"] = -pd.to_numeric(df[metric], errors="coerce")
                series.insert(len(series) - 1, (f"_neg_{name}", f"{name} (negative accuracy)"))
            else:
                notes.append(f"{objective}: grid run without {metric}: left out of Figure 1")
        if df.empty:
            notes.append(f"{objective}: grid run without usable values: no Figure 1")
            continue
        fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
        seeds = df["run"].nunique()
        for i, (ycol, label) in enumerate(series):
            color = f"C{i}"
            g = df.groupby("_lr")[ycol].agg(["mean", "std", "count"]).reset_index()
            style = {"ls": "--", "lw": 1.2, "marker": "x"} if ycol == "value" else {"marker": "o"}
            ax.plot(g["_lr"], g["mean"], ms=4, color=color, label=label, **style)
            if seeds > 1:
                se = (g["std"] / np.sqrt(g["count"])).fillna(0)
                ax.fill_between(g["_lr"], g["mean"] - se, g["mean"] + se, color=color, alpha=0.2, linewidth=0)
        ax.set_xscale("log")
        ax.set_xlabel(col[len("param.") :] + " (log scale)")
        if len(series) == 1:
            ax.set_ylabel(name_of_value)
        else:
            ax.set_ylabel("negative accuracy" + ("" if "accuracy" in name_of_value else f" / {name_of_value}"))
        ax.legend(fontsize="small")
        how = "one run" if seeds == 1 else f"mean ± SE over {seeds} runs"
        ax.set_title(f"{objective}: grid over the learning rate ({how})")
        figures.append(
            Figure(
                "Figure 1: accuracy against the learning rate",
                f"{objective}: grid over {col[6:]}",
                _save(fig, out_dir, f"{_slug(str(objective))}_figure1_grid"),
                f"Negative training and test accuracy and the objective's value ({name_of_value}); {how}.",
            )
        )
    return figures


# -- 1-D GP model, acquisition and convergence ---------------------------------------------


def fit_gp_1d(x_unit: np.ndarray, y: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fits a BoTorch SingleTaskGP to ``(x_unit, y)`` (minimising) and evaluates it on ``grid``.

    Returns:
        posterior mean, posterior standard deviation (of f) and LogEI at each grid point.
    """
    import torch
    from botorch.acquisition.analytic import LogExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    torch.manual_seed(0)
    X = torch.tensor(np.asarray(x_unit, dtype=float).reshape(-1, 1), dtype=torch.double)
    Y = torch.tensor(np.asarray(y, dtype=float).reshape(-1, 1), dtype=torch.double)
    model = SingleTaskGP(X, Y, outcome_transform=Standardize(m=1))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    G = torch.tensor(np.asarray(grid, dtype=float).reshape(-1, 1, 1), dtype=torch.double)
    with torch.no_grad():
        post = model.posterior(G.squeeze(1))
        mean = post.mean.squeeze(-1).numpy()
        std = post.variance.clamp_min(0).sqrt().squeeze(-1).numpy()
        logei = LogExpectedImprovement(model, best_f=Y.min(), maximize=False)(G).numpy()
    return mean, std, logei


def _shown_scale(run: Run, col: str) -> tuple[Any, bool, str]:
    """How a unit-cube coordinate is drawn: on the parameter's scale via the run's space, else as is.

    Returns:
        a function from unit values to what the x axis shows, whether that axis is logarithmic,
        and the axis label.
    """
    name = col[len("param.") :]
    space = run.meta.get("space")
    if isinstance(space, dict) and set(space) == {name}:
        try:
            from bench.space import Space

            p = Space.from_config(space).params[0]
        except UserError:
            p = None
        if p is not None and p.type != "categorical":
            label = name + (" (log scale)" if p.log else "")
            return (lambda u: np.array([p.from_unit(x) for x in u], dtype=float)), bool(p.log), label
    return (lambda u: np.asarray(u, dtype=float)), False, f"{name} (unit scale)"


def _unit_x(ev: pd.DataFrame) -> np.ndarray:
    """The journal's unit-cube point of each (1-D) evaluation."""
    return np.array([float(x[0]) for x in ev[UNIT_POINT]], dtype=float)


def _first_runs_1d(loaded: Loaded) -> list[tuple[Run, str]]:
    picked: dict[tuple[str, str], tuple[Run, str]] = {}

    def seed_key(run: Run) -> tuple[float, str, str]:
        try:
            return float(run.meta["seed"]), "", run.meta["run"]
        except (TypeError, ValueError):
            return math.inf, str(run.meta["seed"]), run.meta["run"]

    for run in sorted(loaded.runs, key=seed_key):
        params = [c for c in run.evals.columns if c.startswith("param.")]
        if len(params) != 1 or not pd.api.types.is_numeric_dtype(run.evals[params[0]]):
            continue
        picked.setdefault((run.meta["objective"], run.meta["label"]), (run, params[0]))
    return [picked[k] for k in sorted(picked)]


def gp_figures(loaded: Loaded, out_dir: Path, notes: list[str], step: int | None = None) -> list[Figure]:
    """For each 1-D objective × strategy (lowest seed): GP + LogEI at step k, and convergence.

    The GP is fitted on the unit-cube points the journal recorded (``x``), as the strategy saw them.
    """
    _theme()
    figures = []
    for run, col in _first_runs_1d(loaded):
        if UNIT_POINT not in run.evals:
            notes.append(f"{run.meta['run']}: no journal, so no unit-cube points: no 1-D model figures")
            continue
        ev = run.evals.sort_values("eval_id", kind="stable").reset_index(drop=True)
        shown, log_x, xlabel = _shown_scale(run, col)
        objective, label = run.meta["objective"], run.meta["label"]
        name = f"{_slug(objective)}_{_slug(label)}_seed{_slug(str(run.meta['seed']))}"
        ok = ev[ev["ok"]]
        n_ok = len(ok)
        k = (n_ok - 1 if n_ok > 2 else n_ok) if step is None else min(step, n_ok)
        if k < 2:
            notes.append(f"{run.meta['run']}: fewer than 2 usable points at step {step}: no GP figure")
        else:
            first = ok.iloc[:k]
            xu = _unit_x(first)
            grid = np.linspace(0.0, 1.0, 201)
            mean, std, logei = fit_gp_1d(xu, first["value"].to_numpy(dtype=float), grid)
            xg = shown(grid)
            later = ev[ev["eval_id"] > first["eval_id"].max()]
            fig, (ax1, ax2) = plt.subplots(
                2, 1, figsize=(6.4, 6.0), sharex=True, height_ratios=(2, 1), layout="constrained"
            )
            ax1.plot(xg, mean, color="C0", label="posterior mean")
            ax1.fill_between(xg, mean - 2 * std, mean + 2 * std, color="C0", alpha=0.2, linewidth=0, label="± 2 sd")
            ax1.scatter(shown(xu), first["value"], color="k", s=18, zorder=3, label=f"first {k} points")
            if len(later):
                nxt = float(shown(_unit_x(later.iloc[:1]))[0])
                ax1.axvline(nxt, color="C3", ls="--", lw=1, label="next point")
                ax2.axvline(nxt, color="C3", ls="--", lw=1)
            ax2.plot(xg, logei, color="C2")
            top = float(np.max(logei))
            ax2.set_ylim(max(float(np.min(logei)), top - 12.0) - 0.5, top + 1.0)  # LogEI dives far below
            ax2.axvline(xg[int(np.argmax(logei))], color="C2", ls=":", lw=1, label="LogEI maximum")
            ax2.set_ylabel("LogEI")
            ax2.set_xlabel(xlabel)
            ax2.legend(fontsize="small")
            ax1.set_ylabel(str(run.meta.get("value_name", "value")))
            ax1.legend(fontsize="small")
            if log_x:
                ax2.set_xscale("log")
            ax1.set_title(f"{objective}, {label}, seed {run.meta['seed']}: GP after {k} points")
            figures.append(
                Figure(
                    "1-D model and acquisition",
                    f"{objective}, {label}: GP and LogEI at step {k}",
                    _save(fig, out_dir, f"{name}_gp_step{k}"),
                    f"BoTorch SingleTaskGP fitted on the first {k} usable points of {run.meta['run']} "
                    "(their unit-cube x from the journal); LogEI of the next point, minimising.",
                )
            )
        figures.append(_convergence_plot(run, out_dir, name))
    return figures


def _convergence_plot(run: Run, out_dir: Path, name: str) -> Figure:
    """GPyOpt's convergence plot: distance between consecutive points, and the best value so far."""
    ev = run.evals  # in the order evaluations finished, as the run folder records them
    dist = np.abs(np.diff(_unit_x(ev)))
    best = ev["best_so_far"].to_numpy(dtype=float)
    it = ev["n"].to_numpy()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax1.plot(it[1:], dist, marker="o", ms=3, color="C0")
    ax1.set_xlabel("iteration")
    ax1.set_ylabel("distance between consecutive x (unit scale)")
    ax1.set_title("Distance between consecutive x's")
    ax2.plot(it, best, marker="o", ms=3, color="C1", drawstyle="steps-post")
    ax2.set_xlabel("iteration")
    ax2.set_ylabel(f"best {run.meta.get('value_name', 'value')} so far")
    ax2.set_title("Value of the best selected sample")
    fig.suptitle(f"{run.meta['objective']}, {run.meta['label']}, seed {run.meta['seed']}")
    return Figure(
        "1-D model and acquisition",
        f"{run.meta['objective']}, {run.meta['label']}: convergence",
        _save(fig, out_dir, name + "_convergence"),
        "Iterations in the order the evaluations finished; x on the unit cube, as the journal records it.",
    )


# -- training curves -------------------------------------------------------------------------


def _as_list(cell: Any) -> list[float] | None:
    if isinstance(cell, list):
        seq = cell
    elif isinstance(cell, str) and cell.strip().startswith("["):
        try:
            seq = json.loads(cell)
        except json.JSONDecodeError:
            return None
    else:
        return None
    out = []
    for v in seq:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            out.append(math.nan)
    return out


def training_figures(loaded: Loaded, out_dir: Path, notes: list[str]) -> list[Figure]:
    """Training and validation loss per epoch: the best evaluation of each strategy, and all."""
    _theme()
    frame = loaded.frame
    if not {"metric.train_loss", "metric.val_loss"} & set(frame.columns):
        return []
    figures = []
    palette = _palette(list(frame["label"]))
    for objective, df in frame.groupby("objective", sort=True):
        df = df.assign(
            _train=df["metric.train_loss"].map(_as_list) if "metric.train_loss" in df else None,
            _val=df["metric.val_loss"].map(_as_list) if "metric.val_loss" in df else None,
        )
        has = df[df["_train"].notna() | df["_val"].notna()]
        if has.empty:
            continue
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
        for label, g in has.groupby("label", sort=True):
            color = palette[str(label)]
            scored = g[g["ok"]]  # usable values only, so no NaN
            if len(scored):
                best = scored.iloc[int(np.argmin(scored["value"].to_numpy(dtype=float)))]
                for key, ls, what in (("_train", "-", "train"), ("_val", "--", "val")):
                    seq = best[key]
                    if isinstance(seq, list) and seq:
                        ax1.plot(np.arange(1, len(seq) + 1), seq, ls=ls, color=color, label=f"{label} {what}")
            for seq in g["_val"]:
                if isinstance(seq, list) and seq:
                    ax2.plot(np.arange(1, len(seq) + 1), seq, color=color, alpha=0.3, lw=0.8)
            ax2.plot([], [], color=color, label=label)
        ax1.set_title("best evaluation of each strategy")
        ax2.set_title("validation loss of every evaluation")
        for ax in (ax1, ax2):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("epoch")
            ax.set_ylabel("loss")
            ax.legend(fontsize="small")
        fig.suptitle(f"{objective}: training (solid) and validation (dashed) loss")
        figures.append(
            Figure(
                "Training curves",
                f"{objective}: loss per epoch",
                _save(fig, out_dir, f"{_slug(str(objective))}_training_curves"),
                "metric.train_loss and metric.val_loss of results.csv.",
            )
        )
    return figures


def all_figures(
    loaded: Loaded,
    out_dir: Path,
    notes: list[str],
    min_seeds: int | None = None,
    gp_step: int | None = None,
    grid_param: str | None = None,
) -> list[Figure]:
    """Writes every figure the runs allow into ``out_dir``."""
    figures = convergence_figures(loaded, out_dir, min_seeds, notes)
    figures += grid_figures(loaded, out_dir, notes, grid_param)
    figures += gp_figures(loaded, out_dir, notes, gp_step)
    figures += training_figures(loaded, out_dir, notes)
    return figures
