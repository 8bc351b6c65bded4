"""Hyperparameter fits of the default GP with the plain-torch marginal likelihood against gpytorch's.

For each n, ``--repetitions`` data sets of n uniform random points of Hartmann6 in 6-D; on each,
BoTorch's ``fit_gpytorch_mll`` from BoTorch's starting values, once with gpytorch's loss closure
and once with ``fast_mll.closure_for``'s (``bench/strategies/fast_mll.py``), alternating in this
one process, on one thread. Printed: the median CPU seconds per fit, their ratio, and the largest
relative difference between the two fits' lengthscales (they agree when the losses agree to
rounding and L-BFGS-B takes the same steps). Cold fits: a run's warm-started fits take fewer
steps, at the same cost per step.

    OMP_NUM_THREADS=1 python benchmarks/fast_mll.py
    OMP_NUM_THREADS=1 python benchmarks/fast_mll.py --n 50 800 --repetitions 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", nargs="+", type=int, default=[20, 50, 100, 200, 500, 800])
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    if min(args.n) < 2 or args.repetitions < 1:
        parser.error("--n must be at least 2 and --repetitions at least 1")

    import torch
    from botorch.fit import fit_gpytorch_mll
    from botorch.test_functions import Hartmann
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from bench.strategies import fast_mll
    from bench.strategies.gp import build_gp

    torch.set_num_threads(1)
    hartmann = Hartmann(dim=6)

    def fit(X: torch.Tensor, Y: torch.Tensor, plain: bool) -> tuple[float, torch.Tensor]:
        model = build_gp(X, Y)
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        mll.train()
        t0 = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            closure = fast_mll.closure_for(mll) if plain else None
            if plain and closure is None:
                raise SystemExit(f"the plain-torch loss does not apply at n = {len(X)}")
            fit_gpytorch_mll(mll, closure=closure)
        return time.process_time() - t0, model.covar_module.lengthscale.detach().flatten()

    print(f"CPU s per fit, Hartmann6 data in 6-D, median of {args.repetitions}, interleaved, torch threads 1")
    print(f"{'n':>6}{'gpytorch':>10}{'plain':>9}{'plain/gpytorch':>16}{'max rel |dl|':>14}")
    for n in args.n:
        times: dict[bool, list[float]] = {False: [], True: []}
        worst = 0.0
        for rep in range(args.repetitions):
            g = torch.Generator().manual_seed(1000 * n + rep)
            X = torch.rand(n, 6, generator=g, dtype=torch.float64)
            Y = -hartmann(X).unsqueeze(-1)
            lengthscales = {}
            for plain in (False, True) if rep % 2 == 0 else (True, False):
                seconds, lengthscales[plain] = fit(X, Y, plain)
                times[plain].append(seconds)
            worst = max(worst, float(((lengthscales[True] - lengthscales[False]).abs() / lengthscales[False]).max()))
        slow, fast = statistics.median(times[False]), statistics.median(times[True])
        print(f"{n:>6}{slow:>10.4f}{fast:>9.4f}{fast / slow:>16.2f}{worst:>14.1e}", flush=True)


if __name__ == "__main__":
    main()
