"""The hyperparameter posterior sampler: known answers on small problems."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gpytorch.mlls import ExactMarginalLogLikelihood

from bench.strategies.gp import build_gp, fit_hyperparameters, hyper_samples
from bench.strategies.hyper_posterior import (
    GaussianPrior,
    LogLikelihood,
    elliptical_slice,
    model_prior,
    set_theta,
    theta_of,
)

DTYPE = torch.double


def _data(n: int = 15, d: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, dtype=DTYPE, generator=g)
    Y = (torch.sin(6 * X[:, :1]) + X[:, 1:2] ** 2).to(DTYPE)
    return X, Y


def test_flat_likelihood_returns_the_prior() -> None:
    prior = GaussianPrior(torch.tensor([1.0, -2.0], dtype=DTYPE), torch.tensor([0.5, 2.0], dtype=DTYPE))
    samples = elliptical_slice(
        prior.loc.clone(),
        lambda theta: 0.0,
        prior,
        n_samples=4000,
        burn_in=0,
        thin=1,
        generator=torch.Generator().manual_seed(0),
    )
    assert samples.shape == (4000, 2)
    assert samples.mean(0).tolist() == pytest.approx([1.0, -2.0], abs=0.1)
    assert samples.std(0).tolist() == pytest.approx([0.5, 2.0], rel=0.1)


def test_gaussian_likelihood_gives_the_conjugate_posterior() -> None:
    # prior N(0, 1), likelihood N(theta; 1, 1): the posterior is N(1/2, 1/2).
    prior = GaussianPrior(torch.zeros(1, dtype=DTYPE), torch.ones(1, dtype=DTYPE))
    samples = elliptical_slice(
        torch.zeros(1, dtype=DTYPE),
        lambda theta: -0.5 * float((theta - 1.0) ** 2),
        prior,
        n_samples=4000,
        burn_in=50,
        thin=1,
        generator=torch.Generator().manual_seed(1),
    )
    assert float(samples.mean()) == pytest.approx(0.5, abs=0.06)
    assert float(samples.var()) == pytest.approx(0.5, rel=0.15)


def test_a_constraint_is_never_crossed() -> None:
    prior = GaussianPrior(torch.zeros(1, dtype=DTYPE), torch.ones(1, dtype=DTYPE))
    samples = elliptical_slice(
        torch.ones(1, dtype=DTYPE),
        lambda theta: 0.0 if float(theta) > 0.5 else -math.inf,
        prior,
        n_samples=500,
        burn_in=0,
        thin=1,
        generator=torch.Generator().manual_seed(2),
    )
    assert float(samples.min()) > 0.5


def test_a_start_with_zero_likelihood_is_refused() -> None:
    prior = GaussianPrior(torch.zeros(1, dtype=DTYPE), torch.ones(1, dtype=DTYPE))
    with pytest.raises(ValueError, match="zero likelihood"):
        elliptical_slice(torch.zeros(1, dtype=DTYPE), lambda t: -math.inf, prior, 1, 0, 1, torch.Generator())


def test_the_likelihood_is_gpytorchs_exact_marginal_likelihood() -> None:
    X, Y = _data()
    gp = build_gp(X, Y)
    fit_hyperparameters(gp, seed=0)
    gp.train()
    with torch.no_grad():
        output = gp(*gp.train_inputs)
        reference = float(gp.likelihood(output).log_prob(gp.train_targets))
    assert LogLikelihood.of(gp)(theta_of(gp)) == pytest.approx(reference, rel=1e-6)


def test_theta_round_trips_through_the_model() -> None:
    X, Y = _data()
    gp = build_gp(X, Y)
    theta = torch.tensor([math.log(0.3), math.log(0.7), math.log(0.01), 0.2], dtype=DTYPE)
    set_theta(gp, theta)
    assert theta_of(gp).tolist() == pytest.approx(theta.tolist())
    prior = model_prior(gp)
    assert prior.loc.shape == prior.scale.shape == (4,)


def test_samples_respect_the_noise_floor_and_are_seeded() -> None:
    X, Y = _data(n=20)
    gp = build_gp(X, Y, noise_floor=0.005)
    fit_hyperparameters(gp, seed=0)
    a = hyper_samples(gp, seed=3, n_samples=8)
    b = hyper_samples(gp, seed=3, n_samples=8)
    assert torch.equal(a, b)
    assert float(a[:, 2].exp().min()) >= 0.005
    assert not torch.equal(a, hyper_samples(gp, seed=4, n_samples=8))


def test_fit_restarts_never_end_below_the_single_fit() -> None:
    X, Y = _data(n=20, seed=5)

    def log_posterior(gp: object) -> float:
        gp.train()  # type: ignore[attr-defined]
        mll = ExactMarginalLogLikelihood(gp.likelihood, gp)  # type: ignore[attr-defined]
        with torch.no_grad():
            return float(mll(gp(*gp.train_inputs), gp.train_targets))  # type: ignore[attr-defined,operator]

    single, restarted = build_gp(X, Y), build_gp(X, Y)
    fit_hyperparameters(single, seed=0)
    fit_hyperparameters(restarted, seed=0, restarts=3)
    assert log_posterior(restarted) >= log_posterior(single) - 1e-9
    assert np.isfinite(log_posterior(restarted))


def test_a_fit_on_a_floor_is_a_valid_start():
    X, Y = _data()
    gp = build_gp(X, Y, noise_floor=0.2)
    fit_hyperparameters(gp, seed=0)
    theta = theta_of(gp)
    theta[2] = math.log(0.2) - 1e-12  # a rounding error below the noise floor, as whitening can leave
    assert math.isfinite(LogLikelihood.of(gp)(theta))
