"""Asynchronous successive halving (ASHA; Li et al. 2020), stopping variant: one bracket."""

from __future__ import annotations

from bench.schedulers.base import Scheduler


class ASHA(Scheduler):
    """Every trial starts at the first rung; at each rung it goes on iff it is in the top ``1/eta``.

    Its settings are the base class's (:class:`bench.schedulers.base.Scheduler`).
    """

    name = "asha"

    def n_brackets(self) -> int:
        return 1

    def bracket_of(self, trial: int) -> int:
        return 0
