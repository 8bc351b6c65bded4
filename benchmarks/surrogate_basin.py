"""Does a surrogate let Thompson sampling leave Hartmann6's local optimum? Measured on saved histories.

Each history (a ``results.csv`` of a real ``async_ts`` run, rows in the order results arrived)
is cut at a few sizes; for each surrogate variant the Thompson-sampling strategy proposes
``--samples`` points from that prefix (one independent posterior sample each, as ``--samples``
asynchronous decisions would), and each proposal is classified by the basin it lies in: a local
minimiser of Hartmann6 (L-BFGS-B) started at the proposal converges to the global minimum
(-3.32237) or to another one. The table prints the fraction in the global basin and, for the
MAP variants, the fitted lengthscales of x3 and x5 (the coordinates in which the local and the
global optimum differ).

    python benchmarks/surrogate_basin.py                       # the histories in ../shared/data
    python benchmarks/surrogate_basin.py --histories DIR --samples 48 --variants map,hyper16

Histories: ``asyTS-seed3-stuck.csv`` (stuck), ``asyTS-32workers-500evals-stuck.csv`` (stuck),
``asyTS-seed0-found.csv`` (found the global optimum: a variant must not lose it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd
import torch

#: Each variant: the ``async_ts`` options it changes. ``old`` is the sample-path optimiser before
#: December 2026 (4 starts from 256 Sobol points, where observed points could take every start).
OLD = {"observed_starts": 4, "raw_samples": 256, "num_restarts": 4}
VARIANTS: dict[str, dict[str, Any]] = {
    "old": OLD,
    "old+hyper16": {**OLD, "hyper_samples": 16},
    "old+floor": {**OLD, "noise_floor": 0.005},
    "old+restarts4": {**OLD, "fit_restarts": 4},
    "old-no-observed-starts": {**OLD, "observed_starts": 0},
    "default": {},
    "default+hyper16": {"hyper_samples": 16},
    "ceiling": {"raw_samples": 8192, "num_restarts": 32},
}

HISTORY_CUTS = {
    "asyTS-seed3-stuck.csv": [130, 250],
    "asyTS-32workers-500evals-stuck.csv": [150, 300],
    "asyTS-seed0-found.csv": [60, 130],
}

GLOBAL_MIN = -3.32237
DEFAULT_HISTORIES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "hartmann6-histories"


def load_history(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of the ok rows of a results.csv, in the order the results arrived."""
    df = pd.read_csv(path)
    df = df[df["status"] == "ok"].sort_values(["t_end", "eval_id"], kind="stable")
    X = df[[f"param.x{i}" for i in range(1, 7)]].to_numpy(float)
    return X, df["value"].to_numpy(float)


def in_global_basin(points: np.ndarray) -> np.ndarray:
    """Whether a local minimiser of Hartmann6 started at each point reaches the global minimum."""
    from botorch.test_functions import Hartmann
    from scipy.optimize import minimize

    f = Hartmann(dim=6)

    def value_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        t = torch.tensor(x, dtype=torch.double, requires_grad=True)
        v = f.evaluate_true(t.unsqueeze(0)).sum()
        v.backward()
        assert t.grad is not None
        return float(v.detach()), t.grad.numpy()

    out = []
    for x in points:
        res = minimize(value_and_grad, x, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * 6)
        out.append(abs(float(res.fun) - GLOBAL_MIN) < 1e-3)
    return np.array(out)


def proposals(X: np.ndarray, y: np.ndarray, options: dict[str, Any], samples: int, seed: int) -> tuple[np.ndarray, Any]:
    """``samples`` Thompson proposals from the history ``(X, y)``, and the fitted lengthscales."""
    from bench.space import Space
    from bench.strategies.base import History
    from bench.strategies.gp import training_data
    from bench.strategies.ts import ThompsonSampling

    space = Space.from_config({f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(1, 7)})
    strategy = ThompsonSampling(space, seed=seed, **options)
    history = History(X, y, np.zeros((0, 6)))
    points = strategy.ask(history, np.zeros((0, 6)), samples)
    Xt, Yt = training_data(history, 6)
    lengthscales = strategy.cache.model(Xt, Yt).covar_module.lengthscale.detach().reshape(-1).numpy()
    return points, lengthscales


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--histories", type=Path, default=DEFAULT_HISTORIES)
    parser.add_argument("--samples", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--variants", default="old,old+hyper16,old+floor,old-no-observed-starts,default,default+hyper16"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    names = args.variants.split(",")
    print(f"{'history':<38} {'n':>4} {'variant':<22} {'global':>7} {'l(x3)':>6} {'l(x5)':>6} {'s':>6}")
    for file, cuts in HISTORY_CUTS.items():
        path = args.histories / file
        if not path.exists():
            print(f"{file}: not found in {args.histories}", file=sys.stderr)
            continue
        X_all, y_all = load_history(path)
        for n in cuts:
            X, y = X_all[:n], y_all[:n]
            for name in names:
                t0 = time.perf_counter()
                points, ls = proposals(X, y, VARIANTS[name], args.samples, args.seed)
                spent = time.perf_counter() - t0
                hit = in_global_basin(points)
                share = f"{hit.sum():>3}/{len(hit):<3}"
                print(f"{file:<38} {n:>4} {name:<22} {share} {ls[2]:>6.2f} {ls[4]:>6.2f} {spent:>6.1f}", flush=True)


if __name__ == "__main__":
    main()
