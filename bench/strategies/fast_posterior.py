"""The default GP's posterior, computed in plain torch for acquisition functions.

An acquisition's L-BFGS-B calls ``model.posterior`` dozens of times per decision on a handful of
points, and each call goes through gpytorch's prediction strategy and linear_operator's lazy
tensors, whose bookkeeping costs more than the arithmetic on so few points. For BoTorch's default
``SingleTaskGP`` (an ARD RBF kernel, a constant mean, a homoskedastic Gaussian likelihood,
standardised outcomes, no input transform) the posterior at ``X (..., q, d)`` is

    mean = mean_y + std_y * (c + k(X, Z) alpha)
    cov  = std_y^2 * (k(X, X) - k(X, Z) (K + s^2 I)^-1 k(Z, X))

with ``Z`` the training inputs, ``K`` their kernel matrix and ``alpha = (K + s^2 I)^-1 (y - c)``.
:class:`FastPosterior` factors ``K + s^2 I = L L^T`` and inverts ``L`` once, when it is built,
and evaluates the formula with a few torch operations (autograd gives the gradient in ``X``); a
decision costs 0.56-0.82 of what it did (``benchmarks/fast_posterior.py``). It returns the same
``GPyTorchPosterior`` type BoTorch's model returns, so BoTorch's acquisition functions, samplers
and base samples are used unchanged.

:meth:`FastPosterior.of` checks the model's structure and compares both posteriors on probe
points; for anything else it returns the model itself. Calls with options the formula does not
cover (observation noise, a posterior transform, output indices) go to the model.
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.models import SingleTaskGP
from botorch.models.model import Model
from botorch.models.transforms.outcome import Standardize
from botorch.posteriors import GPyTorchPosterior
from gpytorch.distributions import MultivariateNormal
from gpytorch.kernels import RBFKernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.means import ConstantMean
from linear_operator.operators import DenseLinearOperator
from linear_operator.utils.cholesky import psd_safe_cholesky
from torch import Tensor

from bench.strategies.fast_paths import scaled_rbf

#: Probe points the two posteriors are compared on when the fast one is built.
PROBE_POINTS = 8
#: Largest difference accepted between them, relative to the posterior's scale.
PROBE_TOLERANCE = 1e-8


class FastPosterior(Model):
    """The posterior of a fitted default ``SingleTaskGP``, with its training factor computed once.

    Build it with :meth:`of`; it stands in for the model wherever an acquisition function only
    asks for ``posterior(X)``.
    """

    num_outputs = 1

    def __init__(self, model: SingleTaskGP):
        super().__init__()
        self._model = model  # what calls the formula does not cover go to
        kernel, transform = model.covar_module, model.outcome_transform
        assert isinstance(transform, Standardize)  # checked by of(); for the type checker
        (train_X,) = model.train_inputs
        with torch.no_grad():
            self.inv_ls = kernel.lengthscale.detach().reshape(1, -1).reciprocal()
            self.constant = model.mean_module.constant.detach().reshape(())
            Z = train_X.detach() * self.inv_ls
            self.centre = Z.mean(dim=0, keepdim=True)  # gpytorch centres before squared distances too
            self.Z = Z - self.centre
            self.Z_sq = self.Z.pow(2).sum(dim=-1)
            noise = model.likelihood.noise.detach().reshape(())
            K = self._kernel(self.Z) + noise * torch.eye(len(Z), dtype=Z.dtype)
            L = psd_safe_cholesky(K)
            residual = (model.train_targets.detach() - self.constant).unsqueeze(-1)
            self.alpha = torch.cholesky_solve(residual, L).squeeze(-1)  # (n,)
            # (L^-1)^T: the covariance correction is then one matrix product per call
            self.inv_factor_t = torch.linalg.solve_triangular(L, torch.eye(len(Z), dtype=Z.dtype), upper=False).T
            self.y_mean = transform.means.detach().reshape(())
            self.y_std = transform.stdvs.detach().reshape(())

    @classmethod
    def of(cls, model: Any) -> Any:
        """A :class:`FastPosterior` of ``model`` where it applies and agrees on probe points, else ``model``."""
        if not is_default_gp(model):
            return model
        fast = cls(model)
        generator = torch.Generator().manual_seed(0)
        d = fast.Z.shape[-1]
        probe = torch.rand(PROBE_POINTS, d, generator=generator, dtype=fast.Z.dtype)
        with torch.no_grad():
            for X in (probe.unsqueeze(-2), probe.reshape(2, PROBE_POINTS // 2, d)):
                reference, mine = model.posterior(X), fast.posterior(X)
                for a, b in ((reference.mean, mine.mean), (reference.variance, mine.variance)):
                    scale = 1.0 + float(a.abs().max())
                    if a.shape != b.shape or float((a - b).abs().max()) > PROBE_TOLERANCE * scale:
                        return model
                a, b = reference.distribution.covariance_matrix, mine.distribution.covariance_matrix
                if float((a - b).abs().max()) > PROBE_TOLERANCE * (1.0 + float(a.abs().max())):
                    return model
        return fast

    @property
    def batch_shape(self) -> torch.Size:
        return torch.Size([])

    def posterior(
        self,
        X: Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | Tensor = False,
        posterior_transform: Any = None,
        **kwargs: Any,
    ) -> Any:
        """The posterior at ``X (..., q, d)``: a ``GPyTorchPosterior`` of a ``(..., q)`` normal."""
        if output_indices is not None or observation_noise is not False or posterior_transform is not None or kwargs:
            return self._model.posterior(
                X,
                output_indices=output_indices,
                observation_noise=observation_noise,
                posterior_transform=posterior_transform,
                **kwargs,
            )
        zc = X * self.inv_ls - self.centre  # (..., q, d)
        cross = self._kernel(zc)  # (..., q, n)
        mean = self.constant + cross @ self.alpha  # (..., q)
        W = cross @ self.inv_factor_t  # (..., q, n): k(X, Z) L^-T
        covariance = scaled_rbf(zc, zc, zc.pow(2).sum(dim=-1)) - W @ W.transpose(-1, -2)
        return _NormalPosterior(self.y_mean + self.y_std * mean, self.y_std.pow(2) * covariance)

    def _kernel(self, zc: Tensor) -> Tensor:
        """The RBF kernel ``(..., n)`` from centred, scaled points ``zc (..., d)`` to the data."""
        return scaled_rbf(zc, self.Z, self.Z_sq)


class _NormalPosterior(GPyTorchPosterior):
    """BoTorch's posterior of a ``(..., q)`` normal, its samples drawn without lazy tensors.

    ``rsample_from_base_samples`` computes what gpytorch's ``MultivariateNormal.rsample`` does
    with base samples (``mean + chol(cov) @ eps``, the same ``psd_safe_cholesky``) with plain
    tensors, so a sampler's fixed base samples give the same samples.
    """

    def __init__(self, mean: Tensor, covariance: Tensor):
        super().__init__(MultivariateNormal(mean, DenseLinearOperator(covariance)))
        self._mean, self._covariance = mean, covariance

    def rsample_from_base_samples(self, sample_shape: torch.Size, base_samples: Tensor) -> Tensor:
        if base_samples.shape[: len(sample_shape)] != sample_shape:
            shapes = f"{tuple(sample_shape)} and {tuple(base_samples.shape)}"
            raise RuntimeError(f"sample_shape and base samples disagree: {shapes}")
        root = psd_safe_cholesky(self._covariance)  # (..., q, q)
        samples = (root @ base_samples.unsqueeze(-1)).squeeze(-1) + self._mean  # (sample, ..., q)
        return samples.unsqueeze(-1)  # one output


def is_default_gp(model: Any, training: bool = False) -> bool:
    """Whether ``model`` is a single-output ``SingleTaskGP`` of the structure the formulas cover,
    in train mode if ``training`` (being fitted) and in eval mode (fitted) if not."""
    if type(model) is not SingleTaskGP or model.training != training:
        return False
    transform = getattr(model, "outcome_transform", None)
    likelihood = model.likelihood
    return (
        isinstance(model.covar_module, RBFKernel)
        and model.covar_module.batch_shape == torch.Size([])
        and type(model.mean_module) is ConstantMean
        and type(likelihood) is GaussianLikelihood
        and likelihood.noise.numel() == 1
        and type(transform) is Standardize
        and getattr(transform, "_outputs", None) is None
        and getattr(model, "input_transform", None) is None
        and model.num_outputs == 1
        and len(model.train_inputs) == 1
        and model.train_inputs[0].dim() == 2
    )
