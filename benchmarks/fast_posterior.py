"""Decision time of ei, lp and ucb with the plain-torch posterior and marginal likelihood against gpytorch's.

For each strategy and history size n, three copies of the strategy start from the same n random
points of Hartmann6 in 6-D (``benchmarks/decision_cost.py``'s ``Run``) and make ``--decisions``
consecutive decisions with ``--running`` random points running, each one's point evaluated and
appended to its own history (so the refits are amortised as in a run):

- ``gpytorch``: ``FastPosterior.of`` returns the model itself and ``fast_mll.closure_for``
  returns ``None``, as before either existed;
- ``posterior``: the plain-torch posterior (``FastPosterior``), gpytorch's marginal likelihood;
- ``both``: as the strategies run now, the plain-torch marginal likelihood in the fits too
  (``bench/strategies/fast_mll.py``).

Their decisions alternate step by step in this one process, on one thread. Printed: CPU seconds
per decision (the first, which fits the warm-start chain, left out), the ratios, and the largest
difference between the proposals of ``both`` and ``gpytorch`` (they agree when the formulas agree
to rounding and L-BFGS-B takes the same steps).

    OMP_NUM_THREADS=1 python benchmarks/fast_posterior.py
    OMP_NUM_THREADS=1 python benchmarks/fast_posterior.py --n 50 --strategies ei --decisions 5
"""

from __future__ import annotations

import argparse
import contextlib
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

    from bench.strategies import fast_mll
    from bench.strategies.fast_posterior import FastPosterior
    from benchmarks.decision_cost import Run

    torch.set_num_threads(1)
    gpytorch_posterior = mock.patch.object(FastPosterior, "of", classmethod(lambda cls, model: model))
    gpytorch_mll = mock.patch.object(fast_mll, "closure_for", lambda mll: None)
    patches = {"gpytorch": (gpytorch_posterior, gpytorch_mll), "posterior": (gpytorch_mll,), "both": ()}
    print(
        f"CPU s per decision, Hartmann6 data in 6-D, {args.running} running, mean of {args.decisions} "
        "consecutive decisions (the first, which fits, left out), copies interleaved, torch threads 1"
    )
    print(
        f"{'strategy':9}{'n':>6}{'gpytorch':>10}{'posterior':>11}{'both':>9}"
        f"{'both/gpytorch':>15}{'both/posterior':>16}{'max |dx|':>11}"
    )
    for name in args.strategies:
        for n in args.n:
            runs = {label: Run(name, 6, {}, n) for label in patches}
            cpu: dict[str, list[float]] = {label: [] for label in patches}
            rng = np.random.default_rng(1)
            for _ in range(args.decisions + 1):
                pending = rng.random((args.running, 6))
                for label, run in runs.items():
                    with contextlib.ExitStack() as stack:
                        for patch in patches[label]:
                            stack.enter_context(patch)
                        t0 = time.process_time()
                        run.step(pending)
                        cpu[label].append(time.process_time() - t0)
            slow, mid, fast = (statistics.mean(cpu[label][1:]) for label in patches)
            dx = float(np.abs(runs["gpytorch"].history.X - runs["both"].history.X).max())
            seconds = f"{slow:>10.4f}{mid:>11.4f}{fast:>9.4f}"
            print(f"{name:9}{n:>6}{seconds}{fast / slow:>15.2f}{fast / mid:>16.2f}{dx:>11.2e}", flush=True)


if __name__ == "__main__":
    main()
