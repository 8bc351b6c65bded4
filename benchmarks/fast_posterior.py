"""Decision time of ei, lp and ucb with the plain-torch posterior (``FastPosterior``) against gpytorch's.

For each strategy and history size n, two copies of the strategy start from the same n random
points of Hartmann6 in 6-D (``benchmarks/decision_cost.py``'s ``Run``) and make ``--decisions``
consecutive decisions with ``--running`` random points running, each one's point evaluated and
appended to its own history (so the refits are amortised as in a run). ``gpytorch`` asks with
``FastPosterior.of`` returning the model itself, as before it existed; ``fast`` asks as the
strategies do now. Their decisions alternate step by step in this one process, on one thread.
Printed: CPU seconds per decision (the first, which fits the warm-start chain, left out), the
ratio, and the largest difference between the two copies' proposals (they agree when the
posteriors agree to rounding and L-BFGS-B takes the same steps).

    OMP_NUM_THREADS=1 python benchmarks/fast_posterior.py
    OMP_NUM_THREADS=1 python benchmarks/fast_posterior.py --n 50 --strategies ei --decisions 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", nargs="+", default=["ei", "lp", "ucb"])
    parser.add_argument("--n", nargs="+", type=int, default=[50, 200, 500])
    parser.add_argument("--decisions", type=int, default=10)
    parser.add_argument("--running", type=int, default=3)
    args = parser.parse_args()
    if min(args.n) < 2 or args.decisions < 1 or args.running < 0:
        parser.error("--n must be at least 2, --decisions at least 1 and --running at least 0")

    import torch

    from bench.strategies.fast_posterior import FastPosterior
    from benchmarks.decision_cost import Run

    torch.set_num_threads(1)
    as_before = mock.patch.object(FastPosterior, "of", classmethod(lambda cls, model: model))
    print(
        f"CPU s per decision, Hartmann6 data in 6-D, {args.running} running, mean of {args.decisions} "
        "consecutive decisions (the first, which fits, left out), copies interleaved, torch threads 1"
    )
    print(f"{'strategy':9}{'n':>6}{'gpytorch':>10}{'fast':>9}{'fast/gpytorch':>15}{'max |dx|':>11}")
    for name in args.strategies:
        for n in args.n:
            before, after = Run(name, 6, {}, n), Run(name, 6, {}, n)
            cpu: dict[str, list[float]] = {"gpytorch": [], "fast": []}
            rng = np.random.default_rng(1)
            for _ in range(args.decisions + 1):
                pending = rng.random((args.running, 6))
                for label, run in (("gpytorch", before), ("fast", after)):
                    t0 = time.process_time()
                    if label == "gpytorch":
                        with as_before:
                            run.step(pending)
                    else:
                        run.step(pending)
                    cpu[label].append(time.process_time() - t0)
            slow, fast = (statistics.mean(cpu[k][1:]) for k in ("gpytorch", "fast"))
            dx = float(np.abs(before.history.X - after.history.X).max())
            print(f"{name:9}{n:>6}{slow:>10.4f}{fast:>9.4f}{fast / slow:>15.2f}{dx:>11.2e}", flush=True)


if __name__ == "__main__":
    main()
