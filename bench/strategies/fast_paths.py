"""Pathwise posterior samples of the default GP, evaluated in plain torch.

A Matheron sample path of BoTorch's default ``SingleTaskGP`` (an ARD RBF kernel, a constant mean,
standardised outcomes, no input transform) is, at a point ``x`` of the unit cube,

    f_i(x) = mean_y + std_y * (c + phi(x) . w_i + sum_j k(x, Z_j) v_ij)

with ``phi`` the kernel's random Fourier features (``s * [sin(u), cos(u)]``, ``u = (x / l) W^T``),
``w_i`` path ``i``'s prior weights, ``Z`` the training inputs and ``v_i`` its update weights
(Wilson et al. 2020). ``botorch.sampling.pathwise`` evaluates it through gpytorch's lazy kernel
tensors, linear_operator and autograd, and a Thompson-sampling decision's L-BFGS-B calls the
paths dozens of times on a handful of points, where that machinery costs more than the
arithmetic. :class:`FastPaths` reads those tensors out of BoTorch's paths and evaluates the same
formula with a handful of torch operations, its gradient written out
(``benchmarks/ts_paths.py`` times it; docs/parallel-bo.md, "Cheaper Thompson decisions").

:meth:`FastPaths.of` checks the paths' structure and compares both evaluations on probe points;
for anything else (another kernel, an input transform, a mismatch) it returns ``None`` and the
caller keeps BoTorch's paths. So the proposals are BoTorch's up to floating-point rounding.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from botorch.sampling.pathwise import draw_kernel_feature_paths, draw_matheron_paths
from botorch.sampling.pathwise.features.maps import KernelEvaluationMap, KernelFeatureMap
from botorch.sampling.pathwise.paths import GeneralizedLinearPath
from botorch.sampling.pathwise.posterior_samplers import MatheronPath
from botorch.sampling.pathwise.update_strategies import gaussian_update as botorch_gaussian_update
from botorch.sampling.pathwise.utils import (
    InverseLengthscaleTransform,
    SineCosineTransform,
    get_input_transform,
    get_train_inputs,
)
from botorch.utils.transforms import is_ensemble
from gpytorch.kernels import RBFKernel
from gpytorch.likelihoods import _GaussianLikelihoodBase
from gpytorch.means import ConstantMean
from gpytorch.models import ExactGP
from linear_operator.operators import SumLinearOperator
from torch import Tensor


def normal_weights(shape: torch.Size) -> Tensor:
    """I.i.d. normal feature weights (BoTorch's default scrambles a 1024-d Sobol engine per
    draw, which was most of a decision's time and buys nothing for a handful of paths)."""
    return torch.randn(shape, dtype=torch.float64)


def draw_paths(model: SingleTaskGP, n: int) -> Any:
    """``n`` independent pathwise posterior samples of ``model`` (1024 random Fourier features each,
    :func:`normal_weights`, the update of :func:`gaussian_update`), as :class:`FastPaths` where
    that applies, else BoTorch's paths. Called as ``X (N, d) -> (n, N)`` or ``X (n, b, d) -> (n, b)``."""
    sampler = partial(draw_kernel_feature_paths, weight_generator=normal_weights)
    shape = torch.Size([n])
    paths = draw_matheron_paths(model, sample_shape=shape, prior_sampler=sampler, update_strategy=gaussian_update)
    return FastPaths.of(paths, model) or paths


def gaussian_update(model: Any, sample_values: Tensor, target_values: Tensor | None = None, **kwargs: Any) -> Any:
    """BoTorch's exact Gaussian pathwise update (``update_strategies.gaussian_update``) with the
    ``k`` paths' systems solved as one ``(n, k)`` right-hand side.

    BoTorch solves ``Cov(y, y) v_i = y - f_i(X) - eps_i`` as a batch of ``k`` one-column systems
    against the broadcast Cholesky factor, which at ``n = 460`` and ``k = 64`` costs about as much
    as maximising the 64 paths. The same random draws are made in the same order, so the paths
    are BoTorch's up to rounding. Any model or shape but an exact GP with a Gaussian likelihood
    and ``(k, n)`` samples goes to BoTorch's own update.
    """
    likelihood = getattr(model, "likelihood", None)
    if not (
        isinstance(model, ExactGP)
        and isinstance(likelihood, _GaussianLikelihoodBase)
        and sample_values.dim() == 2
        and target_values is not None
        and target_values.dim() == 1
        and not kwargs
    ):
        return botorch_gaussian_update(model, sample_values, target_values=target_values, **kwargs)
    (points,) = get_train_inputs(model, transformed=True)
    noise_covariance = likelihood.noise_covar(shape=points.shape[:-1])
    noise_values = noise_covariance.cholesky() @ torch.randn_like(sample_values).unsqueeze(-1)
    scale_tril = SumLinearOperator(model.covar_module(points), noise_covariance).cholesky().to_dense()
    errors = target_values - (sample_values + noise_values.squeeze(-1))  # (k, n)
    weight = torch.cholesky_solve(errors.transpose(0, 1), scale_tril).transpose(0, 1)
    transform = get_input_transform(model)
    feature_map = KernelEvaluationMap(kernel=model.covar_module, points=points, input_transform=transform)
    return GeneralizedLinearPath(feature_map=feature_map, weight=weight, is_ensemble=is_ensemble(model))


def scaled_rbf(a: Tensor, b: Tensor, b_sq: Tensor) -> Tensor:
    """The RBF kernel ``(..., m, n)`` between points already divided by the lengthscales,
    ``a (..., m, d)`` and ``b (..., n, d)`` with ``b_sq = (b ** 2).sum(-1)``, by the squared
    distances as gpytorch computes them (centre both by the same point first, as it does)."""
    sq = (a.pow(2).sum(dim=-1, keepdim=True) + b_sq.unsqueeze(-2) - 2.0 * a @ b.transpose(-1, -2)).clamp_min(0.0)
    return torch.exp(-0.5 * sq)


#: Points the two evaluations are compared on when the fast one is built.
PROBE_POINTS = 8
#: Largest difference accepted between them, relative to the paths' scale.
PROBE_TOLERANCE = 1e-8


class FastPaths:
    """``k`` sample paths called as BoTorch's batched paths are.

    ``X (N, d) -> (k, N)``: every path at every point; ``X (k, b, d) -> (k, b)``: path ``i`` at
    ``X[i]``. Differentiable in ``X``.
    """

    def __init__(
        self,
        lengthscale: Tensor,
        frequencies: Tensor,
        feature_scale: Tensor,
        prior_weights: Tensor,
        constant: Tensor,
        train_X: Tensor,
        update_weights: Tensor,
        y_mean: Tensor,
        y_std: Tensor,
    ):
        self.inv_ls = lengthscale.reciprocal().reshape(1, -1)  # (1, d)
        self.frequencies = frequencies  # (F/2, d)
        self.feature_scale = feature_scale  # scalar
        self.prior_weights = prior_weights  # (k, F)
        self.constant = constant  # scalar
        Z = train_X * self.inv_ls  # (n, d), scaled
        self.centre = Z.mean(dim=0, keepdim=True)  # gpytorch centres before squared distances too
        self.Z = Z - self.centre
        self.Z_sq = self.Z.pow(2).sum(dim=-1)  # (n,)
        self.update_weights = update_weights  # (k, n)
        self.y_mean = y_mean
        self.y_std = y_std

    @classmethod
    def of(cls, paths: Any, model: SingleTaskGP) -> FastPaths | None:
        """The fast form of ``paths`` (``draw_matheron_paths(model, ...)``), or None where it does not apply."""
        parts = _parts(paths, model)
        if parts is None:
            return None
        fast = cls(**parts)
        generator = torch.Generator().manual_seed(0)
        probe = torch.rand(PROBE_POINTS, fast.Z.shape[-1], generator=generator, dtype=fast.Z.dtype)
        with torch.no_grad():
            reference = paths(probe)
            mine = fast(probe)
        scale = 1.0 + float(reference.abs().max())
        if mine.shape != reference.shape or float((mine - reference).abs().max()) > PROBE_TOLERANCE * scale:
            return None
        return fast

    def value_and_grad_at(self, X: Tensor, path: Tensor) -> tuple[Tensor, Tensor]:
        """Path ``path[j]`` at ``X[j]`` (``X (B, d)``, ``path (B,)`` of indices) and its gradient in
        ``X``, ``(B,)`` and ``(B, d)``, by hand (no autograd graph:
        a maximiser calls this a few dozen times per decision on a handful of rows, where
        autograd's bookkeeping costs more than the arithmetic)."""
        with torch.no_grad():
            z = X * self.inv_ls
            u = z @ self.frequencies.transpose(0, 1)  # (B, F/2)
            sin, cos = u.sin(), u.cos()
            w_sin, w_cos = self.prior_weights[path].chunk(2, dim=-1)
            prior = self.feature_scale * (sin * w_sin + cos * w_cos).sum(dim=-1)
            d_prior = self.feature_scale * ((cos * w_sin - sin * w_cos) @ self.frequencies)  # (B, d)
            zc = z - self.centre
            kv = self._kernel(zc) * self.update_weights[path]  # (B, n)
            d_update = kv @ self.Z - kv.sum(dim=-1, keepdim=True) * zc
            value = self.y_mean + self.y_std * (prior + kv.sum(dim=-1) + self.constant)
            return value, self.y_std * (d_prior + d_update) * self.inv_ls

    def __call__(self, X: Tensor) -> Tensor:
        features, kernel = self._maps(X)
        if X.dim() == 2:  # (N, d): every path
            f = features @ self.prior_weights.transpose(0, 1) + kernel @ self.update_weights.transpose(0, 1)
            f = f.transpose(0, 1)  # (k, N)
        else:  # (k, b, d): path i at X[i]
            f = torch.einsum("kbf,kf->kb", features, self.prior_weights)
            f = f + torch.einsum("kbn,kn->kb", kernel, self.update_weights)
        return self.y_mean + self.y_std * (f + self.constant)

    def _maps(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """At ``X (..., d)``: the random Fourier features ``(..., F)``, the kernel to the data ``(..., n)``."""
        z = X * self.inv_ls
        u = z @ self.frequencies.transpose(0, 1)
        features = self.feature_scale * torch.cat([u.sin(), u.cos()], dim=-1)
        return features, self._kernel(z - self.centre)

    def _kernel(self, zc: Tensor) -> Tensor:
        """The RBF kernel ``(..., n)`` from centred, scaled points ``zc (..., d)`` to the data."""
        return scaled_rbf(zc, self.Z, self.Z_sq)


def _parts(paths: Any, model: SingleTaskGP) -> dict[str, Tensor] | None:
    """The tensors :class:`FastPaths` needs, if ``paths`` has the default GP's structure."""
    if not isinstance(paths, MatheronPath) or set(paths.paths) != {"prior_paths", "update_paths"}:
        return None
    prior, update = paths.paths["prior_paths"], paths.paths["update_paths"]
    kernel = model.covar_module
    transform = getattr(model, "outcome_transform", None)
    if not (
        isinstance(kernel, RBFKernel)
        and isinstance(transform, Standardize)
        and getattr(model, "input_transform", None) is None
        and paths.input_transform is None
        and getattr(paths.output_transform, "transform", None) is transform
        and isinstance(prior, GeneralizedLinearPath)
        and isinstance(update, GeneralizedLinearPath)
        and isinstance(prior.feature_map, KernelFeatureMap)
        and isinstance(update.feature_map, KernelEvaluationMap)
        and isinstance(prior.bias_module, ConstantMean)
        and update.bias_module is None
        and all(p.input_transform is None and p.output_transform is None for p in (prior, update))
    ):
        return None
    features, evaluation = prior.feature_map, update.feature_map
    if not (
        isinstance(features.input_transform, InverseLengthscaleTransform)
        and features.input_transform.kernel is kernel
        and isinstance(features.output_transform, SineCosineTransform)
        and features.bias is None
        and evaluation.kernel is kernel
        and evaluation.input_transform is None
        and evaluation.output_transform is None
        and prior.weight.dim() == 2
        and update.weight.dim() == 2
        and kernel.batch_shape == torch.Size([])
    ):
        return None
    scale = features.output_transform.scale
    assert isinstance(transform, Standardize)  # checked above; for the type checker
    return {
        "lengthscale": kernel.lengthscale.detach().reshape(-1),
        "frequencies": features.weight.detach(),
        "feature_scale": torch.as_tensor(1.0 if scale is None else scale).detach(),
        "prior_weights": prior.weight.detach(),
        "constant": prior.bias_module.constant.detach().reshape(()),
        "train_X": evaluation.points.detach(),
        "update_weights": update.weight.detach(),
        "y_mean": transform.means.detach().reshape(()),
        "y_std": transform.stdvs.detach().reshape(()),
    }
