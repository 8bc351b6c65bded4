"""Expected improvement: the default strategy.

One point with nothing pending: analytic ``LogExpectedImprovement`` (Ament et al. 2023) on a GP
refitted every step. Several points, or points pending: Monte-Carlo ``qLogExpectedImprovement``
with the pending points as ``X_pending``, i.e. the improvement is integrated over fantasies of
the running evaluations (Snoek et al. 2012; Kandasamy et al. 2018's asyEI), chosen greedily one
point at a time.
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.acquisition import LogExpectedImprovement, qLogExpectedImprovement
from botorch.models import SingleTaskGP
from botorch.sampling import SobolQMCNormalSampler
from torch import Tensor

from bench.space import Space
from bench.strategies.fast_posterior import FastPosterior
from bench.strategies.gp import GPStrategy
from bench.strategies.schema import EIOptions


class ExpectedImprovement(GPStrategy):
    """(q)LogEI on a SingleTaskGP.

    Args:
        space: the search space.
        seed: the run's seed.
        options: :class:`~bench.strategies.schema.EIOptions` as keywords (the GP options,
            ``worksheet_prior``, ``mc_samples``, ``use_pending``: false looks only at finished
            evaluations, as Riegler et al. 2026's asynchronous LogEI).
    """

    name = "ei"

    def __init__(self, space: Space, seed: int = 0, **options: Any):
        opts = EIOptions.parse(self.name, options)
        super().__init__(space, seed, opts)
        self.mc_samples = opts.mc_samples
        self.use_pending = opts.use_pending

    def acquire(self, model: SingleTaskGP, X: Tensor, Y: Tensor, pending: Tensor, n: int, t: int) -> Tensor:
        if not self.use_pending:
            pending = pending[:0]
        best_f = Y.max()
        posterior_model = FastPosterior.of(model)  # the same posterior, without gpytorch's per-call overhead
        if n == 1 and len(pending) == 0:
            return self.maximise(LogExpectedImprovement(posterior_model, best_f=best_f))
        acq = qLogExpectedImprovement(
            posterior_model,
            best_f=best_f,
            sampler=SobolQMCNormalSampler(torch.Size([self.mc_samples])),
            X_pending=pending if len(pending) else None,
        )
        return self.maximise(acq, q=n, sequential=True)
