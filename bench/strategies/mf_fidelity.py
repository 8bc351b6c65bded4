"""Where the driver meets a strategy that chooses each evaluation's fidelity (``Strategy.chooses_fidelity``).

Without a scheduler, such a strategy (the multi-fidelity knowledge gradient,
``bench/strategies/mf_kg.py``) proposes ``(x, s)`` pairs through
:meth:`~bench.strategies.base.Strategy.propose_with_fidelity`. The driver then

- journals ``s`` in the evaluation's ``submit`` record (field ``fidelity``) and runs the
  evaluation to it (``Task.fidelity``; the simulated clock charges ``objective.cost_at(s)``), a
  re-run or a resumed run to the same ``s`` (``EvalState.fidelity``, from that record);
- records its result with ``fidelity`` (results.csv's column) and status ``stopped`` when ``s``
  is below the full resource (:func:`at_chosen_fidelity`): best-so-far and regret count
  full-fidelity values only, as under a scheduler;
- shows the strategy every finished evaluation at its fidelity (``History.by_fidelity``) and the
  fidelity each running one runs to (``History.pending_fidelity``): :func:`chosen_fidelity_history`.

:func:`bind_fidelity` checks the pairing before any work (the build step).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

import numpy as np

from bench.errors import UserError
from bench.objective import Objective
from bench.records import OK, STOPPED, Outcome
from bench.run_folder.state import EvalState, RunState
from bench.strategies.base import History, Strategy


def bind_fidelity(strategy: Strategy, objective: Objective, scheduler: Any) -> None:
    """Tells a fidelity-choosing strategy the objective's smallest fidelity; a one-line error where they do not fit.

    Raises:
        UserError: with a scheduler (which decides how far evaluations run), or on an objective
            whose fidelity is not a level in (0, 1] (the synthetic multi-fidelity ones).
    """
    if not strategy.chooses_fidelity:
        return
    name = type(strategy).__name__
    if scheduler is not None:
        raise UserError(
            f"scheduler={scheduler.name}: strategy {name} chooses each evaluation's fidelity itself; use scheduler=none"
        )
    fidelity = objective.fidelity
    set_minimum = getattr(strategy, "set_min_fidelity", None)
    if fidelity is None:
        warnings.warn(
            f"strategy {name}: objective {objective.name} has no fidelity; every evaluation runs in full",
            UserWarning,
            stacklevel=2,
        )
        if callable(set_minimum):
            set_minimum(None)
        return
    if fidelity.integer or not math.isclose(fidelity.maximum, 1.0):
        raise UserError(
            f"strategy: {name} proposes fidelities in (0, 1]; objective {objective.name}'s {fidelity.name} runs "
            f"{fidelity.minimum:g}..{fidelity.maximum:g} (use hartmann6_mf or branin_mf, or scheduler=asha)"
        )
    if callable(set_minimum):
        set_minimum(float(fidelity.minimum))


def chosen_fidelity_history(history: History, pending: list[EvalState], state: RunState) -> History:
    """The history with every finished evaluation at its fidelity and the running ones' fidelities."""
    rows, ids = [], []
    for eid in state.finished:
        ev, final = state.evals[eid], state.final(eid)
        value = final.get("value")
        if final.get("status") in (OK, STOPPED) and isinstance(value, int | float) and math.isfinite(value):
            rows.append((ev.x, 1.0 if ev.fidelity is None else ev.fidelity, float(value)))
            ids.append(eid)
    dim = history.X.shape[1] if history.X.ndim == 2 else len(rows[0][0]) if rows else 0
    by_fidelity = History(
        np.array([x for x, _, _ in rows], dtype=float).reshape(-1, dim),
        np.array([v for _, _, v in rows], dtype=float),
        np.zeros((0, dim)),
        fidelity=np.array([s for _, s, _ in rows], dtype=float),
        eval_ids=np.array(ids, dtype=int),
    )
    heading = np.array([1.0 if ev.fidelity is None else ev.fidelity for ev in pending], dtype=float)
    return dataclasses.replace(history, by_fidelity=by_fidelity, pending_fidelity=heading)


def at_chosen_fidelity(outcome: Outcome, fidelity: float, objective: Objective) -> tuple[Outcome, dict[str, Any]]:
    """An evaluation's final outcome at the fidelity its strategy chose: ``stopped`` below the full resource."""
    full = objective.fidelity.maximum if objective.fidelity is not None else 1.0
    if outcome.status == OK and fidelity < full * (1 - 1e-9):
        outcome = dataclasses.replace(outcome, status=STOPPED)
    return outcome, {"fidelity": float(fidelity)}
