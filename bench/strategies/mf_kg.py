"""BoTorch's cost-aware multi-fidelity knowledge gradient as a strategy that chooses each evaluation's fidelity.

For the synthetic multi-fidelity problems (``hartmann6_mf``, ``branin_mf``: a fidelity level in
(0, 1]), without a scheduler, following BoTorch's multi-fidelity BO tutorial (Wu et al. 2019):

- the model: ``SingleTaskMultiFidelityGP`` on ``(x, s)`` (its linear truncated kernel over the
  fidelity), fitted to every finished evaluation at the fidelity it ran at, at every decision;
- the acquisition: ``qMultiFidelityKnowledgeGradient`` with ``InverseCostWeightedUtility`` over
  ``AffineFidelityCostModel`` (``cost_fixed + cost_per_fidelity * s``, the objective's own cost
  model in ``conf/strategy/mfkg.yaml``) and ``project_to_target_fidelity`` (the value of
  information is measured at s = 1), its current value the posterior mean's maximum at s = 1;
  running evaluations enter as ``X_pending`` at their own fidelity;
- each proposal is a pair ``(x, s)`` with ``s`` in ``[min_fidelity, 1]``
  (:meth:`MultiFidelityKG.propose_with_fidelity`); the driver runs the evaluation to ``s`` and
  records it ``stopped`` below 1 (``bench/strategies/mf_fidelity.py``). Best-so-far and regret
  count the evaluations it ran at s = 1 only: BoTorch's tutorial instead recommends the posterior
  mean's maximiser at s = 1 at the end, which this harness does not evaluate.

The initial design: the first ``n_initial`` points of the run's Sobol sequence, each at a
fidelity from a second Sobol sequence over ``[min_fidelity, 1]``. Proposals are a pure function of
(seed, history, pending): the fit and the optimiser are seeded by the run's seed and how far it
has come.
"""

from __future__ import annotations

import warnings
from functools import partial
from typing import Any

import numpy as np
import torch
from botorch.acquisition import FixedFeatureAcquisitionFunction, PosteriorMean
from botorch.acquisition.cost_aware import InverseCostWeightedUtility
from botorch.acquisition.knowledge_gradient import qMultiFidelityKnowledgeGradient
from botorch.acquisition.utils import project_to_target_fidelity
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskMultiFidelityGP
from botorch.models.cost import AffineFidelityCostModel
from botorch.models.transforms import Standardize
from botorch.optim import optimize_acqf
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from bench.errors import UserError
from bench.seeding import derive_seed
from bench.space import Space
from bench.strategies.base import History, Strategy, sobol_points
from bench.strategies.gp import DTYPE, MIN_POINTS, as_pending, optimise_acqf, torch_seeded
from bench.strategies.mf_schema import MFKGOptions

#: The lowest fidelity proposed where neither the options nor an objective say (the strategy built alone).
UNBOUND_MIN_FIDELITY = 0.1


