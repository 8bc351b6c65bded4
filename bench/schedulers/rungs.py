"""Rung levels and ASHA's stopping rule: pure functions of the values recorded, no I/O.

Asynchronous successive halving (Li et al. 2020, "A System for Massively Parallel
Hyperparameter Tuning"), in its stopping form (Syne Tune's ``type="stopping"``): an evaluation
that reaches rung ``r`` with value ``v`` goes on to the next rung iff ``v`` is at most the
``1/eta`` quantile of the values recorded at ``r`` so far, its own included
(``numpy.quantile``, linear interpolation); with fewer than two values recorded there is no
cutoff and it goes on. The top rung is the full resource: an evaluation there is done.

:class:`PromotionRungs` is the promotion form (``type="promotion"``): evaluations pause at each
rung and a free worker promotes the best one not yet promoted from the highest rung that has one.

Decisions are taken in batches: the values of one batch (what one ``wait`` returned: one
outcome in async mode, the whole batch of ``workers`` in sync mode) are all recorded first,
then each is decided against the same data, so the order within a batch changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.errors import UserError

#: Relative tolerance when comparing resource levels (``1/27 * 27`` is not always exactly 1).
TOLERANCE = 1e-9


def rung_levels(minimum: float, maximum: float, eta: float, integer: bool = False) -> list[float]:
    """``minimum * eta**k`` for every ``k`` below ``maximum``, then ``maximum`` (the full resource).

    Whole numbers (rounded) when ``integer``; a level that rounds onto the previous one is dropped.

    Raises:
        UserError: ``eta`` not > 1, or ``minimum`` not in ``(0, maximum]``.
    """
    if not (isinstance(eta, int | float) and not isinstance(eta, bool) and math.isfinite(eta) and eta > 1):
        raise UserError(f"scheduler.eta: expected a number > 1, got {eta!r}")
    if not (0 < minimum <= maximum):
        raise UserError(f"scheduler.min_resource: expected a number in (0, {maximum:g}], got {minimum!r}")
    levels: list[float] = []
    level = float(minimum)
    while level < maximum * (1 - TOLERANCE):
        value = float(round(level)) if integer else level
        if not levels or value > levels[-1]:
            levels.append(value)
        level *= eta
    if not levels or levels[-1] < maximum:
        levels.append(float(maximum))
    return levels


def cutoff(values: Sequence[float], quantile: float) -> float | None:
    """The largest value that still goes on: the ``quantile`` of ``values``; None with fewer than two."""
    if len(values) < 2:
        return None
    return float(np.quantile(np.asarray(values, dtype=float), quantile))


@dataclass(frozen=True)
class Reached:
    """An evaluation reached rung ``rung`` (an index into the levels) with ``value``."""

    trial: int
    rung: int
    value: float


class StoppingRungs:
    """ASHA's stopping rule over one set of rung levels (one bracket of Hyperband).

    Args:
        levels: the resource of each rung, increasing; the last is the full resource.
        eta: the reduction factor: about ``1/eta`` of the evaluations reaching a rung go on.
    """

    def __init__(self, levels: Sequence[float], eta: float):
        self.levels = [float(v) for v in levels]
        self.eta = float(eta)
        self.data: list[dict[int, float]] = [{} for _ in self.levels]

    @property
    def top(self) -> int:
        return len(self.levels) - 1

    def record(self, reached: Reached) -> None:
        """Adds a value at a rung (a non-finite value counts as the worst)."""
        value = reached.value if math.isfinite(reached.value) else math.inf
        self.data[reached.rung][reached.trial] = value

    def continues(self, reached: Reached) -> bool:
        """Whether the evaluation goes on past its rung (False at the top rung: it is done)."""
        if reached.rung >= self.top or not math.isfinite(reached.value):
            return False
        recorded = [v for v in self.data[reached.rung].values() if math.isfinite(v)]
        limit = cutoff(recorded, 1.0 / self.eta)
        return limit is None or reached.value <= limit

    def decide(self, batch: Sequence[Reached]) -> list[bool]:
        """Records every value of ``batch``, then decides each against the same data."""
        for reached in batch:
            self.record(reached)
        return [self.continues(reached) for reached in batch]


class PromotionRungs(StoppingRungs):
    """ASHA's promotion rule (Li et al. 2020, Algorithm 2) over one set of rung levels.

    An evaluation reaching a rung below the top is paused there. When a worker frees, the
    highest rung holding an evaluation among its best ``floor(n / eta)`` (``n`` recorded there)
    not yet promoted from it gives that evaluation (the best such) its next segment; only when no
    rung has one does a new evaluation start.
    """

    def __init__(self, levels: Sequence[float], eta: float):
        super().__init__(levels, eta)
        self.promoted: list[set[int]] = [set() for _ in self.levels]

    def continues(self, reached: Reached) -> bool:
        return False  # paused (or, at the top rung, done): promotion decides later

    def promotable(self) -> Reached | None:
        """The evaluation to promote next (not yet marked), or None."""
        for rung in reversed(range(self.top)):
            data = self.data[rung]
            keep = math.floor(len(data) / self.eta)
            best = sorted(data.items(), key=lambda item: (item[1], item[0]))[:keep]
            for trial, value in best:
                if trial not in self.promoted[rung] and math.isfinite(value):
                    return Reached(trial, rung, value)
        return None

    def promote(self, trial: int, rung: int) -> None:
        self.promoted[rung].add(trial)
