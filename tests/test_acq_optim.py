"""The acquisition optimiser (bench/strategies/acq_optim.py): known maxima found, budgets sized, deterministic."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from botorch.acquisition import AcquisitionFunction, LogExpectedImprovement, qLogExpectedImprovement
from botorch.sampling import SobolQMCNormalSampler
from torch import Tensor

from bench.space import Space
from bench.strategies import acq_optim
from bench.strategies.base import History
from bench.strategies.ei import ExpectedImprovement
from bench.strategies.gp import GPModelCache
from bench.strategies.lp import LocalPenalization
from bench.strategies.ucb import UpperConfidenceBoundStrategy

DTYPE = torch.double


def _gp(dim: int, n: int = 12, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, dim, generator=g, dtype=DTYPE)
    Y = torch.sin(6 * X).sum(dim=-1, keepdim=True)
    return GPModelCache(seed=0).model(X, Y), X, Y


class KnownFunction(AcquisitionFunction):
    """A fixed function of ``x`` as an acquisition (its model is a real GP it never asks)."""

    def __init__(self, fn, dim: int):
        super().__init__(model=_gp(dim)[0])
        self.fn = fn

    def forward(self, X: Tensor) -> Tensor:
        return self.fn(X.squeeze(-2))


def two_bumps_1d(x: Tensor) -> Tensor:
    """A broad bump at 0.2 (height 0.9) and a narrow, higher one at 0.71234 (height 1)."""
    x = x[..., 0]
    return 0.9 * torch.exp(-((x - 0.2) ** 2) / 0.01) + torch.exp(-((x - 0.71234) ** 2) / 0.0005)


def two_bumps_2d(x: Tensor) -> Tensor:
    """A broad bump at (0.3, 0.7) (height 0.95) and a narrower, higher one at (0.6173, 0.2841)."""
    far = ((x - torch.tensor([0.3, 0.7], dtype=DTYPE)) ** 2).sum(-1)
    near = ((x - torch.tensor([0.6173, 0.2841], dtype=DTYPE)) ** 2).sum(-1)
    return 0.95 * torch.exp(-far / 0.05) + torch.exp(-near / 0.004)


@pytest.mark.parametrize(
    ("fn", "dim", "argmax", "tol"),
    [
        (two_bumps_1d, 1, [0.71234], 1e-4),
        (two_bumps_2d, 2, [0.6173, 0.2841], 1e-3),
        (lambda x: x.sum(-1), 2, [1.0, 1.0], 0.0),  # on a corner: the grid has the faces
        (lambda x: -((x[..., 0] - 0.0) ** 2), 1, [0.0], 0.0),
    ],
)
def test_the_grid_finds_a_known_maximum(fn, dim, argmax, tol):
    x = acq_optim.maximise(KnownFunction(fn, dim), dim)
    assert x.shape == (1, dim)
    np.testing.assert_allclose(x[0].numpy(), argmax, atol=tol)


def test_the_grid_refines_to_its_resolution():
    """The maximum of a smooth bump off every grid point is found to about the last zoom's spacing."""
    centre = 0.123456789
    x = acq_optim.maximise(KnownFunction(lambda x: -((x[..., 0] - centre) ** 2), 1), 1)
    assert abs(float(x[0, 0]) - centre) <= acq_optim.ANALYTIC_GRIDS[1].resolution()


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("running", [0, 3])
def test_the_grid_is_as_good_as_a_brute_force_search_on_a_gp(dim, running):
    """On a GP's log EI (analytic, or Monte-Carlo with running points), the grid's point scores at
    least what a search over many more points finds, less a small tolerance."""
    model, _, Y = _gp(dim, seed=dim)
    if running:
        pending = torch.rand(running, dim, generator=torch.Generator().manual_seed(5), dtype=DTYPE)
        acq = qLogExpectedImprovement(
            model, best_f=Y.max(), sampler=SobolQMCNormalSampler(torch.Size([32]), seed=0), X_pending=pending
        )
    else:
        acq = LogExpectedImprovement(model, best_f=Y.max())
    x = acq_optim.maximise(acq, dim)
    brute = acq_optim.grid(dim, 4001 if dim == 1 else 201)
    with torch.no_grad():
        best_brute = float(torch.cat([acq(c.unsqueeze(-2)) for c in brute.split(2048)]).max())
        found = float(acq(x.unsqueeze(0)))
    assert found >= best_brute - 1e-3


