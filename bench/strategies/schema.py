"""The config schemas of the strategies: their options, types and defaults, in Hydra's ConfigStore.

Each ``conf/strategy/*.yaml`` extends one of these (``defaults: [/schema/strategy/<name>@_here_,
_self_]``) and sets only its preset's choices, so OmegaConf checks every type when the config is
composed and an unknown key is refused. The GP strategies' option classes (:class:`EIOptions`...)
are what their constructors parse, so a default is written once, here; range checks are their
``check`` methods. This module stays light (no torch): the CLI registers it before composing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.strategies.gp_options import GPOptions
from bench.strategies.mf_schema import MFKGConf, MobsterConf
from bench.strategies.turbo_schema import TurboConf
from bench.validation import check_bool, check_choice, check_int, check_positive

GROUP = "schema/strategy"


# -- the GP strategies' options (what their constructors parse) ------------------------------------
#: How EI, UCB and LP maximise their acquisition (``bench/strategies/acq_optim.py``): ``auto``, a dense
#: grid with finer grids around its best points in 1-D and 2-D, multi-start L-BFGS-B above;
#: ``multistart`` at any dimension.
ACQ_OPTIMIZERS = ("auto", "multistart")


@dataclass
class AcquisitionOptions(GPOptions):
    """The options of the strategies that maximise an acquisition function (EI, UCB, LP)."""

    acq_optimizer: str = "auto"  # auto: a dense grid in 1-D and 2-D, multi-start L-BFGS-B above | multistart
    refit_every: int = 5  # hyperparameter fits at n = 2, 3, 4 and every multiple of 5 (GPModelCache)

    def check(self) -> None:
        super().check()
        check_choice("acq_optimizer", self.acq_optimizer, ACQ_OPTIMIZERS)


@dataclass
class EIOptions(AcquisitionOptions):
    """Expected improvement (``bench/strategies/ei.py``)."""

    worksheet_prior: bool = False  # the course worksheet's fixed GP prior, never fitted
    mc_samples: int = 128  # quasi-MC samples of qLogEI (batches, pending points)
    #: false: running evaluations are not looked at; each decision conditions on the finished ones
    #: only (Riegler et al. 2026's "standard acquisition" asyLogEI)
    use_pending: bool = True

    def check(self) -> None:
        super().check()
        check_bool("worksheet_prior", self.worksheet_prior)
        check_int("mc_samples", self.mc_samples, 1)
        check_bool("use_pending", self.use_pending)


@dataclass
class UCBOptions(AcquisitionOptions):
    """GP-UCB and batch UCB (``bench/strategies/ucb.py``)."""

    hallucinate_pending: bool = False  # true: BUCB (condition on running points at their mean); false: qUCB
    beta_coef: float = 0.5  # beta_t^(1/2) = sqrt(beta_coef * d * log(2 d t + 1)) (Dragonfly; the 2018 paper: 5)
    mc_samples: int = 128  # quasi-MC samples of qUCB (running points or batches)
    #: false: running evaluations are not looked at (Riegler et al. 2026's "standard acquisition" asyUCB)
    use_pending: bool = True

    def check(self) -> None:
        super().check()
        check_bool("use_pending", self.use_pending)
        check_bool("hallucinate_pending", self.hallucinate_pending)
        check_positive("beta_coef", self.beta_coef)
        check_int("mc_samples", self.mc_samples, 1)


@dataclass
class TSOptions(GPOptions):
    """Thompson sampling (``bench/strategies/ts.py``)."""

    num_restarts: int = 8  # L-BFGS-B starts per sample path
    raw_samples: int = 1024  # Sobol points each path is scored on to pick its starts
    refit_every: int = 10  # evaluations between hyperparameter fits (Kandasamy et al.: 25)
    #: past 100 rows, a fit only once the history has grown by 10% (docs/parallel-bo.md, "Cheaper
    #: Thompson decisions": chosen on seeds 200-209, the same regret on 10-19)
    refit_growth: float = 0.1
    hallucinate_pending: bool = False  # condition on running points at their posterior mean (asyHTS)
    exact: bool = False  # exact joint samples on a Sobol candidate set (ts_exact) instead of pathwise ones
    n_candidates: int = 1000  # that candidate set's size (exact only)
    maxiter: int = 100  # L-BFGS-B iterations per start
    #: Posterior samples of the hyperparameters per fit (elliptical slice sampling); each TS sample
    #: uses one drawn at random. 0: every sample uses the MAP fit.
    hyper_samples: int = 0
    #: How many of each path's num_restarts L-BFGS-B starts are its best observed points (the
    #: others: its best of raw_samples fresh Sobol points).
    observed_starts: int = 1

    def check(self) -> None:
        super().check()
        check_bool("hallucinate_pending", self.hallucinate_pending)
        check_bool("exact", self.exact)
        check_int("hyper_samples", self.hyper_samples, 0)
        check_int("observed_starts", self.observed_starts, 0)
        check_int("n_candidates", self.n_candidates, 1)
        check_int("maxiter", self.maxiter, 1)


@dataclass
class LPOptions(AcquisitionOptions):
    """Local penalisation and PLAyBOOK (``bench/strategies/lp.py``)."""

    base: str = "ei"  # ei | ucb (log softplus of the standardised UCB)
    penaliser: str = "soft"  # soft (González et al.) | hard (Alvi et al.'s PLAyBOOK-H)
    penalise_pending: bool = True  # false: ignore running points (an ablation; re-proposes next to them)
    beta_coef: float = 0.5  # UCB's beta schedule (base: ucb only)

    def check(self) -> None:
        super().check()
        check_choice("base", self.base, ("ei", "ucb"))
        check_choice("penaliser", self.penaliser, ("soft", "hard"))
        check_bool("penalise_pending", self.penalise_pending)
        check_positive("beta_coef", self.beta_coef)


# -- the schemas: options plus the class that builds them ------------------------------------------
@dataclass
class EIConf(EIOptions):
    _target_: str = "bench.strategies.ei.ExpectedImprovement"


@dataclass
class UCBConf(UCBOptions):
    _target_: str = "bench.strategies.ucb.UpperConfidenceBoundStrategy"


@dataclass
class TSConf(TSOptions):
    _target_: str = "bench.strategies.ts.ThompsonSampling"


@dataclass
class LPConf(LPOptions):
    _target_: str = "bench.strategies.lp.LocalPenalization"


@dataclass
class AxConf:
    """Ax's generation strategy through its Client (``bench/strategies/ax_client.py``)."""

    _target_: str = "bench.strategies.ax_client.AxStrategy"
    n_initial: int = 0  # the harness's own Sobol design first (0: Ax initialises)
    initial_time: float = 0.0  # ...and until the run's clock reaches this time
    method: str = "fast"  # Ax's configure_generation_strategy method: fast | quality
    initialization_budget: int | None = None  # Sobol trials before BO (null: Ax decides)


