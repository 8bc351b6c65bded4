"""The default GP's marginal likelihood, computed in plain torch for BoTorch's fit.

BoTorch's ``fit_gpytorch_mll`` maximises ``ExactMarginalLogLikelihood`` with scipy's L-BFGS-B,
and each of its dozens of loss-and-gradient calls goes through gpytorch's kernel, likelihood and
``MultivariateNormal`` modules and linear_operator's lazy tensors, whose bookkeeping costs more
than the arithmetic at the history sizes of a run (tens to hundreds of points). For BoTorch's
default ``SingleTaskGP`` (an ARD RBF kernel, a constant mean, a homoskedastic Gaussian likelihood,
standardised outcomes, no input transform) the loss is

    -(log N(y; c 1, K + s^2 I) + log p(theta)) / n

with ``K`` the kernel matrix of the training inputs and ``p`` the model's LogNormal priors on the
lengthscales and the noise. :class:`PlainMLLClosure` computes it from one Cholesky factor, and its
gradient in the noise, the constant and the lengthscales by the usual formula
``tr((A^-1 - alpha alpha^T) dA) / 2`` written out (no autograd), and is called as the
forward-backward closure ``fit_gpytorch_mll`` accepts, so BoTorch's optimiser, parameter bounds,
warning handling and retries are used unchanged. A fit costs 0.26-0.41 of gpytorch's at n = 20
to 800 in 6-D (cold fits from BoTorch's starting values, one thread: ``benchmarks/fast_mll.py``).

The closure is used only where the model has that structure, gpytorch would factor the matrix by
Cholesky too (``n`` at most linear_operator's ``max_cholesky_size``), and both losses and their
gradients agree at the starting point (``PROBE_TOLERANCE``); for anything else it is ``None`` and
the fit goes through gpytorch.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from botorch.optim.closures.model_closures import get_loss_closure_with_grads
from botorch.optim.utils import get_parameters_and_bounds
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import LogNormalPrior
from linear_operator import settings as lo_settings
from linear_operator.utils.cholesky import psd_safe_cholesky
from torch import Tensor

from bench.strategies.fast_paths import scaled_rbf
from bench.strategies.fast_posterior import is_default_gp

#: Largest difference accepted between the two losses (and their gradients) at the start.
PROBE_TOLERANCE = 1e-9


def closure_for(mll: ExactMarginalLogLikelihood) -> PlainMLLClosure | None:
    """A plain-torch loss-and-gradient closure of ``mll``, or ``None`` where it does not apply.

    The model must be in train mode (as ``fit_gpytorch_mll`` puts it). The closure's parameters
    are those ``fit_gpytorch_mll_scipy`` optimises, in its order.
    """
    model = mll.model
    if type(mll) is not ExactMarginalLogLikelihood or mll.likelihood is not model.likelihood:
        return None
    if not is_default_gp(model, training=True) or list(model.added_loss_terms()):
        return None
    (train_X,) = model.train_inputs
    if not 1 <= len(train_X) <= lo_settings.max_cholesky_size.value():
        return None
    kernel, noise_covar = model.covar_module, model.likelihood.noise_covar
    if kernel.raw_lengthscale_constraint.enforced or noise_covar.raw_noise_constraint.enforced:
        return None  # the formulas below take raw values as the values
    priors = {name: prior for name, _, prior, _, _ in model.named_priors()}
    if set(priors) != {"covar_module.lengthscale_prior", "likelihood.noise_covar.noise_prior"} or not all(
        type(prior) is LogNormalPrior for prior in priors.values()
    ):
        return None
    parameters = {n: p for n, p in get_parameters_and_bounds(mll)[0].items() if p.requires_grad}
    known = (noise_covar.raw_noise, model.mean_module.raw_constant, kernel.raw_lengthscale)
    if not all(any(p is q for q in known) for p in parameters.values()):
        return None
    fast = PlainMLLClosure(mll, parameters)
    if not _agrees(fast, get_loss_closure_with_grads(mll, parameters=parameters)):
        return None
    return fast


class PlainMLLClosure:
    """``-mll`` of a default ``SingleTaskGP`` and its gradient, written out (no autograd).

    Called as BoTorch's ``ForwardBackwardClosure`` is: it returns the loss and the gradients of
    ``parameters`` in their order, at the parameters' current values.
    """

    def __init__(self, mll: ExactMarginalLogLikelihood, parameters: dict[str, Tensor]):
        model = mll.model
        self.parameters = parameters
        self._noise = model.likelihood.noise_covar.raw_noise
        self._constant = model.mean_module.raw_constant
        self._lengthscale = model.covar_module.raw_lengthscale
        (train_X,) = model.train_inputs
        self._X = train_X.detach()
        # pairwise differences are translation invariant: centre once, for rounding's sake
        self._Xc = self._X - self._X.mean(dim=0, keepdim=True)
        self._y = model.train_targets.detach()
        ls_prior = model.covar_module.lengthscale_prior
        noise_prior = model.likelihood.noise_covar.noise_prior
        self._ls_prior = _log_normal_terms(ls_prior, self._X.dtype)
        self._noise_prior = _log_normal_terms(noise_prior, self._X.dtype)

    def __call__(self, **_: Any) -> tuple[Tensor, tuple[Tensor, ...]]:
        with torch.no_grad():
            return self._value_and_grads()

    def _value_and_grads(self) -> tuple[Tensor, tuple[Tensor, ...]]:
        X, y = self._X, self._y
        n = len(y)
        ls = self._lengthscale.reshape(-1)
        noise = self._noise.reshape(())
        constant = self._constant.reshape(())
        Z = X / ls
        Z = Z - Z.mean(dim=0, keepdim=True)  # as gpytorch computes the squared distances
        K = scaled_rbf(Z, Z, Z.pow(2).sum(dim=-1))
        L = psd_safe_cholesky(K + noise * torch.eye(n, dtype=K.dtype))
        residual = (y - constant).unsqueeze(-1)
        alpha = torch.cholesky_solve(residual, L)  # (n, 1)
        log_likelihood = -0.5 * (
            (residual * alpha).sum() + 2.0 * L.diagonal().log().sum() + n * math.log(2.0 * math.pi)
        )
        ls_log_prior, ls_dlog_prior = _log_normal(ls, self._ls_prior)
        noise_log_prior, noise_dlog_prior = _log_normal(noise, self._noise_prior)
        loss = -(log_likelihood + ls_log_prior.sum() + noise_log_prior) / n
        # d(-log N)/d theta = tr((A^-1 - alpha alpha^T) dA/d theta) / 2, A = K + s^2 I
        M = torch.cholesky_inverse(L) - alpha @ alpha.T
        W = M * K
        Xc = self._Xc
        # sum_ij W_ij (x_ik - x_jk)^2 for each k, W symmetric
        spread = 2.0 * (W.sum(dim=1) @ Xc.pow(2) - ((W @ Xc) * Xc).sum(dim=0))
        grad_ls = (0.5 * spread / ls.pow(3) - ls_dlog_prior) / n
        grad_noise = (0.5 * M.diagonal().sum() - noise_dlog_prior) / n
        grad_constant = -alpha.sum() / n
        grads = (
            (self._noise, grad_noise),
            (self._constant, grad_constant),
            (self._lengthscale, grad_ls),
        )
        return loss, tuple(next(g.reshape(p.shape) for q, g in grads if q is p) for p in self.parameters.values())


def _log_normal(x: Tensor, prior: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """The LogNormal log density at ``x`` and its derivative in ``x``; ``prior`` is
    :func:`_log_normal_terms` of the prior."""
    loc, var, log_scale = prior
    log_x = x.log()
    log_density = -((log_x - loc) ** 2) / (2 * var) - log_scale - math.log(math.sqrt(2 * math.pi)) - log_x
    return log_density, -(1.0 + (log_x - loc) / var) / x


def _log_normal_terms(prior: LogNormalPrior, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor]:
    """A LogNormal prior's location, variance and log scale, the last two computed in the prior's
    own precision (float32 for BoTorch's priors), as torch's ``Normal.log_prob`` computes them."""
    scale = prior.base_dist.scale
    return prior.base_dist.loc.to(dtype), (scale**2).to(dtype), scale.log().to(dtype)


def _agrees(fast: PlainMLLClosure, reference: Any) -> bool:
    """Whether the two closures give the same loss and gradients at the parameters' current values."""
    try:
        value, grads = fast()
        ref_value, ref_grads = reference()
    except (RuntimeError, ValueError):  # a failed factor (NotPSDError) or shape: gpytorch's path decides
        return False
    value_f, ref_f = float(value), float(ref_value.detach())
    if not math.isfinite(value_f) or abs(value_f - ref_f) > PROBE_TOLERANCE * (1.0 + abs(ref_f)):
        return False
    for mine, theirs in zip(grads, ref_grads, strict=True):
        if theirs is None:
            return False
        scale = 1.0 + float(theirs.abs().max())
        if mine.shape != theirs.shape or float((mine - theirs).abs().max()) > PROBE_TOLERANCE * scale:
            return False
    return True
