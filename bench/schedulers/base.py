"""The scheduler contract: how far each evaluation runs, independent of the strategy.

As Syne Tune separates the searcher (which point next: here the strategy) from the scheduler
(how long each point runs), a scheduler only sees evaluations reaching rungs of the objective's
resource (:class:`bench.objective.Fidelity`) and says, for each, whether it goes on. The driver
runs an evaluation in segments, one per rung (:meth:`Scheduler.span`), journals each rung
reached with the decision (a ``rung`` record), and ends an evaluation that does not go on with
status ``stopped`` and the value it reached. :meth:`Scheduler.restore` replays the ``rung``
records of a journal, so a resumed run continues the same schedule.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

from bench.errors import UserError
from bench.objective import Fidelity
from bench.schedulers.rungs import PromotionRungs, Reached, StoppingRungs, rung_levels
from bench.schedulers.schema import AshaConf


@dataclass(frozen=True)
class Decision:
    """An evaluation reached ``level`` (rung ``rung`` of bracket ``bracket``) with ``value``; ``go_on`` or not."""

    trial: int
    bracket: int
    rung: int
    level: float
    value: float
    go_on: bool


#: ASHA's two forms (Syne Tune's ``type``): stop below a cutoff, or pause and promote later.
TYPES = ("stopping", "promotion")


class Scheduler(abc.ABC):
    """Base class of the schedulers: rung levels, brackets of stopping rungs, and where each trial is.

    Args:
        eta: the reduction factor (about ``1/eta`` of the evaluations at a rung go on).
        min_resource: the first rung (default: the objective's ``fidelity.minimum``).
        max_resource: the full resource, the top rung (default: the objective's ``fidelity.maximum``).
        type: ``stopping`` or ``promotion`` (:mod:`bench.schedulers.rungs`).
    """

    name = "scheduler"

    def __init__(
        self,
        eta: float = AshaConf.eta,
        min_resource: float | None = AshaConf.min_resource,
        max_resource: float | None = AshaConf.max_resource,
        type: str = AshaConf.type,
    ):
        if type not in TYPES:
            raise UserError(f"scheduler.type: expected one of {', '.join(TYPES)}, got {type!r}")
        self.type = type
        self.eta = eta
        self.min_resource = min_resource
        self.max_resource = max_resource
        self.levels: list[float] = []
        self.brackets: list[StoppingRungs] = []  # PromotionRungs with type promotion
        self.seed = 0
        #: trial -> (bracket, index of the last rung it reached in that bracket)
        self.position: dict[int, tuple[int, int]] = {}

    def bind(self, fidelity: Fidelity, seed: int) -> None:
        """Sets the rung levels from the objective's resource (before any evaluation), and forgets every trial.

        Raises:
            UserError: a setting outside the objective's resource, naming it.
        """
        maximum = fidelity.maximum if self.max_resource is None else float(self.max_resource)
        minimum = fidelity.minimum if self.min_resource is None else float(self.min_resource)
        if not fidelity.minimum <= maximum <= fidelity.maximum:
            raise UserError(
                f"scheduler.max_resource: expected a number in [{fidelity.minimum:g}, {fidelity.maximum:g}] "
                f"({fidelity.name}), got {self.max_resource!r}"
            )
        if minimum < fidelity.minimum:
            raise UserError(
                f"scheduler.min_resource: the objective runs at least {fidelity.minimum:g} {fidelity.name}, "
                f"got {self.min_resource!r}"
            )
        self.levels = rung_levels(minimum, maximum, self.eta, fidelity.integer)
        self.seed = int(seed)
        rungs = PromotionRungs if self.type == "promotion" else StoppingRungs
        self.brackets = [rungs(self.levels[b:], self.eta) for b in range(self.n_brackets())]
        self.position = {}

    @abc.abstractmethod
    def n_brackets(self) -> int:
        """How many brackets (each starts one rung higher than the previous)."""

    @abc.abstractmethod
    def bracket_of(self, trial: int) -> int:
        """The bracket a new trial starts in (a pure function of the run's seed and the trial)."""

    # -- what the driver asks ---------------------------------------------------------------------
    def span(self, trial: int) -> tuple[float, float]:
        """``(resume_from, fidelity)`` of the trial's next segment: from its last rung to the next one."""
        if trial not in self.position:
            bracket = self.bracket_of(trial)
            return 0.0, self.brackets[bracket].levels[0]
        bracket, rung = self.position[trial]
        levels = self.brackets[bracket].levels
        return levels[rung], levels[min(rung + 1, len(levels) - 1)]

    def decide(self, batch: Sequence[tuple[int, float]]) -> list[Decision]:
        """Each ``(trial, value)`` reached its next rung: records them all, then decides each."""
        by_bracket: dict[int, list[Reached]] = {}
        for trial, value in batch:
            bracket, rung = self.position.get(trial, (self.bracket_of(trial), -1))
            by_bracket.setdefault(bracket, []).append(Reached(trial, rung + 1, float(value)))
        decided: dict[int, Decision] = {}
        for bracket, reached in by_bracket.items():
            rungs = self.brackets[bracket]
            for r, go_on in zip(reached, rungs.decide(reached), strict=True):
                self.position[r.trial] = (bracket, r.rung)
                decided[r.trial] = Decision(r.trial, bracket, r.rung, rungs.levels[r.rung], r.value, go_on)
        return [decided[trial] for trial, _ in batch]

    @property
    def promotes(self) -> bool:
        """Whether evaluations pause at rungs and wait to be promoted (``type="promotion"``)."""
        return self.type == "promotion"

    def promotions(self, n: int) -> list[Decision]:
        """Up to ``n`` paused evaluations to resume now (best first, highest rung first), marked promoted."""
        out: list[Decision] = []
        for _ in range(n):
            found = None
            for bracket, rungs in enumerate(self.brackets):
                if isinstance(rungs, PromotionRungs) and (reached := rungs.promotable()) is not None:
                    found = (bracket, rungs, reached)
                    break
            if found is None:
                break
            bracket, rungs, reached = found
            self.restore_promotion(reached.trial, bracket, reached.rung)
            out.append(Decision(reached.trial, bracket, reached.rung, rungs.levels[reached.rung], reached.value, True))
        return out

    def restore_promotion(self, trial: int, bracket: int, rung: int) -> None:
        """Marks ``trial`` promoted from ``rung`` of ``bracket`` (live, or replaying a ``promote`` record)."""
        rungs = self.brackets[bracket] if 0 <= bracket < len(self.brackets) else None
        if not isinstance(rungs, PromotionRungs) or not 0 <= rung < len(rungs.levels):
            raise UserError(f"journal: a promote record (bracket {bracket}, rung {rung}) this scheduler cannot replay")
        rungs.promote(trial, rung)

    def restore(self, trial: int, bracket: int, rung: int, value: float) -> None:
        """Replays a journaled ``rung`` record (a resumed run continues the same schedule)."""
        if not 0 <= bracket < len(self.brackets) or not 0 <= rung < len(self.brackets[bracket].levels):
            raise UserError(f"journal: a rung record (bracket {bracket}, rung {rung}) outside this scheduler's rungs")
        self.brackets[bracket].record(Reached(trial, rung, float(value)))
        self.position[trial] = (bracket, rung)