@dataclass
class GridConf:
    """A full-factorial grid (``bench/strategies/grid.py``)."""

    _target_: str = "bench.strategies.grid.GridSearch"
    n_initial: int = 0  # Sobol points before the grid
    initial_time: float = 0.0  # ...and until the run's clock reaches this time
    points: int = 10  # per dimension (categoricals use their choices)
    #: Explicit values on the user's scale, e.g. {learning_rate_init: [1e-3, 1e-2]} (an open mapping).
    values: dict[str, Any] = field(default_factory=dict)
    descending: bool = False  # walk each axis from high to low


@dataclass
class RandomConf:
    """Random search on a scrambled Sobol sequence (``bench/strategies/random.py``)."""

    _target_: str = "bench.strategies.random.RandomSearch"
    n_initial: int = 0  # Sobol points first (the same sequence: it changes nothing but the count)
    initial_time: float = 0.0  # ...and until the run's clock reaches this time (the same sequence too)


SCHEMAS: dict[str, type] = {
    "ei": EIConf,
    "ucb": UCBConf,
    "ts": TSConf,
    "lp": LPConf,
    "ax": AxConf,
    "grid": GridConf,
    "random": RandomConf,
    "mobster": MobsterConf,
    "mfkg": MFKGConf,
    "turbo_ts": TurboConf,
}
