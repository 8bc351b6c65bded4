"""Maximising ``k`` sample paths: one small L-BFGS-B problem per (start, path).

Each Thompson sample is maximised on its own, so the ``R`` starts of ``k`` paths are ``R · k``
independent ``d``-dimensional problems. BoTorch's batched L-BFGS-B
(``botorch.optim.batched_lbfgs_b``) runs them side by side and stops each when it converges, and
asks only for the problems still running; an evaluator gives those the value and gradient of
their own path. (Summing the paths into one ``k · d``-dimensional problem, as
``gen_candidates_scipy`` with a ``(R, k, d)`` start does, shares one line search and one stopping
test among the ``k`` paths: every path then takes as many iterations as the slowest.)

Evaluators: :class:`~bench.strategies.fast_paths.FastPaths` evaluates only the problems still
running; any other ``k``-path sample (BoTorch's paths) is evaluated at every problem's current
point, with the converged ones held fixed.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from botorch.optim.batched_lbfgs_b import fmin_l_bfgs_b_batched
from torch import Tensor

from bench.strategies.fast_paths import FastPaths


class _AllPaths:
    """Values of problems ``e = r · k + i`` (start ``r``, path ``i``) from a path sample called on
    ``(k, R, d)``: every problem's current point is kept, and the requested ones replaced."""

    def __init__(self, paths: Any, starts: Tensor):
        self.paths = paths
        self.R, self.k, self.d = starts.shape
        self.current = starts.reshape(-1, self.d).clone()

    def __call__(self, X: Tensor, problems: Tensor) -> Tensor:
        points = self.current.index_put((problems,), X)
        self.current = points.detach()
        values = self.paths(points.reshape(self.R, self.k, self.d).transpose(0, 1))  # (k, R)
        return values.transpose(0, 1).reshape(-1)[problems]

    def value_and_grad(self, X: Tensor, problems: Tensor) -> tuple[Tensor, Tensor]:
        X = X.detach().requires_grad_(True)
        values = self(X, problems)
        (grad,) = torch.autograd.grad(values.sum(), X)
        return values.detach(), grad


class _FastPathsAt:
    """Values and gradients of problems ``e = r · k + i`` from :meth:`FastPaths.value_and_grad_at`
    (only those asked for)."""

    def __init__(self, paths: FastPaths, k: int):
        self.paths = paths
        self.k = k

    def value_and_grad(self, X: Tensor, problems: Tensor) -> tuple[Tensor, Tensor]:
        return self.paths.value_and_grad_at(X, problems % self.k)


def maximise_paths(paths: Any, starts: Tensor, maxiter: int) -> Tensor:
    """Each path's best point: ``(k, d)``.

    Args:
        paths: ``k`` sample paths, called as ``X (k, b, d) -> (k, b)``; a :class:`FastPaths` is
            evaluated per problem.
        starts: ``(R, k, d)``: start ``r`` of path ``i`` (in the unit cube).
        maxiter: L-BFGS-B iterations per problem.
    """
    R, k, d = starts.shape
    evaluate = _FastPathsAt(paths, k) if isinstance(paths, FastPaths) else _AllPaths(paths, starts)
    dtype = starts.dtype

    def negated(x: np.ndarray, batch_indices: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        problems = torch.arange(R * k) if batch_indices is None else torch.as_tensor(batch_indices)
        X = torch.from_numpy(x).to(dtype).reshape(-1, d)
        values, grad = evaluate.value_and_grad(X, problems)
        return -values.numpy(), -grad.numpy()

    x0 = starts.reshape(-1, d).clamp(0.0, 1.0).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found, _, _ = fmin_l_bfgs_b_batched(
            negated, x0, bounds=[(0.0, 1.0)] * d, maxiter=maxiter, pass_batch_indices=True
        )
    found_t = torch.from_numpy(np.asarray(found)).to(dtype).reshape(R * k, d).clamp(0.0, 1.0)
    with torch.no_grad():
        values = _AllPaths(paths, found_t.reshape(R, k, d))(found_t, torch.arange(R * k)).reshape(R, k)
    best = values.argmax(dim=0)  # (k,)
    return found_t.reshape(R, k, d)[best, torch.arange(k)]
