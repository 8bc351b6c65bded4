"""Options of the multi-fidelity strategies (MOBSTER, multi-fidelity KG): what their constructors parse.

Registered in :data:`bench.strategies.schema.SCHEMAS` (``mobster``, ``mfkg``), so
``conf/strategy/mobster.yaml`` and ``conf/strategy/mfkg.yaml`` extend them and an unknown key or a
wrong type is refused when the config is composed. Light on purpose (no torch): the CLI imports
it before composing.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.errors import UserError
from bench.strategies.gp_options import GPOptions
from bench.validation import check_bool, check_choice, check_int, check_nonnegative, check_positive

#: How MOBSTER picks the fidelity its acquisition looks at (Syne Tune's ``resource_acq``).
RESOURCE_ACQ = ("bohb", "final")
#: MOBSTER's acquisition at that fidelity.
MOBSTER_ACQUISITIONS = ("ei", "ts")


@dataclass
class MobsterOptions(GPOptions):
    """MOBSTER, model-based asynchronous successive halving (``bench/strategies/mobster.py``)."""

    # chosen for a decision's cost (one seed, 0, timed; no seed's result chose them): a run records
    # about 1.5 rung values per evaluation, so this refits about as often per evaluation as TS's 10
    num_restarts: int = 4  # L-BFGS-B starts of the acquisition
    raw_samples: int = 256  # random points scored to choose those starts
    refit_every: int = 20  # rung values between hyperparameter fits (in between: conditioned on new data)
    acquisition: str = "ei"  # ei: LogEI (Klein et al. 2020); ts: one exact posterior sample on a Sobol set
    #: bohb: the highest fidelity with at least resource_acq_threshold values (else the lowest), as
    #: Syne Tune's default; final: always the full resource
    resource_acq: str = "bohb"
    resource_acq_threshold: int | None = None  # null: the search space's dimension (Syne Tune's default)
    #: true: pending evaluations are conditioned on at their posterior mean, each at the rung it runs
    #: to (a mean fantasy; Syne Tune averages over sampled ones); false: they are not looked at
    use_pending: bool = True
    n_candidates: int = 1000  # acquisition ts: the Sobol set a sample is drawn on (observed points added)

    def check(self) -> None:
        super().check()
        check_choice("acquisition", self.acquisition, MOBSTER_ACQUISITIONS)
        check_choice("resource_acq", self.resource_acq, RESOURCE_ACQ)
        if self.resource_acq_threshold is not None:
            check_int("resource_acq_threshold", self.resource_acq_threshold, 1)
        check_bool("use_pending", self.use_pending)
        check_int("n_candidates", self.n_candidates, 1)


@dataclass
class MFKGOptions(GPOptions):
    """BoTorch's cost-aware multi-fidelity knowledge gradient (``bench/strategies/mf_kg.py``).

    The cost model is the strategy's (BoTorch's ``AffineFidelityCostModel``): running to fidelity
    ``s`` costs ``cost_fixed + cost_per_fidelity * s``; ``conf/strategy/mfkg.yaml`` takes both from
    the objective (``hartmann6_mf``, ``branin_mf``), so the model knows the simulated clock's cost.
    """

    n_initial: int = 4  # Sobol points first, each at a fidelity of its own Sobol sequence
    num_restarts: int = 4  # L-BFGS-B starts of the one-shot KG optimisation
    raw_samples: int = 128  # random points scored to choose those starts
    num_fantasies: int = 16  # fantasy models of the KG (BoTorch's tutorial: 128)
    cost_fixed: float = 0.0  # the cost model's fixed cost of an evaluation
    cost_per_fidelity: float = 1.0  # ...and its cost per unit of fidelity
    min_fidelity: float | None = None  # the lowest fidelity proposed (null: the objective's smallest step)
    maxiter: int = 50  # L-BFGS-B iterations per start

    def check(self) -> None:
        super().check()
        check_int("num_fantasies", self.num_fantasies, 1)
        check_nonnegative("cost_fixed", self.cost_fixed)
        check_positive("cost_per_fidelity", self.cost_per_fidelity)
        if self.min_fidelity is not None:
            low = check_positive("min_fidelity", self.min_fidelity)
            if low > 1:
                raise UserError(f"strategy.min_fidelity: expected a number in (0, 1], got {self.min_fidelity!r}")
        check_int("maxiter", self.maxiter, 1)


@dataclass
class MobsterConf(MobsterOptions):
    _target_: str = "bench.strategies.mobster.Mobster"


@dataclass
class MFKGConf(MFKGOptions):
    _target_: str = "bench.strategies.mf_kg.MultiFidelityKG"
