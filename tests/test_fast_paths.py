"""Pathwise samples evaluated in plain torch (``bench/strategies/fast_paths.py``) and their
per-problem maximiser (``bench/strategies/path_optim.py``)."""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from botorch.sampling.pathwise import draw_kernel_feature_paths, draw_matheron_paths
from gpytorch.kernels import MaternKernel
from torch import Tensor

from bench.strategies.fast_paths import FastPaths, gaussian_update, normal_weights
from bench.strategies.gp import build_gp
from bench.strategies.path_optim import maximise_paths

torch.set_num_threads(1)
DTYPE = torch.float64


def _paths(model: SingleTaskGP, k: int, seed: int = 0, update: Any = None) -> Any:
    torch.manual_seed(seed)
    sampler = partial(draw_kernel_feature_paths, weight_generator=normal_weights)
    extra = {} if update is None else {"update_strategy": update}
    return draw_matheron_paths(model, sample_shape=torch.Size([k]), prior_sampler=sampler, **extra)


def test_fast_paths_agree_with_botorch_in_value_and_gradient(fitted_default_gp: SingleTaskGP) -> None:
    paths = _paths(fitted_default_gp, k=3)
    fast = FastPaths.of(paths, fitted_default_gp)
    assert fast is not None
    g = torch.Generator().manual_seed(9)
    shared = torch.rand(50, 4, generator=g, dtype=DTYPE)
    with torch.no_grad():
        assert torch.allclose(fast(shared), paths(shared), rtol=0, atol=1e-9)  # (k, N): every path
    per_path = torch.rand(3, 7, 4, generator=g, dtype=DTYPE).requires_grad_(True)
    (g_ref,) = torch.autograd.grad(paths(per_path).sum(), per_path)
    (g_fast,) = torch.autograd.grad(fast(per_path).sum(), per_path)
    assert torch.allclose(g_fast, g_ref, rtol=0, atol=1e-8)
    # value_and_grad_at(): path index per row, the gradient by hand
    rows = torch.rand(6, 4, generator=g, dtype=DTYPE)
    which = torch.tensor([2, 0, 1, 1, 0, 2])
    value, g_hand = fast.value_and_grad_at(rows, which)
    per_row = rows.unsqueeze(0).expand(3, 6, 4).clone().requires_grad_(True)  # every path at every row
    every = paths(per_row)  # (k, 6)
    (g_every,) = torch.autograd.grad(every[which, torch.arange(6)].sum(), per_row)
    assert torch.allclose(value, every[which, torch.arange(6)].detach(), rtol=0, atol=1e-9)
    assert torch.allclose(g_hand, g_every[which, torch.arange(6)], rtol=0, atol=1e-8)


def test_other_models_keep_botorchs_paths(smooth_gp_data: tuple[Tensor, Tensor]) -> None:
    X, Y = smooth_gp_data
    matern = SingleTaskGP(X, Y, covar_module=MaternKernel(nu=2.5, ard_num_dims=4), outcome_transform=Standardize(m=1))
    matern.eval()
    assert FastPaths.of(_paths(matern, k=2), matern) is None
    other = build_gp(X, Y).eval()
    assert FastPaths.of(_paths(other, k=2), build_gp(X, Y).eval()) is None  # paths of another model


def test_the_update_in_one_solve_is_botorchs(fitted_default_gp: SingleTaskGP) -> None:
    g = torch.Generator().manual_seed(5)
    X = torch.rand(30, 4, generator=g, dtype=DTYPE)
    ours = _paths(fitted_default_gp, k=5, seed=7, update=gaussian_update)
    theirs = _paths(fitted_default_gp, k=5, seed=7)  # the same random draws, in the same order
    with torch.no_grad():
        assert torch.allclose(ours(X), theirs(X), rtol=0, atol=1e-9)


class _Bowls:
    """``k`` known paths: path ``i`` is ``-|x - c_i|^2``, maximised at ``c_i`` clipped to the cube."""

    def __init__(self, centres: Tensor):
        self.centres = centres

    def __call__(self, X: Tensor) -> Tensor:
        if X.dim() == 2:
            return -((X.unsqueeze(0) - self.centres.unsqueeze(1)) ** 2).sum(dim=-1)
        return -((X - self.centres.unsqueeze(1)) ** 2).sum(dim=-1)


def test_each_path_is_maximised_on_its_own() -> None:
    centres = torch.tensor([[0.2, 0.7, 0.5], [0.9, 0.1, 0.4], [1.3, 0.5, -0.2]], dtype=DTYPE)
    g = torch.Generator().manual_seed(1)
    starts = torch.rand(4, 3, 3, generator=g, dtype=DTYPE)  # (R, k, d)
    best = maximise_paths(_Bowls(centres), starts, maxiter=50)
    assert torch.allclose(best, centres.clamp(0.0, 1.0), atol=1e-5)


def test_the_fast_and_the_botorch_evaluation_find_the_same_points(fitted_default_gp: SingleTaskGP) -> None:
    paths = _paths(fitted_default_gp, k=4, seed=2)
    fast = FastPaths.of(paths, fitted_default_gp)
    g = torch.Generator().manual_seed(4)
    starts = torch.rand(3, 4, 4, generator=g, dtype=DTYPE)
    from_fast = maximise_paths(fast, starts, maxiter=100)
    from_botorch = maximise_paths(paths, starts, maxiter=100)
    assert torch.allclose(from_fast, from_botorch, atol=1e-4)
    with torch.no_grad():
        at_starts = paths(starts.transpose(0, 1)).max(dim=1).values  # each path's best start
        found = paths(from_fast.unsqueeze(1)).squeeze(1)
    assert (found >= at_starts - 1e-12).all()
