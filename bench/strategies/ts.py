"""Thompson sampling, synchronous and asynchronous (Kandasamy et al. 2018, synTS / asyTS / asyHTS).

Each proposed point maximises its own, independent sample of the GP posterior (of the negated
values, i.e. it minimises a sample of the objective). By default a sample is a pathwise
(Matheron) draw, ``botorch.sampling.pathwise.draw_matheron_paths``: random Fourier features
for the prior plus an exact data update (Wilson et al. 2020), a smooth function that
multi-start L-BFGS-B maximises, as BoTorch's ``PathwiseThompsonSampling`` does. ``exact: true``
(``ts_exact``) instead draws one exact joint sample on a fresh scrambled Sobol set of
``n_candidates`` points plus the observed points and takes its best point: the reference.

``async_ts`` does not look at running evaluations (Kandasamy's asyTS: the randomness of the
samples alone spreads the points); ``ts_hallucinate`` conditions on them at their posterior
mean first (asyHTS). ``sync_ts`` is the same algorithm run in synchronous mode (synTS).

Hyperparameters are refitted every ``refit_every = 10`` evaluations by default (Kandasamy et al.
refit every 25); in between the GP conditions on new data with the last hyperparameters, so
a decision costs one posterior draw and one optimisation.
"""

from __future__ import annotations

import warnings
from functools import partial
from typing import Any

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.generation.gen import gen_candidates_scipy
from botorch.models import SingleTaskGP
from botorch.posteriors import GPyTorchPosterior
from botorch.sampling.pathwise import draw_kernel_feature_paths, draw_matheron_paths
from linear_operator.utils.cholesky import psd_safe_cholesky
from torch import Tensor
from torch.quasirandom import SobolEngine

from bench.space import Space
from bench.strategies.gp import DTYPE, GPStrategy, hallucinate
from bench.strategies.schema import TSOptions


def _normal_weights(shape: torch.Size) -> Tensor:
    """I.i.d. normal feature weights (BoTorch's default scrambles a 1024-d Sobol engine per
    draw, which is most of a decision's time here and buys nothing for a handful of paths)."""
    return torch.randn(shape, dtype=DTYPE)


class _IndependentPaths(AcquisitionFunction):
    """``X (b, n, d) -> (b,)``: the sum over ``i`` of sample path ``i`` at ``X[:, i]``.

    The sum is separable, so maximising it maximises every path on its own.
    """

    def __init__(self, model: SingleTaskGP, paths: Any):
        super().__init__(model=model)
        self.paths = paths

    def forward(self, X: Tensor) -> Tensor:
        return self.paths(X.transpose(0, 1)).sum(dim=0)  # paths: (n, b, d) -> (n, b)


class ThompsonSampling(GPStrategy):
    """Thompson sampling with one independent posterior sample per proposed point.

    Args:
        space: the search space.
        seed: the run's seed.
        options: :class:`~bench.strategies.schema.TSOptions` as keywords: the GP options;
            ``hallucinate_pending`` (condition on running points at their posterior mean,
            asyHTS); ``exact`` (exact joint samples on a Sobol candidate set of
            ``n_candidates`` points instead of pathwise samples); ``maxiter`` (L-BFGS-B
            iterations per start).
    """

    name = "ts"

    def __init__(self, space: Space, seed: int = 0, **options: Any):
        opts = TSOptions.parse(self.name, options)
        super().__init__(space, seed, opts)
        self.hallucinate_pending = opts.hallucinate_pending
        self.exact = opts.exact
        self.n_candidates = opts.n_candidates
        self.maxiter = opts.maxiter

    def acquire(self, model: SingleTaskGP, X: Tensor, Y: Tensor, pending: Tensor, n: int, t: int) -> Tensor:
        if self.hallucinate_pending and len(pending):
            model = hallucinate(model, pending)
        if self.exact:
            return self._exact(model, X, n)
        return self._pathwise(model, X, n)

    def _sobol(self, n: int) -> Tensor:
        seed = int(torch.randint(0, 2**31 - 1, (1,)).item())  # torch is seeded per decision
        return SobolEngine(self.dim, scramble=True, seed=seed).draw(n, dtype=DTYPE)

    def _draw_paths(self, model: SingleTaskGP, n: int) -> Any:
        """``n`` independent pathwise posterior samples (1024 random Fourier features each)."""
        sampler = partial(draw_kernel_feature_paths, weight_generator=_normal_weights)
        return draw_matheron_paths(model, sample_shape=torch.Size([n]), prior_sampler=sampler)

    def _exact(self, model: SingleTaskGP, X: Tensor, n: int) -> Tensor:
        cand = torch.cat([self._sobol(self.n_candidates), X], dim=0)
        with torch.no_grad():
            post = model.posterior(cand)
            assert isinstance(post, GPyTorchPosterior)  # no posterior transform: never a TransformedPosterior
            mean = post.mean.squeeze(-1)
            chol = psd_safe_cholesky(post.distribution.covariance_matrix)
            z = torch.randn(len(cand), n, dtype=DTYPE)
            samples = mean.unsqueeze(-1) + chol @ z  # (N, n): column j is sample j
        return cand[samples.argmax(dim=0)]

    def _pathwise(self, model: SingleTaskGP, X: Tensor, n: int) -> Tensor:
        paths = self._draw_paths(model, n)
        cand = torch.cat([self._sobol(self.raw_samples), X], dim=0)
        restarts = min(self.num_restarts, len(cand))
        with torch.no_grad():
            values = paths(cand)  # (n, N): every path on every candidate
        top = values.topk(restarts, dim=1).indices  # (n, R)
        init = cand[top].transpose(0, 1).contiguous()  # (R, n, d): restart r, path i
        acq = _IndependentPaths(model, paths)
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("ignore")
            found, _ = gen_candidates_scipy(
                init, acq, lower_bounds=0.0, upper_bounds=1.0, options={"maxiter": self.maxiter}
            )
        found = found.detach().clamp(0.0, 1.0)
        with torch.no_grad():
            per_path = paths(found.transpose(0, 1))  # (n, R)
        best = per_path.argmax(dim=1)  # (n,)
        return found[best, torch.arange(n)]
