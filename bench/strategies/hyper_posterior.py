"""Posterior samples of a GP's hyperparameters, drawn by elliptical slice sampling.

A point estimate (MAP) of the lengthscales can switch a dimension off: on a Hartmann6 history
stuck at the local optimum the fitted lengthscales of exactly the two coordinates where the local
and the global optimum differ grow to 4–6 on the unit cube, and almost no Thompson sample then
proposes a point in the global basin (docs/parallel-bo.md). Drawing the hyperparameters from
their posterior for each sample, as Dragonfly (Kandasamy et al.'s library) does in most of its
decisions, keeps the short lengthscales the data do not rule out.

The model is BoTorch's default ``SingleTaskGP`` on standardised outcomes: an RBF kernel with
ARD lengthscales ``l`` under a LogNormal prior (Hvarfner et al. 2024's dimension-scaled prior,
BoTorch's default), Gaussian noise ``s2`` under LogNormal(-4, 1), a constant mean ``c``. In the
coordinates ``theta = (log l_1..l_d, log s2, c)`` those priors are Gaussian (``c`` gets N(0, 1):
the outcomes are standardised), which is what elliptical slice sampling (Murray, Adams and MacKay
2010) needs: it has no step size to tune and every step is accepted. The constraints (the
lengthscale floor, the noise floor) are part of the likelihood: a proposal outside them has zero
likelihood and the slice shrinks past it.

A chain starts at the MAP fit and its randomness comes from a seeded ``torch.Generator``, so the
samples are a pure function of (seed, data), as the strategy contract requires.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from botorch.models import SingleTaskGP
from torch import Tensor

DTYPE = torch.double


@dataclass(frozen=True)
class GaussianPrior:
    """A diagonal Gaussian prior on ``theta``: ``loc`` and ``scale`` are ``(p,)``."""

    loc: Tensor
    scale: Tensor


def model_prior(model: SingleTaskGP) -> GaussianPrior:
    """The model's own priors as a Gaussian on ``theta`` (LogNormal lengthscale and noise priors)."""
    d = int(model.train_inputs[0].shape[-1])
    ls_prior = model.covar_module.lengthscale_prior
    noise_prior = model.likelihood.noise_covar.noise_prior
    loc = torch.cat(
        [
            torch.full((d,), float(ls_prior.loc), dtype=DTYPE),
            torch.tensor([float(noise_prior.loc), 0.0], dtype=DTYPE),
        ]
    )
    scale = torch.cat(
        [
            torch.full((d,), float(ls_prior.scale), dtype=DTYPE),
            torch.tensor([float(noise_prior.scale), 1.0], dtype=DTYPE),
        ]
    )
    return GaussianPrior(loc, scale)


def theta_of(model: SingleTaskGP) -> Tensor:
    """``(log l_1..l_d, log s2, c)`` of the model's current hyperparameters: ``(d + 2,)``."""
    ls = model.covar_module.lengthscale.detach().reshape(-1)
    noise = model.likelihood.noise.detach().reshape(-1)[:1]
    c = model.mean_module.constant.detach().reshape(-1)[:1]
    return torch.cat([ls.log(), noise.log(), c]).to(DTYPE)


def set_theta(model: SingleTaskGP, theta: Tensor) -> None:
    """Sets the model's hyperparameters to ``theta`` (clamped to the model's constraints)."""
    d = int(model.train_inputs[0].shape[-1])
    ls_floor = float(model.covar_module.raw_lengthscale_constraint.lower_bound)
    noise_floor = float(model.likelihood.noise_covar.raw_noise_constraint.lower_bound)
    model.covar_module.lengthscale = theta[:d].exp().clamp_min(ls_floor).reshape(1, d)
    model.likelihood.noise = theta[d : d + 1].exp().clamp_min(noise_floor)
    model.mean_module.constant = theta[d + 1]


