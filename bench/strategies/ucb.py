"""GP-UCB with Kandasamy et al.'s beta schedule, and batch UCB by hallucination (GP-BUCB).

UCB maximises ``μ(x) + β_t^{1/2} σ(x)`` of the GP on the negated values, with Kandasamy et al.'s
schedule (after Srinivas et al. 2010): ``β_t^{1/2} = sqrt(c · d · log(2 d t + 1))``, ``d`` the
dimension and ``t`` the index of the evaluation being chosen (1 for the first). The default
``c = 0.5`` is their Dragonfly library's; their 2018 paper's code (gp-parallel-ts) used
``c = 5``, which explores so much in 6-D (``β^{1/2} ≈ 13``) that BUCB did worse than random
search on Hartmann6 here (``beta_coef: 5`` reproduces it).

``bucb`` builds batches greedily and handles running evaluations by hallucination: each next
point maximises UCB on the GP conditioned on the running points and the batch's earlier points,
observed at their posterior mean (the mean is unchanged, the variance shrinks around them):
Desautels et al. 2014's GP-BUCB, Kandasamy et al.'s synBUCB and asyHUCB.

``ucb`` is analytic UCB for one point with nothing running. With running points or a batch it
uses BoTorch's Monte-Carlo ``qUpperConfidenceBound`` with the running points as ``X_pending``
(the same fantasy treatment as ``ei``), greedily. ``use_pending: false`` ignores running points
altogether, as Kandasamy et al.'s asyUCB and Riegler et al. 2026's asynchronous UCB do; a
decision being a deterministic function of the history, it can then propose a point at or next
to a running one when nothing finished in between (the method under test).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from botorch.acquisition import UpperConfidenceBound, qUpperConfidenceBound
from botorch.models import SingleTaskGP
from botorch.sampling import SobolQMCNormalSampler
from torch import Tensor

from bench.space import Space
from bench.strategies.fast_posterior import FastPosterior
from bench.strategies.gp import GPStrategy, hallucinate
from bench.strategies.schema import UCBOptions


def ucb_beta_sqrt(dim: int, t: int, coef: float = 0.5) -> float:
    """Kandasamy et al.'s ``β_t^{1/2} = sqrt(coef · d · log(2 d t + 1))``."""
    return math.sqrt(coef * dim * math.log(2 * dim * max(int(t), 1) + 1))


class UpperConfidenceBoundStrategy(GPStrategy):
    """GP-UCB; ``hallucinate_pending`` selects BUCB's hallucination over MC fantasies.

    Args:
        space: the search space.
        seed: the run's seed.
        options: :class:`~bench.strategies.schema.UCBOptions` as keywords: the GP options;
            ``hallucinate_pending`` (hallucinate running and chosen points, bucb; otherwise qUCB
            with the running points as ``X_pending``, ucb); ``beta_coef``, ``c`` in
            ``β_t^{1/2} = sqrt(c d log(2 d t + 1))`` (Dragonfly: 0.5; the 2018 paper's code: 5);
            ``mc_samples`` of qUCB; ``use_pending`` (false: running points are not looked at,
            Riegler et al. 2026's asynchronous UCB).
    """

    name = "ucb"

    def __init__(self, space: Space, seed: int = 0, **options: Any):
        opts = UCBOptions.parse(self.name, options)
        super().__init__(space, seed, opts)
        self.hallucinate_pending = opts.hallucinate_pending
        self.beta_coef = float(opts.beta_coef)
        self.mc_samples = opts.mc_samples
        self.use_pending = opts.use_pending

    def acquire(self, model: SingleTaskGP, X: Tensor, Y: Tensor, pending: Tensor, n: int, t: int) -> Tensor:
        if not self.use_pending:
            pending = pending[:0]
        beta = ucb_beta_sqrt(self.dim, t, self.beta_coef) ** 2
        if not self.hallucinate_pending:
            if n == 1 and len(pending) == 0:
                return self.maximise(UpperConfidenceBound(FastPosterior.of(model), beta=beta))
            acq = qUpperConfidenceBound(
                FastPosterior.of(model),  # the same posterior, without gpytorch's per-call overhead
                beta=beta,
                sampler=SobolQMCNormalSampler(torch.Size([self.mc_samples])),
                X_pending=pending if len(pending) else None,
            )
            return self.maximise(acq, q=n, sequential=True)
        chosen: list[Tensor] = []
        for i in range(n):
            beta = ucb_beta_sqrt(self.dim, t + i, self.beta_coef) ** 2
            m = FastPosterior.of(hallucinate(model, torch.cat([pending, *chosen], dim=0)))
            chosen.append(self.maximise(UpperConfidenceBound(m, beta=beta)))
        return torch.cat(chosen, dim=0)
