"""Statistics that survive a few bad seeds: quartiles, the stuck fraction, paired comparisons.

A mean over ten seeds is decided by the two or three that got stuck in a local optimum; these
summaries say what most seeds did and how often one strategy beats another on the same seed:

- :func:`quartiles`: the median and the interquartile range (numpy's linear interpolation).
- :func:`stuck`: how many seeds end above a stated threshold (of regret, say).
- :func:`paired`: strategy A against B on the seeds both ran. *Wins* are seeds where A's value is
  lower (values are minimised); a tie counts half, so the win rate is ``(wins + ties / 2) / n``.
  Its 95% confidence interval is the percentile bootstrap over seeds (pairs resampled with
  replacement, ``n_boot`` times, from a fixed seed so a report is reproducible), and the p-value is
  the two-sided Wilcoxon signed-rank test of the paired differences (``scipy.stats.wilcoxon``,
  zero differences dropped; 1.0 when every difference is zero).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: Bootstrap resamples of a paired comparison.
N_BOOT = 10_000


@dataclass(frozen=True)
class Quartiles:
    median: float
    q1: float
    q3: float
    n: int


@dataclass(frozen=True)
class Paired:
    """A against B on the seeds both ran (lower is better)."""

    n: int
    wins: int
    ties: int
    losses: int
    win_rate: float
    ci_low: float
    ci_high: float
    p_value: float

    def columns(self) -> dict[str, Any]:
        """The comparison as table columns (robust_table.csv, claims.csv)."""
        return {
            "pairs": self.n,
            "wins": self.wins,
            "ties": self.ties,
            "losses": self.losses,
            "win_rate": self.win_rate,
            "win_rate_ci_low": self.ci_low,
            "win_rate_ci_high": self.ci_high,
            "wilcoxon_p": self.p_value,
        }


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    return arr[np.isfinite(arr)]


def quartiles(values: Sequence[float] | np.ndarray) -> Quartiles:
    """Median, first and third quartile of the finite values (NaN for none)."""
    arr = _finite(values)
    if not len(arr):
        return Quartiles(math.nan, math.nan, math.nan, 0)
    q1, med, q3 = np.percentile(arr, [25, 50, 75])
    return Quartiles(float(med), float(q1), float(q3), len(arr))


def stuck(values: Sequence[float] | np.ndarray, threshold: float) -> tuple[int, int]:
    """How many of the finite values lie above ``threshold``, and how many there are."""
    arr = _finite(values)
    return int((arr > threshold).sum()), len(arr)


def paired(a: Mapping[Any, float], b: Mapping[Any, float], n_boot: int = N_BOOT, seed: int = 0) -> Paired:
    """Compares A with B seed by seed, on the seeds where both have a finite value.

    Args:
        a, b: value per seed (lower is better).
        n_boot: bootstrap resamples for the win rate's confidence interval.
        seed: the bootstrap's random seed.
    """
    from scipy.stats import wilcoxon

    common = sorted(k for k in set(a) & set(b) if math.isfinite(a[k]) and math.isfinite(b[k]))
    n = len(common)
    if n == 0:
        return Paired(0, 0, 0, 0, math.nan, math.nan, math.nan, math.nan)
    x = np.array([a[k] for k in common], dtype=float)
    y = np.array([b[k] for k in common], dtype=float)
    score = np.where(x < y, 1.0, np.where(x == y, 0.5, 0.0))
    wins, ties = int((x < y).sum()), int((x == y).sum())
    rng = np.random.default_rng(seed)
    boot = score[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    diff = x - y
    p = 1.0 if not np.any(diff != 0) else float(wilcoxon(x, y, alternative="two-sided").pvalue)
    return Paired(n, wins, ties, n - wins - ties, float(score.mean()), float(low), float(high), p)


def final_values(frame: pd.DataFrame, runs: pd.DataFrame) -> tuple[dict[str, float], str]:
    """Each run's final simple regret where every run has one, else its final best value.

    Returns:
        value per run, and which of the two it is (``"final regret"`` or ``"final best value"``).
    """
    regret: dict[str, float] = {}
    best: dict[str, float] = {}
    for run in runs["run"]:
        ev = frame[frame["run"] == run]
        regret[run] = float(ev["regret"].iloc[-1]) if len(ev) and "regret" in ev else math.nan
        best[run] = float(ev["best_so_far"].iloc[-1]) if len(ev) else math.nan
    if regret and all(math.isfinite(v) for v in regret.values()):
        return regret, "final regret"
    return best, "final best value"


def robust_table(
    frame: pd.DataFrame,
    runs: pd.DataFrame,
    baselines: Mapping[str, str],
    stuck_above: Mapping[str | None, float] | None = None,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """One row per objective × line: median and IQR of the final value, stuck seeds, and the
    paired comparison with the objective's baseline (win rate, its bootstrap CI, Wilcoxon p).

    Args:
        frame, runs: :class:`analysis.load.Loaded`'s evaluations and runs.
        baselines: the baseline line per objective (from :func:`analysis.metrics.summary_table`).
        stuck_above: the threshold per objective (key None: every objective) above which a
            seed's final value counts as stuck; no stuck column where none is given.

    Returns:
        the table, and per objective which value it summarises.
    """
    rows: list[dict[str, Any]] = []
    measure: dict[str, str] = {}
    thresholds = dict(stuck_above or {})
    for objective_key, obj_runs in runs.groupby("objective", sort=True):
        objective = str(objective_key)
        values, what = final_values(frame, obj_runs)
        measure[objective] = what
        threshold = thresholds.get(objective, thresholds.get(None))
        by_label = {
            str(label): {seed: values[run] for run, seed in zip(lab["run"], lab["seed"], strict=True)}
            for label, lab in obj_runs.groupby("label", sort=True)
        }
        base = baselines.get(objective)
        for label, per_seed in by_label.items():
            q = quartiles(list(per_seed.values()))
            row: dict[str, Any] = {
                "objective": objective,
                "strategy": label,
                "measure": what,
                "n_seeds": q.n,
                "median": q.median,
                "q1": q.q1,
                "q3": q.q3,
            }
            if threshold is not None:
                k, n = stuck(list(per_seed.values()), threshold)
                row.update(stuck_threshold=threshold, stuck=k, stuck_of=n)
            if base is not None and label != base:
                p = paired(per_seed, by_label[base])
                row.update(baseline=base, **p.columns())
            rows.append(row)
    return pd.DataFrame(rows), measure