def test_a_greedy_batch_restores_the_running_points():
    model, _, Y = _gp(1)
    pending = torch.tensor([[0.5]], dtype=DTYPE)
    acq = qLogExpectedImprovement(
        model, best_f=Y.max(), sampler=SobolQMCNormalSampler(torch.Size([32]), seed=0), X_pending=pending
    )
    batch = acq_optim.maximise(acq, 1, q=3)
    assert batch.shape == (3, 1)
    assert len({round(float(v), 6) for v in batch[:, 0]}) == 3  # each point sees the ones before it
    assert torch.equal(acq.X_pending, pending)
    np.testing.assert_array_equal(acq_optim.maximise(acq, 1, q=3).numpy(), batch.numpy())


def test_grids_only_in_one_and_two_dimensions():
    assert acq_optim.uses_grid("auto", 1) and acq_optim.uses_grid("auto", 2)
    assert not acq_optim.uses_grid("auto", 3) and not acq_optim.uses_grid("auto", 6)
    assert not acq_optim.uses_grid("multistart", 1)


def test_budgets_are_sized_to_the_dimension_unless_set():
    assert acq_optim.acquisition_budget(1, None, None) == (2, 128)
    assert acq_optim.acquisition_budget(3, None, None) == (6, 384)
    assert acq_optim.acquisition_budget(6, None, None) == (10, 512)
    assert acq_optim.acquisition_budget(20, None, None) == (10, 512)
    assert acq_optim.acquisition_budget(6, 4, None) == (4, 512)
    assert acq_optim.acquisition_budget(6, None, 5) == (5, 5)  # sized restarts never exceed what is scored
    assert acq_optim.acquisition_budget(1, 20, None) == (20, 128)
    assert acq_optim.acquisition_budget(6, 3, 7) == (3, 7)


@pytest.mark.parametrize(
    ("cls", "options"),
    [
        (ExpectedImprovement, {}),
        (UpperConfidenceBoundStrategy, {}),
        (UpperConfidenceBoundStrategy, {"hallucinate_pending": True}),
        (LocalPenalization, {}),
    ],
)
@pytest.mark.parametrize("dim", [1, 2])
def test_grid_proposals_are_a_function_of_seed_history_and_pending(cls, options, dim):
    space = Space.from_config({f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(dim)})
    rng = np.random.default_rng(dim)
    X = rng.random((8, dim))
    history = History(X, np.sin(5 * X).sum(axis=1), np.zeros((0, dim)))
    pending = rng.random((2, dim))
    used = cls(space, 3, **options)
    used.propose(History(X[:5], history.y[:5], history.X_failed), pending[:1], 1)  # an earlier ask
    a = used.propose(history, pending, 2)
    b = cls(space, 3, **options).propose(history, pending, 2)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, dim) and np.all((a >= 0) & (a <= 1))
    assert np.min(np.linalg.norm(a[:, None] - pending[None], axis=-1)) > 1e-3  # running points respected


def test_the_strategies_grid_matches_the_old_multistart_in_quality():
    """1-D EI on the same history: the grid's point scores at least the old multi-start's (512 raw
    samples, 10 restarts) on the acquisition both maximise."""
    space = Space.from_config({"x": {"type": "float", "low": 0.0, "high": 1.0}})
    X = np.array([[0.05], [0.3], [0.42], [0.61], [0.9]])
    history = History(X, np.array([math.sin(7 * x) for x in X[:, 0]]), np.zeros((0, 1)))
    grid_ei = ExpectedImprovement(space, 0)
    multistart_ei = ExpectedImprovement(space, 0, acq_optimizer="multistart", num_restarts=10, raw_samples=512)
    a, b = grid_ei.propose(history, np.zeros((0, 1)), 1), multistart_ei.propose(history, np.zeros((0, 1)), 1)
    Xt = torch.as_tensor(X, dtype=DTYPE)
    Yt = -torch.as_tensor(history.y, dtype=DTYPE).unsqueeze(-1)
    acq = LogExpectedImprovement(grid_ei.cache.model(Xt, Yt), best_f=Yt.max())
    with torch.no_grad():
        va, vb = (float(acq(torch.as_tensor(p, dtype=DTYPE).unsqueeze(0))) for p in (a, b))
    assert va >= vb - 1e-6
