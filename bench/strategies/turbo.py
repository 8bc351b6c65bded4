"""Trust-region Thompson sampling: TuRBO-1 (Eriksson et al. 2019) made asynchronous.

``async_ts`` is a global method: on Hartmann6 it climbs whichever basin the best point of its
random start lies in and never leaves it (docs/parallel-bo.md, "The random start decides").
TuRBO keeps a box, the *trust region*, around the incumbent: a GP fitted to the region's data,
one Thompson sample per proposed point maximised over ``n_candidates`` Sobol points in the box.
``success_tolerance`` improvements in a row double the box's side, ``failure_tolerance`` failures
in a row halve it, and when it falls below ``length_min`` the region has converged: the strategy
*restarts*, forgetting the region's data, with ``restart_points`` fresh Sobol points. So a run
that settled on a local optimum gets further random starts, each with its own chance of the
global basin.

State without state: the region (its data, side and counters) is replayed from the history at
every decision, rows in the order results arrived, so proposals stay a pure function of (seed,
history, pending) and a resumed run proposes what an uninterrupted one does. As in asyTS,
running evaluations are not looked at. Results of evaluations that were still running from the
old region when it restarted are not the new region's (known from the history's evaluation ids:
the new region's rows are those submitted from its first Sobol point on).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from botorch.models import SingleTaskGP
from torch import Tensor
from torch.quasirandom import SobolEngine

from bench.seeding import derive_seed
from bench.space import Space
from bench.strategies.base import History, sobol_points
from bench.strategies.fast_paths import draw_paths
from bench.strategies.gp import DTYPE, MIN_POINTS, GPStrategy, as_pending, torch_seeded, training_data
from bench.strategies.turbo_schema import TurboOptions

#: TuRBO's improvement threshold: a result improves on the region's best by more than this share.
IMPROVEMENT = 1e-3


@dataclass
class Region:
    """The trust region a history leaves: which rows are its data, its side, its counters."""

    start: int  # the first row (in arrival order) that can be the region's
    length: float
    restarts: int  # how many times the run restarted before this region
    #: the first evaluation id that is the region's: a restarted region's first Sobol point (rows
    #: with a lower id were still running from the region before); -inf: every row from ``start``
    first_id: float = -math.inf
    size: int = 0  # the region's rows so far
    successes: int = 0
    failures: int = 0

    def rows(self, n: int, eval_ids: np.ndarray | None) -> np.ndarray:
        """``(n,)`` whether each history row is the region's."""
        mask = np.arange(n) >= self.start
        return mask if eval_ids is None else mask & (eval_ids >= self.first_id)


def replay(
    y: np.ndarray,
    from_start: np.ndarray,
    options: TurboOptions,
    dim: int,
    eval_ids: np.ndarray | None = None,
    restart_design: Callable[[int], np.ndarray] | None = None,
) -> Region:
    """The region after the results ``y`` (in arrival order), TuRBO-1's rules applied one by one.

    Results of the run's initial design (``from_start``), the first ``restart_points`` results
    of a restarted region, and a region's first result only set the region's best value; every
    other result is a success or a failure. With ``eval_ids`` and ``restart_design``, a restarted
    region's rows are those submitted from its first Sobol point on, so evaluations still running
    from the old region when it restarted (near its optimum) do not pull the new one back there.

    Args:
        y: the finished values, minimised, in the order they arrived.
        from_start: ``(len(y),)`` whether each result is a point of the run's initial design.
        options: the side and tolerances.
        dim: the dimension (for the default tolerances).
        eval_ids: ``(len(y),)`` each result's evaluation id (the submit order), if known.
        restart_design: ``r -> (len(y),)`` whether each row is a Sobol point of the ``r``-th
            restart's design.
    """
    fail_tol = options.failure_tolerance or max(4, dim)
    n_restart = options.restart_points or 2 * dim
    region = Region(start=0, length=options.length_init, restarts=0)
    best = math.inf
    for i, value in enumerate(y):
        if eval_ids is not None and eval_ids[i] < region.first_id:
            continue  # still running from the region before: not this region's
        if not math.isfinite(value):
            continue
        region.size += 1
        if from_start[i] or (region.restarts and region.size <= n_restart) or best == math.inf:
            best = min(best, value)  # the region's initial design (or its first value): no counting yet
            continue
        if value < best - IMPROVEMENT * abs(best):
            region.successes, region.failures = region.successes + 1, 0
        else:
            region.successes, region.failures = 0, region.failures + 1
        best = min(best, value)
        if region.successes == options.success_tolerance:
            region.length, region.successes = min(2.0 * region.length, options.length_max), 0
        elif region.failures == fail_tol:
            region.length, region.failures = region.length / 2.0, 0
        if region.length < options.length_min:
            restarts = region.restarts + 1
            region = Region(start=i + 1, length=options.length_init, restarts=restarts)
            if eval_ids is not None and restart_design is not None:
                later = restart_design(restarts) & (np.arange(len(y)) > i)
                region.first_id = float(eval_ids[later].min()) if later.any() else math.inf
            best = math.inf
    return region


