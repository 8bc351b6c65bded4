"""Maximising an acquisition function over the unit cube: a dense grid in 1-D and 2-D, multi-start above.

In one or two dimensions the acquisition is scored on a regular grid that includes the cube's
faces; around each of its two best local maxima a finer grid spanning the coarse one's spacing
either side is scored, and again around the best of that, a few times (:class:`GridPlan`,
``ANALYTIC_GRIDS``, ``MC_GRIDS``); the best point scored is kept. A GP acquisition is smooth at the
scale of its lengthscales, so the coarse grid finds the basin of the global maximum (a wrong
basin can only lose what the coarse spacing loses in acquisition value) and the zooms find its
top to 1/2048 of the cube's side or finer. It is a few batched evaluations of the acquisition, with
nothing random in it: cheaper than BoTorch's multi-start (512 random points, then 10 L-BFGS-B
runs of tens of evaluations each), and a pure function of the acquisition.

Above two dimensions, BoTorch's ``optimize_acqf`` (random raw samples, the best as L-BFGS-B
starts); :func:`acquisition_budget` sizes ``num_restarts`` and ``raw_samples`` to the dimension
when the user leaves them unset.

Batches (``q > 1``) are greedy, as ``optimize_acqf(sequential=True)``: each next point maximises
the acquisition with the batch's earlier points added to its ``X_pending``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.fx.experimental.symbolic_shapes  # loads sympy (~1 s) at start-up, not in the first decision
from botorch.acquisition import AcquisitionFunction, MCAcquisitionFunction
from botorch.optim import optimize_acqf
from torch import Tensor
from torch.nn.functional import max_pool1d, max_pool2d

DTYPE = torch.double


@dataclass(frozen=True)
class GridPlan:
    """A coarse grid of ``points`` per axis, then ``levels`` zooms of ``zoom_points`` per axis around
    its best ``starts`` local maxima, each zoom spanning the previous grid's spacing either side."""

    points: int
    zoom_points: int
    levels: int
    starts: int = 2

    def resolution(self) -> float:
        """The last zoom's spacing, as a fraction of the cube's side."""
        return 1.0 / ((self.points - 1) * ((self.zoom_points - 1) // 2) ** self.levels)


#: The grids of analytic acquisitions, by dimension (the dimensions ``auto`` uses a grid in):
#: 1-D 1025 points then two 17-point zooms (to 1/65536); 2-D 65 x 65 then three 9 x 9 zooms (to 1/4096).
ANALYTIC_GRIDS = {1: GridPlan(1025, 17, 2), 2: GridPlan(65, 9, 3)}
#: Monte-Carlo acquisitions (running points, batches) cost about 0.2 ms a point with 3 running and
#: 0.6 ms with 11 (128 samples), so their coarse grids are sparser, about as dense as 512 raw samples.
MC_GRIDS = {1: GridPlan(257, 17, 2), 2: GridPlan(33, 9, 3)}
#: Grid points scored at once (bounds the memory of Monte-Carlo acquisitions).
CHUNK = 2048

#: The multi-start budget sized to the dimension: ``num_restarts = min(RESTARTS_CAP, RESTARTS_PER_DIM · d)``,
#: ``raw_samples = min(RAW_CAP, RAW_PER_DIM · d)`` (at 6-D BoTorch's usual 10 and 512).
RESTARTS_PER_DIM, RESTARTS_CAP = 2, 10
RAW_PER_DIM, RAW_CAP = 128, 512


def acquisition_budget(dim: int, num_restarts: int | None, raw_samples: int | None) -> tuple[int, int]:
    """``(num_restarts, raw_samples)``: what the user set, and the rest sized to the dimension.

    A sized ``raw_samples`` is at least the number of restarts, and sized restarts at most ``raw_samples``.
    """
    restarts = num_restarts if num_restarts is not None else min(RESTARTS_CAP, RESTARTS_PER_DIM * dim)
    if raw_samples is not None:
        return (restarts if num_restarts is not None else min(restarts, raw_samples)), raw_samples
    return restarts, max(min(RAW_CAP, RAW_PER_DIM * dim), restarts)


def grid(dim: int, points: int) -> Tensor:
    """The regular grid of ``points`` per axis on ``[0, 1]^dim``, faces included: ``(points^dim, dim)``."""
    axis = torch.linspace(0.0, 1.0, points, dtype=DTYPE)
    return torch.cartesian_prod(*[axis] * dim).reshape(-1, dim)


def grid_plan(acq: AcquisitionFunction, dim: int) -> GridPlan:
    """The grid that maximises ``acq`` in ``dim`` (1 or 2) dimensions."""
    return (MC_GRIDS if isinstance(acq, MCAcquisitionFunction) else ANALYTIC_GRIDS)[dim]


def uses_grid(optimiser: str, dim: int) -> bool:
    """Whether ``optimiser`` maximises by a grid in ``dim`` dimensions."""
    return optimiser == "auto" and dim in ANALYTIC_GRIDS


def maximise(
    acq: AcquisitionFunction,
    dim: int,
    q: int = 1,
    optimiser: str = "auto",
    num_restarts: int = 10,
    raw_samples: int = 512,
    maxiter: int = 200,
) -> Tensor:
    """``q`` points ``(q, d)`` maximising ``acq``, greedily for ``q > 1``.

    Args:
        acq: a ``q = 1`` acquisition (analytic or Monte-Carlo; for ``q > 1`` one with ``X_pending``).
        dim: the cube's dimension.
        q: how many points.
        optimiser: ``auto`` or ``multistart`` (see the module's docstring).
        num_restarts, raw_samples: the multi-start's budget (unused by the grid).
        maxiter: L-BFGS-B iterations per start (and of the grid's polish).
    """
    if not uses_grid(optimiser, dim):
        return multistart(acq, dim, q, num_restarts, raw_samples, maxiter)
    if q == 1:
        return _grid_point(acq, dim)
    base = acq.X_pending
    chosen: list[Tensor] = []
    for _ in range(q):
        if chosen:
            batch = torch.cat(chosen, dim=0)
            acq.set_X_pending(batch if base is None else torch.cat([base, batch], dim=-2))
        chosen.append(_grid_point(acq, dim))
    acq.set_X_pending(base)
    return torch.cat(chosen, dim=0)


def _grid_point(acq: AcquisitionFunction, dim: int) -> Tensor:
    """The best point of the grid refined around its best local maxima: ``(1, d)``."""
    plan = grid_plan(acq, dim)
    points = grid(dim, plan.points)
    values = _scores(acq, points)
    best, best_value = points[values.argmax()], values.max()
    centres = points[_local_maxima(values, dim, plan.points)[: plan.starts]]
    half = 1.0 / (plan.points - 1)  # the grid's spacing: the maximum lies within it of a local maximum
    offsets = grid(dim, plan.zoom_points) * 2.0 - 1.0
    for _ in range(plan.levels):
        zoomed = (centres.unsqueeze(1) + half * offsets).clamp(0.0, 1.0)  # (starts, zoom points, d)
        zoomed_values = _scores(acq, zoomed.reshape(-1, dim)).reshape(len(centres), -1)
        centres = zoomed[torch.arange(len(centres)), zoomed_values.argmax(dim=1)]
        top = zoomed_values.max(dim=1).values
        if float(top.max()) > float(best_value):
            best, best_value = centres[top.argmax()], top.max()
        half *= 2.0 / (plan.zoom_points - 1)
    return best.reshape(1, dim)


def _scores(acq: AcquisitionFunction, points: Tensor) -> Tensor:
    """``acq`` at each of ``points (b, d)``, as ``q = 1`` batches, NaN as ``-inf``: ``(b,)``."""
    with torch.no_grad():
        values = torch.cat([acq(chunk.unsqueeze(-2)) for chunk in points.split(CHUNK)])
    return torch.nan_to_num(values, nan=-torch.inf)


def _local_maxima(values: Tensor, dim: int, points: int) -> Tensor:
    """Indices of the grid's points no lower than their neighbours (faces and diagonals), best first.

    On a plateau every point of it counts; the global maximum always does.
    """
    order = values.argsort(descending=True)
    field = values.reshape(1, 1, *([points] * dim))
    pooled = (max_pool1d if dim == 1 else max_pool2d)(field, kernel_size=3, stride=1, padding=1)
    return order[(values >= pooled.reshape(-1))[order]]


def multistart(
    acq: AcquisitionFunction,
    dim: int,
    q: int,
    num_restarts: int,
    raw_samples: int,
    maxiter: int = 200,
    sequential: bool = True,
) -> Tensor:
    """BoTorch's multi-start L-BFGS-B, greedy for ``q > 1`` with ``sequential`` (else joint): ``(q, d)``."""
    bounds = torch.stack([torch.zeros(dim, dtype=DTYPE), torch.ones(dim, dtype=DTYPE)])
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("ignore")  # "optimisation failed to converge" and the like
        cand, _ = optimize_acqf(
            acq,
            bounds=bounds,
            q=q,
            num_restarts=num_restarts,
            raw_samples=raw_samples,
            options={"maxiter": maxiter},
            sequential=sequential and q > 1,
        )
    return cand.detach().reshape(q, dim)
