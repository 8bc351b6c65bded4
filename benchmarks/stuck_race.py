"""Is a Hartmann6 run's fate decided by its random start? Measured on finished run folders.

For each run folder (a ``bobench`` run on ``hartmann6``), the initial design is the points the
strategy proposed from its Sobol sequence: the first ``strategy.n_initial`` evaluations and every
one submitted before the clock reached ``strategy.initial_time``. The script finds the best of
them and asks in which basin it lies (a local minimiser of Hartmann6 started there reaches the
global minimum, -3.32237, or another one), then compares that with the run's end: stuck (final
simple regret above ``--threshold``) or not. It prints one line per run, a 2×2 table per arm and
Fisher's exact test of independence (``scipy.stats.fisher_exact``). With ``--chunks N`` it also
counts, for each stuck run, how many of each ``N`` evaluations (in submit order) lie in the
global basin, and the best value found there.

    python benchmarks/stuck_race.py reports/kandasamy_hartmann6   # any folders holding run folders
    python benchmarks/stuck_race.py reports/kandasamy_hartmann6 --chunks 60
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench.run_folder.reader import read_run
from benchmarks.surrogate_basin import in_global_basin

PARAMS = [f"param.x{i}" for i in range(1, 7)]


def run_folders(roots: list[Path]) -> list[Path]:
    """Every folder under ``roots`` that holds a journal (a run folder), sorted."""
    return sorted({p.parent for root in roots for p in root.rglob("journal.jsonl")})


def race(folder: Path, threshold: float) -> dict[str, Any] | None:
    """The run's arm, seed, initial design size, whether its best start point is in the global
    basin, and whether it ended stuck; None for a run that is not a finished Hartmann6 run."""
    run = read_run(folder)
    config = run.config or {}
    objective = config.get("objective", {})
    if objective.get("name") != "hartmann6" or not run.rows or run.optimum is None:
        return None
    strategy = config.get("strategy", {})
    n_initial = int(strategy.get("n_initial", 0) or 0)
    initial_time = float(strategy.get("initial_time", 0.0) or 0.0)
    rows = sorted((r for r in run.rows if r["status"] == "ok"), key=lambda r: float(r["t_submit"]))
    start = [
        r for i, r in enumerate(rows) if i < n_initial or float(r["t_submit"]) < initial_time
    ]  # submit order: the Sobol points come first
    if not start:
        return None
    best_start = min(start, key=lambda r: float(r["value"]))
    x = np.array([[float(best_start[p]) for p in PARAMS]])
    final_regret = min(float(r["value"]) for r in rows) - float(run.optimum)
    choices = run.choices or {}
    X = np.array([[float(r[p]) for p in PARAMS] for r in rows])
    return {
        "X": X,
        "y": np.array([float(r["value"]) for r in rows]),
        "arm": str(choices.get("arm") or choices.get("strategy") or "?"),
        "seed": config.get("seed"),
        "n_start": len(start),
        "start_global": bool(in_global_basin(x)[0]),
        "best_start": float(best_start["value"]),
        "final_regret": final_regret,
        "stuck": final_regret > threshold,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("roots", nargs="+", type=Path, help="folders holding run folders (multirun folders)")
    parser.add_argument("--chunks", type=int, default=0, help="count stuck runs' global-basin points per N evaluations")
    parser.add_argument("--threshold", type=float, default=0.05, help="final regret above which a run is stuck")
    args = parser.parse_args(argv)
    from scipy.stats import fisher_exact

    tables: dict[str, np.ndarray] = defaultdict(lambda: np.zeros((2, 2), dtype=int))
    print(f"{'arm':<8} {'seed':>4} {'start':>5} {'best start':>10} {'basin':>7} {'final regret':>12}")
    for folder in run_folders(args.roots):
        r = race(folder, args.threshold)
        if r is None:
            continue
        basin = "global" if r["start_global"] else "other"
        print(
            f"{r['arm']:<8} {r['seed']!s:>4} {r['n_start']:>5} {r['best_start']:>10.3f} {basin:>7} "
            f"{r['final_regret']:>12.4g}{'  stuck' if r['stuck'] else ''}"
        )
        tables[r["arm"]][int(not r["start_global"]), int(r["stuck"])] += 1
        if args.chunks and r["stuck"]:
            basin = in_global_basin(r["X"])
            counts = [
                f"{basin[a : a + args.chunks].sum()}/{len(basin[a : a + args.chunks])}"
                for a in range(0, len(basin), args.chunks)
            ]
            best = r["y"][basin].min() if basin.any() else float("nan")
            print(f"{'':<8} per {args.chunks} in the global basin: {' '.join(counts)}; best there {best:.3f}")
    for arm, t in sorted(tables.items()):
        _, p = fisher_exact(t)
        print(
            f"\n{arm}: best start in the global basin: {t[0, 1]}/{t[0].sum()} stuck; elsewhere: "
            f"{t[1, 1]}/{t[1].sum()} stuck; Fisher's exact p = {p:.3g}"
        )


if __name__ == "__main__":
    main()
