"""Do outcome or input transforms let Thompson sampling leave Hartmann6's local optimum? On saved histories.

A screen beside ``surrogate_basin.py``: for each history prefix, ``async_ts`` (today's options)
proposes ``--samples`` points with its GP built four ways, and each proposal is scored by its
true Hartmann6 value:

- ``default``: the strategy's GP (outcomes standardised);
- ``bilog``: BoTorch's ``Bilog`` outcome transform before standardising (compresses large values);
- ``copula``: the values replaced by normal quantiles of their ranks (a Gaussian copula, as in
  Salinas et al. 2020), so the top values lie no further apart than the rest;
- ``warp``: BoTorch's ``Warp`` input transform (a learnt Kumaraswamy CDF per coordinate, Snoek
  et al. 2014), a non-stationary stretch of each axis.

Columns: proposals in the global basin (a local minimiser started there reaches -3.32237), those
*near* the global optimum (in its basin and below -3.0, which no point of the local basin
reaches), and those better than the history's incumbent.

    python benchmarks/surrogate_transforms.py                                # the shared stuck history
    python benchmarks/surrogate_transforms.py --history RUN/results.csv:150,300 --variants default,copula

The variants swap ``bench.strategies.gp``'s GP builder and training data for the duration of one
ask, so the strategy's fits must run in this process (``fit_lag: 0``, the default).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

import bench.strategies.gp as gp
from benchmarks.surrogate_basin import DEFAULT_HISTORIES, in_global_basin, load_history, proposals


def _bilog_gp(X: torch.Tensor, Y: torch.Tensor, noise_floor: float = gp.DEFAULT_NOISE_FLOOR) -> Any:
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Standardize
    from botorch.models.transforms.outcome import Bilog, ChainedOutcomeTransform

    transform = ChainedOutcomeTransform(bilog=Bilog(), standardize=Standardize(m=1))
    return SingleTaskGP(X, Y, likelihood=gp.gaussian_likelihood(noise_floor), outcome_transform=transform)


def _warp_gp(X: torch.Tensor, Y: torch.Tensor, noise_floor: float = gp.DEFAULT_NOISE_FLOOR) -> Any:
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Standardize
    from botorch.models.transforms.input import Warp

    d = X.shape[-1]
    return SingleTaskGP(
        X,
        Y,
        likelihood=gp.gaussian_likelihood(noise_floor),
        outcome_transform=Standardize(m=1),
        input_transform=Warp(d=d, indices=list(range(d))),
    )


_plain_training_data = gp.training_data


def _copula_training_data(history: Any, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    from scipy.stats import norm, rankdata

    X, Y = _plain_training_data(history, dim)
    ranks = rankdata(Y.squeeze(-1).numpy())
    return X, torch.as_tensor(norm.ppf((ranks - 0.5) / len(ranks)), dtype=Y.dtype).unsqueeze(-1)


VARIANTS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "default": (gp.build_gp, gp.training_data),
    "bilog": (_bilog_gp, gp.training_data),
    "copula": (gp.build_gp, _copula_training_data),
    "warp": (_warp_gp, gp.training_data),
}


@contextmanager
def variant(name: str) -> Iterator[None]:
    saved = gp.build_gp, gp.training_data
    gp.build_gp, gp.training_data = VARIANTS[name]
    try:
        yield
    finally:
        gp.build_gp, gp.training_data = saved


def _history_arg(text: str) -> tuple[Path, list[int]]:
    path, _, cuts = text.rpartition(":")
    return Path(path), [int(c) for c in cuts.split(",")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--history",
        type=_history_arg,
        action="append",
        help="PATH:N1,N2 — a results.csv and the prefix sizes to try (repeatable)",
    )
    parser.add_argument("--samples", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args(argv)
    histories = args.history or [(DEFAULT_HISTORIES / "asyTS-seed3-stuck.csv", [130, 250])]
    torch.set_num_threads(1)
    from botorch.test_functions import Hartmann

    hartmann = Hartmann(dim=6)
    print(f"{'history':<40} {'n':>4} {'variant':<8} {'global':>7} {'near':>5} {'better':>6} {'s':>6}")
    for path, cuts in histories:
        X_all, y_all = load_history(path)
        for n in cuts:
            X, y = X_all[:n], y_all[:n]
            for name in args.variants.split(","):
                t0 = time.perf_counter()
                with variant(name):
                    points, _ = proposals(X, y, {}, args.samples, args.seed)
                spent = time.perf_counter() - t0
                values = hartmann.evaluate_true(torch.as_tensor(points)).numpy()
                basin = in_global_basin(points)
                near = int(np.sum(basin & (values < -3.0)))
                better = int(np.sum(values < y.min()))
                label = f"{path.parent.name}/{path.name}"[-40:]
                share = f"{basin.sum():>3}/{len(basin):<3}"
                print(f"{label:<40} {n:>4} {name:<8} {share} {near:>5} {better:>6} {spent:>6.1f}", flush=True)


if __name__ == "__main__":
    main()
