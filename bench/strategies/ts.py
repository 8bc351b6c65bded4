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

from typing import Any

import torch
from botorch.models import SingleTaskGP
from botorch.posteriors import GPyTorchPosterior
from linear_operator.utils.cholesky import psd_safe_cholesky
from torch import Tensor
from torch.quasirandom import SobolEngine

from bench.space import Space
from bench.strategies.fast_paths import draw_paths
from bench.strategies.gp import DTYPE, GPStrategy, hallucinate
from bench.strategies.path_optim import maximise_paths
from bench.strategies.schema import TSOptions


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
        self.hyper_samples = opts.hyper_samples
        self.observed_starts = opts.observed_starts

    def acquire(self, model: SingleTaskGP, X: Tensor, Y: Tensor, pending: Tensor, n: int, t: int) -> Tensor:
        models = self._sample_models(model, X, Y, n)
        if self.hallucinate_pending and len(pending):
            models = [hallucinate(m, pending) for m in models]
        if self.exact:
            return self._exact(models, X, n)
        return self._pathwise(models, X, n)

    def _sample_models(self, model: SingleTaskGP, X: Tensor, Y: Tensor, n: int) -> list[SingleTaskGP]:
        """The GP each of the ``n`` samples is drawn from: the fitted one, or one per sample with
        hyperparameters drawn from their posterior (``hyper_samples``)."""
        if not self.hyper_samples:
            return [model]
        thetas = self.cache.hyper_samples(X, Y, self.hyper_samples)
        picks = torch.randint(0, len(thetas), (n,)).tolist()  # torch is seeded per decision
        return [self.cache.model(X, Y, thetas[i]) for i in picks]

    def _sobol(self, n: int) -> Tensor:
        seed = int(torch.randint(0, 2**31 - 1, (1,)).item())  # torch is seeded per decision
        return SobolEngine(self.dim, scramble=True, seed=seed).draw(n, dtype=DTYPE)

    def _draw_paths(self, models: list[SingleTaskGP], n: int) -> Any:
        """``n`` independent pathwise posterior samples (``fast_paths.draw_paths``): ``n`` from the
        one model, or one from each of ``n`` models."""
        if len(models) == 1:
            return draw_paths(models[0], n)
        return _PathStack([draw_paths(m, 1) for m in models])

    def _exact(self, models: list[SingleTaskGP], X: Tensor, n: int) -> Tensor:
        cand = torch.cat([self._sobol(self.n_candidates), X], dim=0)
        per_model = [n] if len(models) == 1 else [1] * n
        picks = []
        with torch.no_grad():
            for model, k in zip(models, per_model, strict=True):
                post = model.posterior(cand)
                assert isinstance(post, GPyTorchPosterior)  # no posterior transform: never a TransformedPosterior
                mean = post.mean.squeeze(-1)
                chol = psd_safe_cholesky(post.distribution.covariance_matrix)
                z = torch.randn(len(cand), k, dtype=DTYPE)
                samples = mean.unsqueeze(-1) + chol @ z  # (N, k): column j is sample j
                picks.append(cand[samples.argmax(dim=0)])
        return torch.cat(picks, dim=0)

    def _pathwise(self, models: list[SingleTaskGP], X: Tensor, n: int) -> Tensor:
        paths = self._draw_paths(models, n)
        return maximise_paths(paths, self._starts(paths, X, n), self.maxiter)

    def _starts(self, paths: Any, X: Tensor, n: int) -> Tensor:
        """Each path's L-BFGS-B starts, ``(R, n, d)``: its best ``observed_starts`` observed points
        and its best fresh Sobol points for the other starts.

        Scored on one pool, the observed points near the incumbent take every start (a path is
        high where the data are good), and L-BFGS-B then only climbs the incumbent's mode while
        the path's maximum lies elsewhere as often as not (docs/parallel-bo.md, "Why seeds got
        stuck"); so the observed points get a fixed share of the starts.
        """
        k_obs = min(self.observed_starts, self.num_restarts, len(X))
        sobol = self._sobol(self.raw_samples)
        k_sobol = min(self.num_restarts - k_obs, len(sobol))
        with torch.no_grad():
            parts = [sobol[paths(sobol).topk(k_sobol, dim=1).indices]]  # (n, k_sobol, d)
            if k_obs:
                parts.append(X[paths(X).topk(k_obs, dim=1).indices])
        return torch.cat(parts, dim=1).transpose(0, 1).contiguous()


class _PathStack:
    """``n`` single sample paths (each from its own GP) called as one ``n``-path sample.

    ``X (N, d) -> (n, N)``: every path on every point; ``X (n, b, d) -> (n, b)``: path ``i`` on
    ``X[i]``, as BoTorch's batched paths are called.
    """

    def __init__(self, paths: list[Any]):
        self.paths = paths

    def __call__(self, X: Tensor) -> Tensor:
        if X.dim() == 2:
            return torch.cat([p(X) for p in self.paths], dim=0)
        return torch.cat([p(X[i]) for i, p in enumerate(self.paths)], dim=0)
