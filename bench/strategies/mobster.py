"""MOBSTER: model-based asynchronous successive halving (Klein et al. 2020), the searcher's half.

Combined with ``scheduler=asha`` (which decides how far each evaluation runs), this strategy
proposes new configurations from a GP over (configuration, fidelity) fitted to every rung value
the run has recorded, a stopped evaluation's lower rungs included, not only final values
(``History.by_fidelity``, given by the scheduler's hook, :meth:`bench.schedulers.hook.Schedule.for_strategy`).

- The model: BoTorch's ``SingleTaskGP`` on ``(x, s)`` (the unit cube plus the fidelity as a
  share of the full resource), the same kernel and priors as the other GP strategies with one
  more lengthscale for ``s`` (Syne Tune's ``gp_resource_kernel="matern52-res"`` is the closest of
  its options; its default, an exponential-decay kernel over the resource, is not here).
  Hyperparameters are refitted every ``refit_every`` rung values through :class:`GPModelCache`.
- The acquisition looks at one fidelity ``r_acq``: with ``resource_acq=bohb`` (Syne Tune's
  default) the highest fidelity holding at least ``resource_acq_threshold`` values (default: the
  search space's dimension), else the lowest; with ``final``, the full resource. ``acquisition=ei``
  is LogEI at ``r_acq`` against the best value recorded there (Klein et al. 2020); ``ts`` takes
  the best point of one exact posterior sample at ``r_acq`` on a Sobol set plus the observed points.
- Asynchrony: pending evaluations are conditioned on at their posterior mean, each at the rung
  it is running to (``History.pending_fidelity``), and those running to ``r_acq`` count in EI's
  incumbent (the kriging believer): a mean fantasy where Syne Tune averages the acquisition over
  sampled ones. In a batch (sync mode) each point is then pending for the next, at ``r_acq``.

Without a scheduler (no rung data) it is LogEI on the final values at the full resource.
Proposals are a pure function of (seed, history, pending): the rung rows come from the journal's
``rung`` records in journal order, so a resumed run proposes what an uninterrupted one did.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import torch
from botorch.acquisition import FixedFeatureAcquisitionFunction, LogExpectedImprovement
from botorch.models import SingleTaskGP
from torch import Tensor
from torch.quasirandom import SobolEngine

from bench.space import Space
from bench.strategies.base import History, Strategy
from bench.strategies.base import sobol_points as base_sobol
from bench.strategies.gp import DTYPE, MIN_POINTS, GPModelCache, as_pending, hallucinate, optimise_acqf, torch_seeded
from bench.strategies.mf_schema import MobsterOptions

#: Fidelities closer than this are the same rung.
SAME_FIDELITY = 1e-9


def resource_for_acquisition(fidelities: np.ndarray, threshold: int, rule: str) -> float:
    """The fidelity the acquisition looks at (Syne Tune's ``ResourceForAcquisitionBOHB`` or ``Final``).

    Args:
        fidelities: the fidelity of each recorded value (shares of the full resource).
        threshold: ``bohb``: how many values a fidelity needs.
        rule: ``bohb``: the highest fidelity with at least ``threshold`` values, else the lowest
            one recorded; ``final``: 1, the full resource.
    """
    if rule == "final" or len(fidelities) == 0:
        return 1.0
    counts = Counter(round(float(s), 9) for s in fidelities)
    enough = [s for s, k in counts.items() if k >= threshold]
    return max(enough) if enough else min(counts)


class Mobster(Strategy):
    """The searcher of MOBSTER (see the module's docstring).

    Args:
        space: the search space.
        seed: the run's seed.
        options: :class:`~bench.strategies.mf_schema.MobsterOptions` as keywords: the GP options,
            ``acquisition`` (ei, ts), ``resource_acq`` (bohb, final), ``resource_acq_threshold``,
            ``use_pending``, ``n_candidates``.
    """

    name = "mobster"

    def __init__(self, space: Space, seed: int = 0, **options: Any):
        opts = MobsterOptions.parse(self.name, options)
        super().__init__(space, seed, n_initial=opts.n_initial, initial_time=opts.initial_time)
        self.options = opts
        self.dim = space.dim
        self.num_restarts, self.raw_samples = opts.num_restarts, opts.raw_samples
        self.cache = GPModelCache(
            refit_every=opts.refit_every,
            warm_start=opts.warm_start,
            seed=self.seed,
            noise_floor=opts.noise_floor,
            fit_restarts=opts.fit_restarts,
        )
        self.acquisition = opts.acquisition
        self.resource_acq = opts.resource_acq
        self.threshold = opts.resource_acq_threshold or space.dim
        self.use_pending = opts.use_pending
        self.n_candidates = opts.n_candidates

    def ask(self, history: History, pending: np.ndarray, n: int) -> np.ndarray:
        n, d = int(n), self.dim
        pending = as_pending(pending, d)
        if n <= 0:
            return np.zeros((0, d))
        X, s, y = history.observed_at_fidelity()
        keep = np.isfinite(y) & np.all(np.isfinite(X), axis=1) & np.isfinite(s)
        if keep.sum() < MIN_POINTS:
            return base_sobol(d, self.seed, start=history.n_tried + len(pending), n=n)
        Z = torch.as_tensor(np.column_stack([X[keep], s[keep]]), dtype=DTYPE)
        Y = torch.as_tensor(-y[keep], dtype=DTYPE).unsqueeze(-1)
        r_acq = resource_for_acquisition(s[keep], self.threshold, self.resource_acq)
        heading = history.pending_fidelity
        heading = np.ones(len(pending)) if heading is None or len(heading) != len(pending) else heading
        P = torch.as_tensor(np.column_stack([pending, heading]), dtype=DTYPE).reshape(-1, d + 1)
        at_acq = torch.as_tensor(np.abs(s[keep] - r_acq) <= SAME_FIDELITY)
        best_f = Y[at_acq].max() if bool(at_acq.any()) else Y.max()
        out = []
        with torch_seeded(self.rng_seed(history, pending, self.name)):
            model = self.cache.model(Z, Y)
            for _ in range(n):  # in a batch, each point is pending for the next
                conditioned, incumbent = model, best_f
                if self.use_pending and len(P):
                    conditioned = hallucinate(model, P)
                    believed = P[(P[:, d] - r_acq).abs() <= SAME_FIDELITY]  # their fantasy counts as observed
                    if len(believed):
                        with torch.no_grad():
                            incumbent = torch.maximum(best_f, model.posterior(believed).mean.max())
                x = self._acquire(conditioned, Z, incumbent, r_acq)
                out.append(x)
                P = torch.cat([P, torch.cat([x, torch.tensor([r_acq], dtype=DTYPE)]).unsqueeze(0)])
        points = torch.stack(out).detach().numpy()
        return np.clip(points.reshape(n, d), 0.0, 1.0)

    def _acquire(self, model: SingleTaskGP, Z: Tensor, best_f: Tensor, r_acq: float) -> Tensor:
        """One point ``(d,)`` maximising the acquisition at fidelity ``r_acq``."""
        d = self.dim
        if self.acquisition == "ts":
            seed = int(torch.randint(0, 2**31 - 1, (1,)).item())  # torch is seeded per decision
            cand = torch.cat([SobolEngine(d, scramble=True, seed=seed).draw(self.n_candidates, dtype=DTYPE), Z[:, :d]])
            full = torch.cat([cand, torch.full((len(cand), 1), r_acq, dtype=DTYPE)], dim=1)
            with torch.no_grad():
                sample = model.posterior(full).rsample(torch.Size([1])).reshape(-1)
            return cand[int(sample.argmax())]
        acq = FixedFeatureAcquisitionFunction(LogExpectedImprovement(model, best_f=best_f), d + 1, [d], [r_acq])
        return optimise_acqf(acq, d, 1, self.num_restarts, self.raw_samples).reshape(d)
