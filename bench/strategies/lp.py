"""Local penalisation: batch (González et al. 2016) and asynchronous (Alvi et al. 2019, PLAyBOOK).

González, Dai, Hennig and Lawrence, "Batch Bayesian Optimization via Local Penalization"
(AISTATS 2016) build a batch greedily: the next point maximises a positive acquisition
``g(α(x))`` multiplied by one penaliser per point already chosen,

    φ(x; x_j) = Φ((L ‖x - x_j‖ - |M - μ(x_j)|) / σ(x_j)),

the probability that ``x`` lies outside the ball around ``x_j`` that cannot hold the optimum
given a Lipschitz constant ``L`` of the function and its best value ``M``. ``L`` is the largest
gradient norm of the GP mean over the cube (estimated on 512 random points, then refined with
L-BFGS-B from the best five), ``M`` the best observed value. Alvi, Ru, Calliess, Roberts and
Osborne, "Asynchronous Batch Bayesian Optimisation with Improved Local Penalisation" (ICML 2019)
penalise the *busy* points as well (PLAyBOOK), and propose a hard penaliser,

    φ_H(x; x_j) = min(L ‖x - x_j‖ / (|M - μ(x_j)| + σ(x_j)), 1),

smoothed with a p-norm (``(h^-p + 1)^(-1/p)``, ``p = 5``) so gradients exist (PLAyBOOK-H).

The base acquisition is log EI (``base: ei``, positive already) or ``log softplus`` of the UCB
of the standardised outcome (``base: ucb``, as the papers transform UCB), and everything is
optimised in log space, where the product of penalisers is a sum.

``lp`` is González's batch LP with the soft penaliser; run asynchronously it also penalises the
running points, which makes it PLAyBOOK-L. ``async_lp`` is PLAyBOOK-H, the hard penaliser that
Alvi et al. introduce for the asynchronous case. ``penalise_pending: false`` gives the naive
asynchronous LP that ignores running points (an ablation: it proposes points next to running
ones, which breaks the strategy contract's "pending respected").
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
from botorch.acquisition import (
    AcquisitionFunction,
    LogExpectedImprovement,
    UpperConfidenceBound,
)
from botorch.generation.gen import gen_candidates_scipy
from botorch.models import SingleTaskGP
from botorch.posteriors import GPyTorchPosterior
from botorch.utils.transforms import t_batch_mode_transform
from torch import Tensor
from torch.nn.functional import softplus

from bench.space import Space
from bench.strategies.fast_posterior import FastPosterior
from bench.strategies.gp import DTYPE, GPStrategy
from bench.strategies.schema import LPOptions
from bench.strategies.ucb import ucb_beta_sqrt

#: Below this a Lipschitz estimate is replaced by ``FALLBACK_L`` (as GPyOpt does).
MIN_L = 1e-7
FALLBACK_L = 10.0
#: The p of the p-norm that smooths the hard penaliser's ``min(h, 1)`` (Alvi et al.).
HARD_P = 5.0


class _MeanGradNorm(AcquisitionFunction):
    """``‖∇μ(x)‖`` of the GP mean, differentiable (for the Lipschitz constant)."""

    # botorch types the decorator for AcquisitionFunction itself, so a subclass's method does not fit it.
    @t_batch_mode_transform(expected_q=1)  # type: ignore[arg-type]
    def forward(self, X: Tensor) -> Tensor:
        with torch.enable_grad():
            Z = X if X.requires_grad else X.detach().requires_grad_(True)
            posterior = self.model.posterior(Z)
            assert isinstance(posterior, GPyTorchPosterior)  # a GP's; the base Posterior has no mean
            mean = posterior.mean.sum()
            (grad,) = torch.autograd.grad(mean, Z, create_graph=X.requires_grad)
        return grad.squeeze(-2).norm(dim=-1)


def lipschitz_constant(model: SingleTaskGP, dim: int, raw: int = 512, starts: int = 5) -> float:
    """The largest ``‖∇μ‖`` over the unit cube: best of ``raw`` random points, then L-BFGS-B."""
    acq = _MeanGradNorm(model)
    cand = torch.rand(raw, 1, dim, dtype=DTYPE)  # torch is seeded per decision
    with torch.no_grad():
        values = acq(cand)
    init = cand[values.topk(min(starts, raw)).indices]
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("ignore")
        _, refined = gen_candidates_scipy(init, acq, lower_bounds=0.0, upper_bounds=1.0, options={"maxiter": 50})
    best = max(float(values.max()), float(refined.max()))
    return best if math.isfinite(best) and best >= MIN_L else FALLBACK_L


class PenalisedAcquisition(AcquisitionFunction):
    """``log g(α(x)) + Σ_j log φ(x; x_j)``: the locally penalised acquisition, in log space.

    Args:
        model: the GP on the negated values.
        base: ``ei`` (log EI) or ``ucb`` (log softplus of the standardised UCB).
        best_f: the best observed (negated) value ``M``.
        y_mean, y_std: the outcome's mean and scale, to standardise UCB.
        beta: UCB's ``β_t``.
        centers: ``(k, d)`` points to penalise around.
        lipschitz: ``L``.
        penaliser: ``soft`` (González et al.) or ``hard`` (Alvi et al.).
    """

    def __init__(
        self,
        model: SingleTaskGP,
        base: str,
        best_f: Tensor,
        y_mean: Tensor,
        y_std: Tensor,
        beta: float,
        centers: Tensor,
        lipschitz: float,
        penaliser: str,
    ):
        super().__init__(model=model)
        self.base = base
        self.penaliser = penaliser
        self.log_ei = LogExpectedImprovement(model, best_f=best_f)
        self.ucb = UpperConfidenceBound(model, beta=beta)
        self.y_mean, self.y_std = y_mean, y_std
        self.centers = centers
        self.L = float(lipschitz)
        if len(centers):
            with torch.no_grad():
                post = model.posterior(centers)
                mu = post.mean.squeeze(-1)
                sigma = post.variance.squeeze(-1).clamp_min(1e-16).sqrt()
            self.radius = (best_f - mu).abs()  # |M - μ(x_j)|, in the function's units
            self.sigma = sigma

    # botorch types the decorator for AcquisitionFunction itself, so a subclass's method does not fit it.
    @t_batch_mode_transform(expected_q=1)  # type: ignore[arg-type]
    def forward(self, X: Tensor) -> Tensor:
        if self.base == "ei":
            value = self.log_ei(X)
        else:
            z = (self.ucb(X) - self.y_mean) / self.y_std
            value = torch.where(z < -30, z, torch.log(softplus(z).clamp_min(1e-300)))
        if len(self.centers) == 0:
            return value
        dist = torch.cdist(X.squeeze(-2), self.centers)  # (b, k)
        if self.penaliser == "soft":
            log_phi = torch.special.log_ndtr((self.L * dist - self.radius) / self.sigma)
        else:
            h = self.L * dist / (self.radius + self.sigma)
            log_h = torch.log(h.clamp_min(1e-300))
            log_phi = -softplus(-HARD_P * log_h) / HARD_P  # log((h^-p + 1)^(-1/p))
        return value + log_phi.sum(dim=-1)


class LocalPenalization(GPStrategy):
    """Greedy batches by local penalisation around chosen and (by default) running points.

    Args:
        space: the search space.
        seed: the run's seed.
        options: :class:`~bench.strategies.schema.LPOptions` as keywords: the GP options;
            ``base`` (``ei`` or ``ucb``, with Kandasamy et al.'s beta schedule); ``penaliser``
            (``soft``, González et al., or ``hard``, PLAyBOOK-H); ``penalise_pending`` (penalise
            around running evaluations too; false: an ablation only); ``beta_coef`` (UCB's ``c``
            in ``β_t^{1/2} = sqrt(c d log(2 d t + 1))``).
    """

    name = "lp"

    def __init__(self, space: Space, seed: int = 0, **options: Any):
        opts = LPOptions.parse(self.name, options)
        super().__init__(space, seed, opts)
        self.base = opts.base
        self.penaliser = opts.penaliser
        self.penalise_pending = opts.penalise_pending
        self.beta_coef = float(opts.beta_coef)
        self.last_lipschitz: float | None = None  # for tests and reports

    def acquire(self, model: SingleTaskGP, X: Tensor, Y: Tensor, pending: Tensor, n: int, t: int) -> Tensor:
        centers = pending if self.penalise_pending else pending[:0]
        model = FastPosterior.of(model)  # the same posterior, without gpytorch's per-call overhead
        L = lipschitz_constant(model, self.dim)
        self.last_lipschitz = L
        best_f = Y.max()
        y_mean, y_std = Y.mean(), Y.std().clamp_min(1e-12)  # the GP needs >= 2 points
        chosen: list[Tensor] = []
        for i in range(n):
            beta = ucb_beta_sqrt(self.dim, t + i, self.beta_coef) ** 2
            acq = PenalisedAcquisition(
                model,
                self.base,
                best_f,
                y_mean,
                y_std,
                beta,
                torch.cat([centers, *chosen], dim=0),
                L,
                self.penaliser,
            )
            chosen.append(self.maximise(acq))
        return torch.cat(chosen, dim=0)