class TrustRegionTS(GPStrategy):
    """TuRBO-1 with one Thompson sample per point, asynchronous (see the module's docstring).

    Args:
        space: the search space.
        seed: the run's seed.
        options: :class:`~bench.strategies.turbo_schema.TurboOptions` as keywords.
    """

    name = "turbo_ts"

    def __init__(self, space: Space, seed: int = 0, **options: Any):
        opts = TurboOptions.parse(self.name, options)
        super().__init__(space, seed, opts)
        self.turbo = opts

    def region(self, history: History, pending: np.ndarray) -> Region:
        """The trust region the history leaves."""
        ids = self._eval_ids(history)
        return replay(
            np.asarray(history.y, dtype=float),
            self.from_start(history, pending),
            self.turbo,
            self.dim,
            eval_ids=ids,
            restart_design=lambda r: self._sobol_rows(history, self._restart_seed(r), history.n_tried + len(pending)),
        )

    def from_start(self, history: History, pending: np.ndarray) -> np.ndarray:
        """Which finished rows are points of the run's initial design (the base's Sobol sequence)."""
        return self._sobol_rows(history, self.seed, history.n_tried + len(pending))

    def _sobol_rows(self, history: History, seed: int, n: int) -> np.ndarray:
        """Whether each row of ``history.X`` equals exactly one of the first ``n`` points of the
        Sobol sequence seeded by ``seed`` (point ``k`` is proposed as the ``k``-th evaluation)."""
        design = {tuple(row) for row in sobol_points(self.dim, seed, start=0, n=n).tolist()}
        return np.array([tuple(row) in design for row in np.asarray(history.X, dtype=float).tolist()], dtype=bool)

    def _restart_seed(self, restarts: int) -> int:
        return derive_seed(self.seed, "turbo-restart", restarts)

    @staticmethod
    def _eval_ids(history: History) -> np.ndarray | None:
        ids = np.asarray(history.eval_ids)
        return ids if len(ids) == len(history.y) and len(ids) else None

    def ask(self, history: History, pending: np.ndarray, n: int) -> np.ndarray:
        n, d = int(n), self.dim
        pending = as_pending(pending, d)
        if n <= 0:
            return np.zeros((0, d))
        region = self.region(history, pending)
        n_restart = self.turbo.restart_points or 2 * d
        if region.size < MIN_POINTS or (region.restarts and region.size < n_restart):
            # A new region starts from its own scrambled Sobol sequence (salted by the restart).
            seed = self.seed if not region.restarts else self._restart_seed(region.restarts)
            return sobol_points(d, seed, start=history.n_tried + len(pending), n=n)
        mine = region.rows(len(history.y), self._eval_ids(history))
        X, Y = training_data(History(np.asarray(history.X)[mine], np.asarray(history.y)[mine]), d)
        with torch_seeded(self.rng_seed(history, pending, self.name)):
            model = self.cache.model(X, Y)
            out = self._in_region(model, X, Y, region.length, n)
        return np.clip(out.detach().numpy().reshape(n, d), 0.0, 1.0)

    def acquire(self, model: SingleTaskGP, X: Tensor, Y: Tensor, pending: Tensor, n: int, t: int) -> Tensor:
        """Unused: :meth:`ask` builds the region's model itself."""
        raise NotImplementedError

    def _in_region(self, model: SingleTaskGP, X: Tensor, Y: Tensor, length: float, n: int) -> Tensor:
        """``n`` points, each the best of one posterior sample path on Sobol points in the region."""
        lengthscale = model.covar_module.lengthscale.detach().reshape(-1)
        weights = lengthscale / lengthscale.prod().pow(1.0 / len(lengthscale))
        center = X[Y.squeeze(-1).argmax()]
        lower = (center - weights * length / 2.0).clamp(0.0, 1.0)
        upper = (center + weights * length / 2.0).clamp(0.0, 1.0)
        seed = int(torch.randint(0, 2**31 - 1, (1,)).item())  # torch is seeded per decision
        unit = SobolEngine(self.dim, scramble=True, seed=seed).draw(self.turbo.n_candidates, dtype=DTYPE)
        candidates = lower + (upper - lower) * unit
        paths = draw_paths(model, n)
        with torch.no_grad():
            values = paths(candidates)  # (n, N)
        return candidates[values.argmax(dim=1)]
