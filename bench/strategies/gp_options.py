"""The options every GP strategy shares: one dataclass, the schema of their common config keys.

Each GP strategy's own options extend :class:`GPOptions` (``bench/strategies/schema.py``); the
strategy's constructor takes them as keywords (``ExpectedImprovement(space, seed,
num_restarts=2)``, or from the config) and :meth:`GPOptions.parse` checks them. The defaults
written here are the only ones: the YAML files in ``conf/strategy`` set a preset's choices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from bench.validation import check_bool, check_int, check_nonnegative, check_positive, reject_unknown

O = TypeVar("O", bound="GPOptions")  # noqa: E741


@dataclass
class GPOptions:
    """Options of the GP strategies (the model, the initial design and the acquisition optimiser).

    Attributes:
        n_initial: Sobol points before the GP takes over (with fewer than two finished points
            the strategy continues that Sobol sequence anyway).
        num_restarts: L-BFGS-B starts when maximising the acquisition (null: sized to the
            dimension, ``bench/strategies/acq_optim.py``).
        raw_samples: random points scored to choose those starts (at least ``num_restarts``;
            null: sized to the dimension).
        refit_every: evaluations between GP hyperparameter fits (1: every step).
        warm_start: start each fit from the last anchor fit (see ``GPModelCache``).
        initial_time: Sobol points are proposed until the run's clock reaches this time (seconds
            of the executor's clock: simulated time units under ``executor=simulated``), as
            Dragonfly's initial design of a few time units; counted beside ``n_initial``.
        noise_floor: the lowest noise variance a fit may infer, relative to Var(Y) (outcomes are
            standardised); Kandasamy et al.'s code uses 0.005, BoTorch 1e-4.
        fit_restarts: extra MAP fits from starts drawn from the priors; the best is kept.
        refit_growth: above ``refit_every`` rows, a scheduled fit at a multiple of
            ``refit_every`` is skipped until the history has grown by this fraction since the
            last one (0.1: every 10% more data; fits at n = 1,000 cost about 13 times those at
            250); 0: a fit at every multiple.
        fit_lag: the decision at history size ``n`` uses the scheduled fit at or before
            ``n - fit_lag``, computed in a background process while earlier decisions ran
            (``GPModelCache``); 0: every fit is computed in the decision that needs it.
    """

    n_initial: int = 0
    num_restarts: int | None = None
    raw_samples: int | None = None
    refit_every: int = 1
    warm_start: bool = True
    initial_time: float = 0.0
    noise_floor: float = 1e-4
    fit_restarts: int = 0
    refit_growth: float = 0.0
    fit_lag: int = 0

    @classmethod
    def parse(cls: type[O], strategy: str, given: Mapping[str, Any]) -> O:
        """The options from keywords: an unknown one, or a value out of range, is a UserError."""
        known = {f.name for f in fields(cls) if not f.name.startswith("_")}
        reject_unknown(strategy, {k: v for k, v in given.items() if k not in known})
        options = cls(**{k: v for k, v in given.items() if k in known})
        options.check()
        return options

    def check(self) -> None:
        """Range checks (subclasses extend them); ``n_initial`` and ``initial_time`` are the Strategy base's."""
        if self.num_restarts is not None:
            check_int("num_restarts", self.num_restarts, 1)
        if self.raw_samples is not None:
            check_int("raw_samples", self.raw_samples, 1 if self.num_restarts is None else self.num_restarts)
        check_int("refit_every", self.refit_every, 1)
        check_bool("warm_start", self.warm_start)
        check_positive("noise_floor", self.noise_floor)
        check_int("fit_restarts", self.fit_restarts, 0)
        check_int("fit_lag", self.fit_lag, 0)
        check_nonnegative("refit_growth", self.refit_growth)