class LogLikelihood:
    """The exact GP log likelihood of standardised data as a function of ``theta``.

    Args:
        X: ``(n, d)`` inputs.
        y: ``(n,)`` standardised outcomes.
        lengthscale_floor: lengthscales below it have zero likelihood.
        noise_floor: noise variances below it have zero likelihood.
    """

    def __init__(self, X: Tensor, y: Tensor, lengthscale_floor: float, noise_floor: float):
        self.X = X.to(DTYPE)
        self.y = y.to(DTYPE).reshape(-1)
        self.d = int(X.shape[-1])
        self.log_ls_floor = math.log(lengthscale_floor)
        self.log_noise_floor = math.log(noise_floor)
        self.evaluations = 0

    @classmethod
    def of(cls, model: SingleTaskGP) -> LogLikelihood:
        """The likelihood of a model's training data (standardised, as the model sees them)."""
        return cls(
            model.train_inputs[0],
            model.train_targets,
            float(model.covar_module.raw_lengthscale_constraint.lower_bound),
            float(model.likelihood.noise_covar.raw_noise_constraint.lower_bound),
        )

    def __call__(self, theta: Tensor) -> float:
        self.evaluations += 1
        d = self.d
        # (a fit sitting on a floor comes back from the whitened coordinates a rounding error below it)
        tol = 1e-6  # (and a float32 bound buffer sits up to 1e-7 above the float64 floor)
        if bool((theta[:d] < self.log_ls_floor - tol).any()) or float(theta[d]) < self.log_noise_floor - tol:
            return -math.inf
        Z = self.X / theta[:d].exp()
        sq = (Z.unsqueeze(-2) - Z.unsqueeze(-3)).pow(2).sum(-1)
        K = torch.exp(-0.5 * sq)
        K.diagonal().add_(theta[d].exp())
        L, info = torch.linalg.cholesky_ex(K)
        if int(info) != 0:
            return -math.inf
        r = (self.y - theta[d + 1]).unsqueeze(-1)
        alpha = torch.cholesky_solve(r, L)
        n = len(self.y)
        value = -0.5 * float((r * alpha).sum()) - float(L.diagonal().log().sum()) - 0.5 * n * math.log(2 * math.pi)
        return value if math.isfinite(value) else -math.inf


def elliptical_slice(
    start: Tensor,
    log_likelihood: Callable[[Tensor], float],
    prior: GaussianPrior,
    n_samples: int,
    burn_in: int,
    thin: int,
    generator: torch.Generator,
) -> Tensor:
    """Samples of ``theta`` from ``prior × likelihood`` by elliptical slice sampling.

    Args:
        start: the chain's first state (the MAP fit); it must have a finite likelihood.
        log_likelihood: the log likelihood of ``theta``.
        prior: the Gaussian prior on ``theta``.
        n_samples: how many samples to return.
        burn_in: steps discarded first.
        thin: steps between kept samples.
        generator: the chain's only source of randomness.

    Returns:
        ``(n_samples, p)`` samples, in chain order.
    """
    f = (start - prior.loc) / prior.scale  # whitened: the prior is N(0, I)
    ll = log_likelihood(prior.loc + prior.scale * f)
    if not math.isfinite(ll):
        raise ValueError("elliptical_slice: the start state has zero likelihood")
    kept = []
    total = burn_in + n_samples * thin
    for step in range(1, total + 1):
        nu = torch.randn(f.shape, dtype=DTYPE, generator=generator)
        threshold = ll + math.log(float(torch.rand((), dtype=DTYPE, generator=generator)) or 1e-300)
        phi = float(torch.rand((), dtype=DTYPE, generator=generator)) * 2 * math.pi
        lo, hi = phi - 2 * math.pi, phi
        while True:
            proposal = f * math.cos(phi) + nu * math.sin(phi)
            ll_new = log_likelihood(prior.loc + prior.scale * proposal)
            if ll_new > threshold:
                f, ll = proposal, ll_new
                break
            if phi < 0:
                lo = phi
            else:
                hi = phi
            if hi - lo < 1e-12:  # the bracket shrank to the current state: stay
                break
            phi = lo + float(torch.rand((), dtype=DTYPE, generator=generator)) * (hi - lo)
        if step > burn_in and (step - burn_in) % thin == 0:
            kept.append(prior.loc + prior.scale * f)
    return torch.stack(kept)
