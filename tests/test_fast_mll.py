"""The default GP's marginal likelihood in plain torch (``bench/strategies/fast_mll.py``)."""

from __future__ import annotations

import warnings

import pytest
import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from botorch.optim.closures.model_closures import get_loss_closure_with_grads
from gpytorch.kernels import MaternKernel
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import GammaPrior
from linear_operator import settings as lo_settings
from torch import Tensor

from bench.strategies import fast_mll
from bench.strategies.fast_mll import PlainMLLClosure, closure_for
from bench.strategies.gp import build_gp, build_worksheet_gp, fit_hyperparameters

torch.set_num_threads(1)
DTYPE = torch.float64


def _training_mll(model: SingleTaskGP) -> ExactMarginalLogLikelihood:
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    mll.train()
    return mll


def _set_hyperparameters(model: SingleTaskGP, lengthscales: list[float], noise: float, constant: float) -> None:
    with torch.no_grad():
        model.covar_module.raw_lengthscale.copy_(torch.tensor(lengthscales, dtype=DTYPE).reshape(1, -1))
        model.likelihood.noise_covar.raw_noise.fill_(noise)
        model.mean_module.raw_constant.fill_(constant)


@pytest.mark.parametrize(
    ("lengthscales", "noise", "constant"),
    [
        ([0.3, 0.7, 1.1, 2.0], 1e-3, 0.0),  # mixed lengthscales
        ([0.05, 0.05, 0.05, 0.05], 0.5, -0.4),  # short: a kernel matrix near the identity
        ([8.0, 12.0, 4.0, 20.0], 1e-4, 0.9),  # long: an ill-conditioned one, at the noise floor
    ],
)
def test_loss_and_gradients_are_gpytorchs(
    smooth_gp_data: tuple[Tensor, Tensor], lengthscales: list[float], noise: float, constant: float
) -> None:
    model = build_gp(*smooth_gp_data)
    _set_hyperparameters(model, lengthscales, noise, constant)
    mll = _training_mll(model)
    fast = closure_for(mll)
    assert isinstance(fast, PlainMLLClosure)
    reference = get_loss_closure_with_grads(mll, parameters=fast.parameters)
    value, grads = fast()
    ref_value, ref_grads = reference()
    assert float(value) == pytest.approx(float(ref_value.detach()), rel=1e-11, abs=1e-11)
    assert len(grads) == len(ref_grads) == 3
    for mine, theirs in zip(grads, ref_grads, strict=True):
        assert mine.shape == theirs.shape
        assert torch.allclose(mine, theirs, rtol=1e-9, atol=1e-11)


def test_the_fit_finds_gpytorchs_hyperparameters(smooth_gp_data: tuple[Tensor, Tensor]) -> None:
    fitted = []
    for closure in (None, "fast"):
        model = build_gp(*smooth_gp_data)
        mll = _training_mll(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_gpytorch_mll(mll, closure=closure_for(mll) if closure else None)
        fitted.append(model)
    ref, mine = fitted
    lengthscale_ref = ref.covar_module.lengthscale.detach()
    assert torch.allclose(mine.covar_module.lengthscale.detach(), lengthscale_ref, rtol=1e-5)
    assert float(mine.likelihood.noise.detach()) == pytest.approx(float(ref.likelihood.noise.detach()), rel=1e-4)
    assert float(mine.mean_module.constant) == pytest.approx(float(ref.mean_module.constant), rel=1e-5, abs=1e-7)


def test_fit_hyperparameters_with_restarts_ends_where_gpytorchs_loss_takes_it(
    smooth_gp_data: tuple[Tensor, Tensor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The strategies' fit (restarts drawn from the priors, the best kept) with either loss."""
    mine = build_gp(*smooth_gp_data)
    fit_hyperparameters(mine, seed=3, restarts=2)
    monkeypatch.setattr(fast_mll, "closure_for", lambda mll: None)  # gpytorch's own loss
    reference = build_gp(*smooth_gp_data)
    fit_hyperparameters(reference, seed=3, restarts=2)
    assert not mine.training and not reference.training
    lengthscale_ref = reference.covar_module.lengthscale.detach()
    assert torch.allclose(mine.covar_module.lengthscale.detach(), lengthscale_ref, rtol=1e-5)
    assert float(mine.likelihood.noise.detach()) == pytest.approx(float(reference.likelihood.noise.detach()), rel=1e-4)


def test_other_models_keep_gpytorchs_loss(smooth_gp_data: tuple[Tensor, Tensor]) -> None:
    X, Y = smooth_gp_data
    matern = SingleTaskGP(X, Y, covar_module=MaternKernel(nu=2.5, ard_num_dims=4), outcome_transform=Standardize(m=1))
    assert closure_for(_training_mll(matern)) is None
    worksheet = build_worksheet_gp(X, Y, [0.5] * 4)  # a ScaleKernel over the RBF kernel
    assert closure_for(_training_mll(worksheet)) is None
    fitted = build_gp(X, Y).eval()  # not in train mode: not being fitted
    assert closure_for(ExactMarginalLogLikelihood(fitted.likelihood, fitted)) is None
    other_prior = build_gp(X, Y)
    other_prior.covar_module.register_prior("lengthscale_prior", GammaPrior(3.0, 6.0), "lengthscale")
    assert closure_for(_training_mll(other_prior)) is None
    with lo_settings.max_cholesky_size(len(X) - 1):  # gpytorch would not factor it by Cholesky
        assert closure_for(_training_mll(build_gp(X, Y))) is None
    assert closure_for(_training_mll(build_gp(X, Y))) is not None


def test_a_formula_that_disagrees_is_refused(
    smooth_gp_data: tuple[Tensor, Tensor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start-point check, not the structure check, catches a wrong formula: here a noise prior
    density off by a factor of 1 + 1e-6."""
    original = fast_mll._log_normal

    def off(x: Tensor, prior: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        density, derivative = original(x, prior)
        return density + 1e-6 * density.abs(), derivative

    model = build_gp(*smooth_gp_data)
    assert closure_for(_training_mll(model)) is not None
    monkeypatch.setattr(fast_mll, "_log_normal", off)
    assert closure_for(_training_mll(model)) is None
