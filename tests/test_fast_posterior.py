"""The default GP's posterior in plain torch (``bench/strategies/fast_posterior.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from botorch.acquisition import LogExpectedImprovement, qLogExpectedImprovement
from botorch.models import SingleTaskGP
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from botorch.sampling import SobolQMCNormalSampler
from gpytorch.kernels import MaternKernel
from torch import Tensor

from bench.space import Space
from bench.strategies.base import History
from bench.strategies.ei import ExpectedImprovement
from bench.strategies.fast_posterior import FastPosterior
from bench.strategies.gp import build_gp
from bench.strategies.lp import LocalPenalization
from bench.strategies.ucb import UpperConfidenceBoundStrategy

torch.set_num_threads(1)
DTYPE = torch.float64


def test_mean_and_covariance_are_botorchs(fitted_default_gp: SingleTaskGP) -> None:
    fast = FastPosterior.of(fitted_default_gp)
    assert isinstance(fast, FastPosterior)
    g = torch.Generator().manual_seed(9)
    X = torch.rand(5, 3, 4, generator=g, dtype=DTYPE)  # a batch of joint posteriors of 3 points
    X[0, 1] = fitted_default_gp.train_inputs[0][7]  # a training point: variance about the noise
    with torch.no_grad():
        ref, mine = fitted_default_gp.posterior(X), fast.posterior(X)
    assert mine.mean.shape == ref.mean.shape == (5, 3, 1)
    assert torch.allclose(mine.mean, ref.mean, rtol=0, atol=1e-9)
    cov_ref, cov_mine = ref.distribution.covariance_matrix, mine.distribution.covariance_matrix
    assert torch.allclose(cov_mine, cov_ref, rtol=0, atol=1e-9)
    assert torch.allclose(mine.variance, ref.variance, rtol=0, atol=1e-9)


def test_acquisition_values_and_gradients_are_botorchs(fitted_default_gp: SingleTaskGP) -> None:
    """qLogEI with pending points (fixed quasi-MC base samples) and analytic LogEI, value and gradient."""
    fast = FastPosterior.of(fitted_default_gp)
    g = torch.Generator().manual_seed(4)
    pending = torch.rand(3, 4, generator=g, dtype=DTYPE)
    X = torch.rand(6, 1, 4, generator=g, dtype=DTYPE)
    best = fitted_default_gp.train_targets.max()  # any level does
    for make in (
        lambda m: qLogExpectedImprovement(
            m, best_f=best, sampler=SobolQMCNormalSampler(torch.Size([64]), seed=2), X_pending=pending
        ),
        lambda m: LogExpectedImprovement(m, best_f=best),
    ):
        values, grads = [], []
        for model in (fitted_default_gp, fast):
            Xg = X.clone().requires_grad_(True)
            value = make(model)(Xg)
            (grad,) = torch.autograd.grad(value.sum(), Xg)
            values.append(value.detach())
            grads.append(grad)
        assert torch.allclose(values[1], values[0], rtol=0, atol=1e-9)
        assert torch.allclose(grads[1], grads[0], rtol=0, atol=1e-8)


def test_other_models_and_options_keep_gpytorchs_posterior(
    smooth_gp_data: tuple[Tensor, Tensor], fitted_default_gp: SingleTaskGP
) -> None:
    X, Y = smooth_gp_data
    matern = SingleTaskGP(X, Y, covar_module=MaternKernel(nu=2.5, ard_num_dims=4), outcome_transform=Standardize(m=1))
    assert FastPosterior.of(matern.eval()) is matern
    normalised = SingleTaskGP(X, Y, input_transform=Normalize(d=4), outcome_transform=Standardize(m=1)).eval()
    assert FastPosterior.of(normalised) is normalised
    training = build_gp(X, Y)  # in training mode: its posterior is not the predictive one
    assert FastPosterior.of(training) is training
    fast = FastPosterior.of(fitted_default_gp)
    probe = X[:4].unsqueeze(-2)
    with torch.no_grad():  # observation noise: asked of the model itself
        noisy = fast.posterior(probe, observation_noise=True)
        assert torch.allclose(noisy.variance, fitted_default_gp.posterior(probe, observation_noise=True).variance)


def test_a_posterior_that_disagrees_on_the_probe_points_is_not_used(fitted_default_gp: SingleTaskGP) -> None:
    class Shifted(FastPosterior):  # a formula that is off by a little
        def posterior(self, X: Tensor, *args: object, **kwargs: object) -> object:
            post = super().posterior(X)
            return type(post)(post.mean.squeeze(-1) + 1e-5, post.distribution.covariance_matrix)

    assert Shifted.of(fitted_default_gp) is fitted_default_gp


@pytest.mark.parametrize("strategy", [ExpectedImprovement, LocalPenalization, UpperConfidenceBoundStrategy])
def test_strategies_propose_what_they_proposed_through_gpytorch(
    strategy: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same proposals, to L-BFGS-B's tolerance, with and without the fast posterior."""
    space = Space.from_config({f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(3)})
    rng = np.random.default_rng(0)
    X = rng.random((15, 3))
    history = History(X, np.sin(6 * X).sum(axis=1), np.zeros((0, 3)))
    pending = rng.random((2, 3))
    options: dict[str, int] = {"num_restarts": 2, "raw_samples": 32}
    built: list[object] = []
    original = FastPosterior.of.__func__  # type: ignore[attr-defined]

    def recorded(cls: type, model: object) -> object:
        built.append(original(cls, model))
        return built[-1]

    monkeypatch.setattr(FastPosterior, "of", classmethod(recorded))
    fast = strategy(space, seed=1, **options).ask(history, pending, 2)
    assert built and all(isinstance(b, FastPosterior) for b in built)  # the strategy's GP took the fast path
    monkeypatch.setattr(FastPosterior, "of", classmethod(lambda cls, model: model))
    before = strategy(space, seed=1, **options).ask(history, pending, 2)
    np.testing.assert_allclose(fast, before, atol=1e-5)
