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
from bench.strategies.gp import GPStrategy, check_int, reject_unknown


class ExpectedImprovement(GPStrategy):
    """(q)LogEI on a SingleTaskGP.

    Args:
        space: the search space.
        seed: the run's seed.
        num_restarts: L-BFGS-B starts.
        raw_samples: random points scored to pick the starts.
        refit_every: evaluations between hyperparameter fits (1: every step).
        warm_start: start each fit from the previous one.
        worksheet_prior: the course worksheet's fixed prior (no fitting).
        mc_samples: quasi-MC samples of qLogEI (batches and pending points).
        n_initial: Sobol points before the GP takes over.
    """

    name = "ei"

    def __init__(
        self,
        space: Space,
        seed: int = 0,
        *,
        num_restarts: int = 10,
        raw_samples: int = 512,
        refit_every: int = 1,
        warm_start: bool = True,
        worksheet_prior: bool = False,
        mc_samples: int = 128,
        n_initial: int = 0,
        **unknown: Any,
    ):
        reject_unknown(self.name, unknown)
        super().__init__(
            space,
            seed,
            num_restarts=num_restarts,
            raw_samples=raw_samples,
            refit_every=refit_every,
            warm_start=warm_start,
            worksheet_prior=worksheet_prior,
            n_initial=n_initial,
        )
        self.mc_samples = check_int("mc_samples", mc_samples, 1)

    def acquire(self, model: SingleTaskGP, X: Tensor, Y: Tensor, pending: Tensor, n: int, t: int) -> Tensor:
        best_f = Y.max()
        if n == 1 and len(pending) == 0:
            return self.maximise(LogExpectedImprovement(model, best_f=best_f))
        acq = qLogExpectedImprovement(
            model,
            best_f=best_f,
            sampler=SobolQMCNormalSampler(torch.Size([self.mc_samples])),
            X_pending=pending if len(pending) else None,
        )
        return self.maximise(acq, q=n, sequential=True)
