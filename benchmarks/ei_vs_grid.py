"""How many evaluations EI needs to come within 0.005 of the grid's best test accuracy.

The worksheet's grid (40 learning rates, 1e5 down to 1e-8) is run once (the MLP is
deterministic); then the default EI experiment runs for each seed, and we count the
evaluations until its test accuracy is within ``--tolerance`` of the grid's best.

    python benchmarks/ei_vs_grid.py --seeds 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd

from benchmarks._common import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--evaluations", type=int, default=40, help="EI's budget per seed")
    parser.add_argument("--tolerance", type=float, default=0.005)
    args = parser.parse_args()

    t0 = time.time()
    _, grid_dir = run("experiment=worksheet_grid")
    grid = pd.read_csv(grid_dir / "results.csv")
    best_grid = grid["metric.test_accuracy"].max()
    best_lr = grid.loc[grid["metric.test_accuracy"].idxmax(), "param.learning_rate_init"]
    print(
        f"grid: best test accuracy {best_grid:.4f} at learning_rate_init={best_lr:.4g} "
        f"after {grid['metric.test_accuracy'].idxmax() + 1} of {len(grid)} evaluations ({time.time() - t0:.0f} s)"
    )
    target = best_grid - args.tolerance
    needed: list[int | None] = []
    for seed in range(args.seeds):
        t1 = time.time()
        _, ei_dir = run(f"seed={seed}", f"budget.evaluations={args.evaluations}")
        ei = pd.read_csv(ei_dir / "results.csv")
        hits = ei.index[ei["metric.test_accuracy"] >= target]
        n = int(hits[0]) + 1 if len(hits) else None
        needed.append(n)
        print(
            f"ei seed {seed}: best {ei['metric.test_accuracy'].max():.4f}, "
            f"within {args.tolerance} of the grid after {n if n else f'>{args.evaluations}'} evaluations "
            f"({time.time() - t1:.0f} s)"
        )
    reached = [n for n in needed if n is not None]
    print(
        f"EI reached {target:.4f} in {len(reached)}/{args.seeds} seeds; evaluations needed: "
        f"median {statistics.median(reached) if reached else 'n/a'}, "
        f"mean {statistics.mean(reached) if reached else float('nan'):.1f}, "
        f"max {max(reached) if reached else 'n/a'} (grid: {len(grid)}; the worksheet reports about 15)"
    )


if __name__ == "__main__":
    main()
