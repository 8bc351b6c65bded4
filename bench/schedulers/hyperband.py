"""Asynchronous Hyperband (Li et al. 2018; Syne Tune's ``HyperbandScheduler`` with brackets): brackets of ASHA.

Bracket ``b`` starts its trials at rung ``b`` (``min_resource * eta**b``), so the last bracket
runs every trial at the full resource. A new trial's bracket is drawn from the run's seed and
its eval_id with probability proportional to ``eta**s / (s + 1)``, ``s`` the bracket's number of
rungs above its first: the share of trials synchronous Hyperband gives each bracket, which
spends about the same resource in each.
"""

from __future__ import annotations

import bisect
import itertools
from typing import Any

from bench.errors import UserError
from bench.objective import Fidelity
from bench.schedulers.base import Scheduler
from bench.schedulers.schema import HyperbandConf
from bench.seeding import derive_uniform


class Hyperband(Scheduler):
    """ASHA in ``brackets`` brackets, each starting one rung higher.

    Args:
        brackets: how many brackets (default: one per rung).
        settings: ``eta``, ``min_resource`` (the first bracket's first rung), ``max_resource``, as
            :class:`bench.schedulers.base.Scheduler` takes them.
    """

    name = "hyperband"

    def __init__(self, brackets: int | None = HyperbandConf.brackets, **settings: Any):
        if brackets is not None and (isinstance(brackets, bool) or not isinstance(brackets, int) or brackets < 1):
            raise UserError(f"scheduler.brackets: expected an integer >= 1 or null, got {brackets!r}")
        super().__init__(**settings)
        self.brackets_wanted = brackets
        self._cumulative: list[float] = []

    def bind(self, fidelity: Fidelity, seed: int) -> None:
        super().bind(fidelity, seed)
        self._cumulative = list(itertools.accumulate(self.weights()))

    def n_brackets(self) -> int:
        n = len(self.levels)
        return n if self.brackets_wanted is None else min(self.brackets_wanted, n)

    def weights(self) -> list[float]:
        """Each bracket's probability for a new trial."""
        top = len(self.levels) - 1
        raw = [self.eta ** (top - b) / (top - b + 1) for b in range(self.n_brackets())]
        return [w / sum(raw) for w in raw]

    def bracket_of(self, trial: int) -> int:
        u = derive_uniform("hyperband-bracket", self.seed, trial)
        return min(bisect.bisect_right(self._cumulative, u), self.n_brackets() - 1)