class MultiFidelityKG(Strategy):
    """Cost-aware multi-fidelity KG (see the module's docstring).

    Args:
        space: the search space (without the fidelity).
        seed: the run's seed.
        options: :class:`~bench.strategies.mf_schema.MFKGOptions` as keywords.
    """

    name = "mfkg"
    chooses_fidelity = True

    def __init__(self, space: Space, seed: int = 0, **options: Any):
        opts = MFKGOptions.parse(self.name, options)
        super().__init__(space, seed, n_initial=opts.n_initial, initial_time=opts.initial_time)
        self.options = opts
        self.min_fidelity = UNBOUND_MIN_FIDELITY if opts.min_fidelity is None else float(opts.min_fidelity)

    def set_min_fidelity(self, objective_minimum: float | None) -> None:
        """The objective's smallest fidelity (``bind_fidelity``, before any work): the default lower bound.

        None: the objective has no fidelity, and every proposal is at the full resource (plain KG).
        """
        if objective_minimum is None:
            self.min_fidelity = 1.0
        elif self.options.min_fidelity is None:
            self.min_fidelity = objective_minimum
        elif self.options.min_fidelity < objective_minimum:
            raise UserError(
                f"strategy.min_fidelity: the objective runs at fidelity >= {objective_minimum:g}, "
                f"got {self.options.min_fidelity!r}"
            )

    # -- proposals ---------------------------------------------------------------------------------
    def propose(self, history: History, pending: np.ndarray, n: int) -> np.ndarray:
        return self.propose_with_fidelity(history, pending, n)[0]

    def propose_with_fidelity(self, history: History, pending: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        d, done = self.space.dim, history.n_tried + len(as_pending(pending, self.space.dim))
        n_init = self.initial_count(history, pending, n)
        X, s = self._initial(done, n_init)
        if n - n_init:
            X_more, s_more = self.ask_with_fidelity(history, pending, n - n_init)
            X, s = np.concatenate([X, X_more]), np.concatenate([s, s_more])
        return X.reshape(-1, d), s.reshape(-1)

    def ask(self, history: History, pending: np.ndarray, n: int) -> np.ndarray:
        return self.ask_with_fidelity(history, pending, n)[0]

    def _initial(self, start: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Points ``start..start+n-1`` of the run's Sobol sequence, each at a fidelity of a second one."""
        if n <= 0:
            return np.zeros((0, self.space.dim)), np.zeros(0)
        u = sobol_points(1, derive_seed(self.seed, "fidelity", bits=32), start=start, n=n).reshape(-1)
        low = self.min_fidelity
        return sobol_points(self.space.dim, self.seed, start=start, n=n), low + (1.0 - low) * u

    def ask_with_fidelity(self, history: History, pending: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` pairs: points ``(n, d)`` and their fidelities ``(n,)``."""
        n, d = int(n), self.space.dim
        pending = as_pending(pending, d)
        X, s, y = history.observed_at_fidelity()
        keep = np.isfinite(y) & np.all(np.isfinite(X), axis=1) & np.isfinite(s)
        if n <= 0 or keep.sum() < MIN_POINTS:
            return self._initial(history.n_tried + len(pending), max(n, 0))
        Z = torch.as_tensor(np.column_stack([X[keep], s[keep]]), dtype=DTYPE)
        Y = torch.as_tensor(-y[keep], dtype=DTYPE).unsqueeze(-1)
        heading = history.pending_fidelity
        heading = np.ones(len(pending)) if heading is None or len(heading) != len(pending) else heading
        P = torch.as_tensor(np.column_stack([pending, heading]), dtype=DTYPE).reshape(-1, d + 1)
        with torch_seeded(self.rng_seed(history, pending, self.name)):
            model = SingleTaskMultiFidelityGP(Z, Y, outcome_transform=Standardize(m=1), data_fidelities=[d])
            with warnings.catch_warnings(record=True):
                warnings.simplefilter("ignore")  # optimisation warnings: BoTorch retries by itself
                fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
            model.eval()
            found = self._maximise_kg(model, P, n).detach().numpy().reshape(n, d + 1)
        return np.clip(found[:, :d], 0.0, 1.0), np.clip(found[:, d], self.min_fidelity, 1.0)

    def _maximise_kg(self, model: SingleTaskMultiFidelityGP, pending: Tensor, n: int) -> Tensor:
        d, o = self.space.dim, self.options
        at_target = FixedFeatureAcquisitionFunction(PosteriorMean(model), d + 1, [d], [1.0])
        best = optimise_acqf(at_target, d, 1, o.num_restarts, o.raw_samples)
        with torch.no_grad():
            current = at_target(best.unsqueeze(0)).reshape(())
        cost = AffineFidelityCostModel(fidelity_weights={d: o.cost_per_fidelity}, fixed_cost=o.cost_fixed)
        kg = qMultiFidelityKnowledgeGradient(
            model,
            num_fantasies=o.num_fantasies,
            current_value=current,
            cost_aware_utility=InverseCostWeightedUtility(cost_model=cost),
            project=partial(project_to_target_fidelity, d=d + 1, target_fidelities={d: 1.0}),
            X_pending=pending if len(pending) else None,
        )
        bounds = torch.tensor([[0.0] * d + [self.min_fidelity], [1.0] * (d + 1)], dtype=DTYPE)
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("ignore")
            cand, _ = optimize_acqf(
                kg,
                bounds=bounds,
                q=n,
                num_restarts=o.num_restarts,
                raw_samples=o.raw_samples,
                options={"batch_limit": o.num_restarts, "maxiter": o.maxiter},
            )
        return cand.detach().reshape(n, d + 1)
