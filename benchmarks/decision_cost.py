"""Seconds per decision of ei, ucb and lp: the old defaults against the current ones, 1-D, 2-D and 6-D.

``old`` is what these strategies did before their cheaper defaults: a hyperparameter fit at
every step (``refit_every: 1``) and BoTorch's multi-start L-BFGS-B from 512 random points with
10 restarts at every dimension (``acq_optimizer: multistart``). ``new`` is their defaults
(``bench/strategies/schema.py``): a fit on the ``refit_every`` schedule, and in 1-D and 2-D a
dense grid with two zooms instead of the multi-start (``bench/strategies/acq_optim.py``).

For each strategy and dimension both variants start from the same ``--obs`` random points of a
test function (Forrester in 1-D, Branin in 2-D, Hartmann6 in 6-D) and make ``--decisions``
consecutive decisions, each one's point evaluated and appended to its own history, so refits
are amortised as in a run; the two variants' decisions alternate step by step in this one
process, on one thread. With ``--running R``, R random points are running at each decision
(the Monte-Carlo and penalised paths the asynchronous presets take). The first decision, which
fits the whole warm-start chain as after a resume, is timed apart (``first``).

    python benchmarks/decision_cost.py
    python benchmarks/decision_cost.py --dims 6 --obs 100 --running 11
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks._common import compose

#: The options that give the old behaviour (everything else: the strategy's YAML defaults).
OLD = {"refit_every": 1, "acq_optimizer": "multistart", "num_restarts": 10, "raw_samples": 512}
FUNCTIONS = {1: "forrester", 2: "branin", 6: "hartmann6"}


def forrester(u: float) -> float:
    """Forrester et al.'s 1-D test function on [0, 1] (minimised; -6.02 at 0.7572)."""
    return float((6 * u - 2) ** 2 * np.sin(12 * u - 4))


def value(dim: int, u: np.ndarray) -> float:
    """The test function of ``dim`` at the unit-cube point ``u``, minimised."""
    from objectives.synthetic import FUNCTIONS as SYNTHETIC
    from objectives.synthetic import evaluate_function

    if dim == 1:
        return forrester(float(u[0]))
    function = SYNTHETIC[FUNCTIONS[dim]]
    low = np.array([b[0] for b in function.domain])
    high = np.array([b[1] for b in function.domain])
    return evaluate_function(FUNCTIONS[dim], low + u * (high - low))


def strategy(name: str, dim: int, options: dict[str, Any], seed: int = 0) -> Any:
    """``strategy=name`` from its YAML, on the unit cube of ``dim`` floats, with ``options`` on top."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from bench.space import Space

    space = Space.from_config({f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(dim)})
    conf = OmegaConf.to_container(compose(f"strategy={name}").strategy, resolve=True)
    assert isinstance(conf, dict)
    return instantiate({**conf, "n_initial": 0, **options}, space=space, seed=seed)


class Run:
    """One variant's growing history and its decision times."""

    def __init__(self, name: str, dim: int, options: dict[str, Any], obs: int):
        from bench.strategies.base import History

        self.dim = dim
        self.strategy = strategy(name, dim, options)
        X = np.random.default_rng(0).random((obs, dim))
        self.history = History(X, np.array([value(dim, x) for x in X]), np.zeros((0, dim)))
        self.times: list[float] = []

    def step(self, pending: np.ndarray) -> None:
        from bench.strategies.base import History

        t0 = time.perf_counter()
        x = self.strategy.propose(self.history, pending, 1)[0]
        self.times.append(time.perf_counter() - t0)
        h = self.history
        self.history = History(np.vstack([h.X, x]), np.append(h.y, value(self.dim, x)), h.X_failed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", nargs="+", default=["ei", "ucb", "lp"])
    parser.add_argument("--dims", nargs="+", type=int, default=[1, 2, 6], choices=sorted(FUNCTIONS))
    parser.add_argument("--obs", type=int, default=10, help="random points before the first decision")
    parser.add_argument("--decisions", type=int, default=20)
    parser.add_argument("--running", type=int, default=0, help="random running points at each decision")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    print(f"obs {args.obs}, decisions {args.decisions}, running {args.running}; seconds per decision, first apart")
    print(f"{'strategy':9}{'d':>3}{'old mean':>10}{'new mean':>10}{'new/old':>9}{'old first':>11}{'new first':>11}")
    for dim in args.dims:
        for name in args.strategies:
            runs = [Run(name, dim, OLD, args.obs), Run(name, dim, {}, args.obs)]
            rng = np.random.default_rng(1)
            for _ in range(args.decisions + 1):
                pending = rng.random((args.running, dim))
                for run in runs:
                    run.step(pending)
            old, new = (statistics.mean(r.times[1:]) for r in runs)
            print(
                f"{name:9}{dim:>3}{old:>10.3f}{new:>10.3f}{new / old:>9.2f}"
                f"{runs[0].times[0]:>11.3f}{runs[1].times[0]:>11.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
