"""Options of trust-region Thompson sampling (``bench/strategies/turbo.py``): what its constructor parses.

Registered in :data:`bench.strategies.schema.SCHEMAS` as ``turbo_ts``. Light on purpose (no
torch): the CLI imports it before composing.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.errors import UserError
from bench.strategies.gp_options import GPOptions
from bench.validation import check_int, check_positive


@dataclass
class TurboOptions(GPOptions):
    """TuRBO-1 (Eriksson et al. 2019) with asynchronous Thompson sampling inside its trust region.

    The defaults are the paper's (its Table/§3: L_init 0.8, L_min 0.5^7, L_max 1.6, tau_succ 3,
    tau_fail ceil(max(4, d)) for one point per decision, 5000 candidates, 2d points after a restart);
    none was chosen on a run of this harness.
    """

    refit_every: int = 10  # as async_ts: evaluations between hyperparameter fits
    length_init: float = 0.8  # the trust region's side at the start and after a restart (unit cube)
    length_min: float = 0.5**7  # below this the region has collapsed: restart
    length_max: float = 1.6
    success_tolerance: int = 3  # improvements in a row that double the side
    #: failures in a row that halve the side (null: max(4, dimension), the paper's rule for q = 1)
    failure_tolerance: int | None = None
    #: Sobol points that start each new region after a restart (null: 2 × dimension, the paper's)
    restart_points: int | None = None
    n_candidates: int = 5000  # Sobol points in the region on which each sample path is maximised

    def check(self) -> None:
        super().check()
        check_positive("length_init", self.length_init)
        check_positive("length_min", self.length_min)
        check_positive("length_max", self.length_max)
        if not self.length_min < self.length_init <= self.length_max:
            raise UserError(
                f"strategy: need length_min < length_init <= length_max, got {self.length_min}, "
                f"{self.length_init}, {self.length_max}"
            )
        check_int("success_tolerance", self.success_tolerance, 1)
        if self.failure_tolerance is not None:
            check_int("failure_tolerance", self.failure_tolerance, 1)
        if self.restart_points is not None:
            check_int("restart_points", self.restart_points, 2)
        check_int("n_candidates", self.n_candidates, 1)


@dataclass
class TurboConf(TurboOptions):
    _target_: str = "bench.strategies.turbo.TrustRegionTS"
