"""What maximising Thompson samples costs: BoTorch's way against bobench's, on the same paths.

For each history size ``n`` (a prefix of a real 500-evaluation, 32-worker async_ts history on
Hartmann6, or random points past it) and each batch size ``k``, a GP is fitted once; then, for
each repetition, ``k`` pathwise samples are drawn and their starts chosen exactly as
``ThompsonSampling._starts`` does, and three maximisers run on those same paths from those same
starts, interleaved, on one torch thread:

- ``botorch``: what ``ts.py`` did before: BoTorch's paths (``draw_matheron_paths`` with its own
  update) and ``gen_candidates_scipy`` on the sum of the paths, one ``k · d``-dimensional
  L-BFGS-B problem per start;
- ``per-problem``: the same BoTorch paths, each (start, path) its own L-BFGS-B problem
  (``bench/strategies/path_optim.py``);
- ``bobench``: what ``ts.py`` does now: the paths drawn with the one-solve update and evaluated
  by ``FastPaths`` with hand-written gradients, each (start, path) its own problem.

Timed: CPU seconds of drawing the paths, choosing the starts and maximising (not the fit). Also
printed, per variant, how far each path's found maximum falls below the best of the three
(``gap``: 0 when it found the best; the variants share the paths' random draws, so their paths
are the same up to rounding).

    OMP_NUM_THREADS=1 python benchmarks/ts_paths.py
    OMP_NUM_THREADS=1 python benchmarks/ts_paths.py --n 500 --batch 8 --repetitions 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HISTORY = (
    Path(__file__).resolve().parent.parent.parent / "shared/data/hartmann6-histories/asyTS-32workers-500evals-stuck.csv"
)
VARIANTS = ("botorch", "per-problem", "bobench")


def history(n: int, seed: int = 0) -> tuple[Any, Any]:
    """``n`` rows of the saved async_ts history (random points past its 500), Hartmann6 values negated."""
    import numpy as np
    import torch

    from objectives.synthetic import evaluate_function

    columns = [f"param.x{i}" for i in range(1, 7)]
    if HISTORY.exists():
        import pandas as pd

        X = pd.read_csv(HISTORY)[columns].to_numpy()
    else:
        X = np.zeros((0, 6))
    extra = np.random.default_rng(seed).random((max(0, n - len(X)), 6))
    X = np.concatenate([X, extra])[:n]
    y = np.array([evaluate_function("hartmann6", x) for x in X])
    return torch.tensor(X), -torch.tensor(y).unsqueeze(-1)


def draw(model: Any, k: int, seed: int, fast: bool) -> Any:
    import torch
    from botorch.sampling.pathwise import draw_kernel_feature_paths, draw_matheron_paths

    from bench.strategies.fast_paths import FastPaths, gaussian_update, normal_weights

    torch.manual_seed(seed)
    extra = {"update_strategy": gaussian_update} if fast else {}
    sampler = partial(draw_kernel_feature_paths, weight_generator=normal_weights)
    paths = draw_matheron_paths(model, sample_shape=torch.Size([k]), prior_sampler=sampler, **extra)
    return (FastPaths.of(paths, model) or paths) if fast else paths


def starts(paths: Any, X: Any, k: int, seed: int, restarts: int = 8, raw: int = 1024) -> Any:
    """As ``ThompsonSampling._starts`` with its defaults: each path's best observed point and best Sobol points."""
    import torch
    from torch.quasirandom import SobolEngine

    sobol = SobolEngine(X.shape[-1], scramble=True, seed=seed).draw(raw, dtype=X.dtype)
    with torch.no_grad():
        parts = [sobol[paths(sobol).topk(restarts - 1, dim=1).indices], X[paths(X).topk(1, dim=1).indices]]
    return torch.cat(parts, dim=1).transpose(0, 1).contiguous()


def joint(model: Any, paths: Any, init: Any, maxiter: int) -> Any:
    """The maximiser ``ts.py`` used before: one L-BFGS-B problem per start over all ``k`` paths."""
    import torch
    from botorch.acquisition import AcquisitionFunction
    from botorch.generation.gen import gen_candidates_scipy

    class Summed(AcquisitionFunction):
        def __init__(self) -> None:
            super().__init__(model=model)

        def forward(self, X: Any) -> Any:
            return paths(X.transpose(0, 1)).sum(dim=0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found, _ = gen_candidates_scipy(
            init, Summed(), lower_bounds=0.0, upper_bounds=1.0, options={"maxiter": maxiter}
        )
    found = found.detach().clamp(0.0, 1.0)
    with torch.no_grad():
        best = paths(found.transpose(0, 1)).argmax(dim=1)
    return found[best, torch.arange(init.shape[1])]


def decide(variant: str, model: Any, X: Any, k: int, seed: int, maxiter: int) -> tuple[float, Any]:
    """One decision's CPU seconds and its points ``(k, d)``."""
    from bench.strategies.path_optim import maximise_paths

    t0 = time.process_time()
    paths = draw(model, k, seed, fast=variant == "bobench")
    init = starts(paths, X, k, seed)
    points = joint(model, paths, init, maxiter) if variant == "botorch" else maximise_paths(paths, init, maxiter)
    return time.process_time() - t0, points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[50, 200, 500, 1000])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--maxiter", type=int, default=100, help="L-BFGS-B iterations (TS's default: 100)")
    args = parser.parse_args()
    for name, values in (("--n", args.n), ("--batch", args.batch)):
        if any(v < 1 for v in values):
            parser.error(f"{name}: every value must be >= 1, got {values}")
    if args.repetitions < 1 or args.maxiter < 1:
        parser.error("--repetitions and --maxiter must be >= 1")

    import torch

    from bench.strategies.gp import build_gp, fit_hyperparameters

    torch.set_num_threads(1)
    print(
        f"CPU s per decision (k paths drawn, starts chosen, maximised); median of {args.repetitions}, "
        f"variants interleaved, torch threads 1; gap: mean over paths of (best found by any variant - this one's)"
    )
    print(f"{'n':>5} {'k':>3}  " + "  ".join(f"{v:>12} {'gap':>8}" for v in VARIANTS) + "   bobench/botorch")
    for n in args.n:
        X, Y = history(n)
        model = build_gp(X, Y)
        fit_hyperparameters(model, seed=0)
        model.eval()
        for k in args.batch:
            times: dict[str, list[float]] = {v: [] for v in VARIANTS}
            gaps: dict[str, list[float]] = {v: [] for v in VARIANTS}
            for rep in range(args.repetitions):
                order = VARIANTS[rep % 3 :] + VARIANTS[: rep % 3]
                found = {}
                for variant in order:
                    seconds, points = decide(variant, model, X, k, seed=1000 * n + 10 * k + rep, maxiter=args.maxiter)
                    times[variant].append(seconds)
                    found[variant] = points
                reference = draw(model, k, 1000 * n + 10 * k + rep, fast=False)  # the decisions' draws
                with torch.no_grad():  # every variant's points on BoTorch's paths
                    values = {v: reference(p.unsqueeze(1)).squeeze(1) for v, p in found.items()}
                best = torch.stack(list(values.values())).max(dim=0).values
                for v in VARIANTS:
                    gaps[v].append(float((best - values[v]).mean()))
            med = {v: statistics.median(times[v]) for v in VARIANTS}
            cells = "  ".join(f"{med[v]:>12.4f} {statistics.mean(gaps[v]):>8.1e}" for v in VARIANTS)
            print(f"{n:>5} {k:>3}  {cells}   {med['bobench'] / med['botorch']:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
