"""How many evaluations EI needs to come within 0.005 of the grid's best test accuracy, and how long it takes.

The worksheet's grid (40 learning rates, 1e5 down to 1e-8) is run once (the MLP is
deterministic); then the default EI experiment runs for each seed, and we count the
evaluations until its test accuracy is within ``--tolerance`` of the grid's best.

With ``--timing R``, instead: ``bobench`` itself (a fresh process, as a user runs it) for the
worksheet grid (``experiment=worksheet_grid``), the default run (30 EI evaluations) and the default
run with EI's old defaults (a fit every step, multi-start L-BFGS-B from 512 points), the three in
turn, R rounds, one thread each (``OMP_NUM_THREADS=1``). Printed per variant, medians over the
rounds: the process's wall time, the run's time (``elapsed_s``, from the driver's start), the
evaluations' and the decisions' shares of it, and the wall time against the grid's.

``--variant NAME=KEY=VALUE,...`` adds a variant: the default run with those overrides. With
``--timing`` it is timed beside the others; without, each seed runs the default and every
variant, and the evaluations needed are printed per variant.

    python benchmarks/ei_vs_grid.py --seeds 10
    python benchmarks/ei_vs_grid.py --timing 3
    python benchmarks/ei_vs_grid.py --timing 3 --variant lag=strategy.fit_lag=5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd

from benchmarks._common import CONF, run, variant_parser

#: ``bobench`` overrides of the timed variants.
TIMED = {
    "grid (40 evaluations)": ["experiment=worksheet_grid"],
    "ei, old defaults": [
        "strategy.refit_every=1",
        "strategy.acq_optimizer=multistart",
        "strategy.num_restarts=10",
        "strategy.raw_samples=512",
    ],
    "ei (the default run)": [],
}


def bobench(overrides: list[str], folder: Path) -> dict[str, float]:
    """One ``bobench`` process: its wall time, and the run's elapsed, evaluation and decision seconds."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "bench", "--config-path", str(CONF), *overrides, f"hydra.run.dir={folder}"]
    t0 = time.perf_counter()
    subprocess.run(command, check=True, env=env, capture_output=True)
    wall = time.perf_counter() - t0
    summary = json.loads((folder / "summary.json").read_text())
    evaluations = pd.read_csv(folder / "results.csv")["duration_s"].sum()
    return {
        "wall": wall,
        "elapsed": summary["elapsed_s"],
        "evaluations": float(evaluations),
        "decisions": summary["decision_s_total"],
    }


def timing(rounds: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="bobench-ei-vs-grid-"))
    times: dict[str, list[dict[str, float]]] = {name: [] for name in TIMED}
    for r in range(rounds):
        for i, (name, overrides) in enumerate(TIMED.items()):
            times[name].append(bobench(overrides, root / f"{r}-{i}"))
    grid_wall = statistics.median(t["wall"] for t in times[next(iter(TIMED))])
    print(f"medians of {rounds} rounds, variants in turn, OMP_NUM_THREADS=1")
    print(f"{'variant':24}{'wall s':>8}{'run s':>8}{'evals s':>9}{'decide s':>10}{'decide %':>10}{'wall/grid':>11}")
    for name, runs in times.items():
        med = {k: statistics.median(t[k] for t in runs) for k in runs[0]}
        share = statistics.median(t["decisions"] / t["elapsed"] for t in runs)
        print(
            f"{name:24}{med['wall']:>8.1f}{med['elapsed']:>8.1f}{med['evaluations']:>9.1f}"
            f"{med['decisions']:>10.2f}{100 * share:>9.0f}%{med['wall'] / grid_wall:>11.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--evaluations", type=int, default=40, help="EI's budget per seed")
    parser.add_argument("--tolerance", type=float, default=0.005)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--timing", type=int, metavar="R", help="time bobench runs instead, R rounds")
    parser.add_argument(
        "--variant", type=variant_parser({*TIMED, "default"}), action="append", default=[], metavar="NAME=KEY=VALUE,..."
    )
    args = parser.parse_args()
    if args.timing:
        TIMED.update(dict(args.variant))
        timing(args.timing)
        return

    t0 = time.time()
    _, grid_dir = run("experiment=worksheet_grid")
    grid = pd.read_csv(grid_dir / "results.csv")
    best_grid = grid["metric.test_accuracy"].max()
    first_best = int(grid["metric.test_accuracy"].to_numpy().argmax())
    best_lr = grid["param.learning_rate_init"].iloc[first_best]
    print(
        f"grid: best test accuracy {best_grid:.4f} at learning_rate_init={best_lr:.4g} "
        f"after {first_best + 1} of {len(grid)} evaluations ({time.time() - t0:.0f} s)"
    )
    target = best_grid - args.tolerance
    variants = {"default": [], **dict(args.variant)}
    needed: dict[str, list[int | None]] = {name: [] for name in variants}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for name, overrides in variants.items():
            t1 = time.time()
            _, ei_dir = run(f"seed={seed}", f"budget.evaluations={args.evaluations}", *overrides)
            ei = pd.read_csv(ei_dir / "results.csv")
            hits = ei.index[ei["metric.test_accuracy"] >= target]
            n = int(hits[0]) + 1 if len(hits) else None
            needed[name].append(n)
            print(
                f"{'ei' if name == 'default' else name} seed {seed}: best {ei['metric.test_accuracy'].max():.4f}, "
                f"within {args.tolerance} of the grid after {n if n else f'>{args.evaluations}'} evaluations "
                f"({time.time() - t1:.0f} s)"
            )
    for name, counts in needed.items():
        reached = [n for n in counts if n is not None]
        print(
            f"{'EI' if name == 'default' else name} reached {target:.4f} in {len(reached)}/{args.seeds} seeds; "
            f"evaluations needed: median {statistics.median(reached) if reached else 'n/a'}, "
            f"mean {statistics.mean(reached) if reached else float('nan'):.1f}, "
            f"max {max(reached) if reached else 'n/a'} (grid: {len(grid)}; the worksheet reports about 15)"
        )


if __name__ == "__main__":
    main()
