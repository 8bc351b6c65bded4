"""The objective contract: a space, numbers back, a known optimum or none, and a pickle round
trip (``executor=local`` pickles the objective to each worker before its ``setup()``)."""

from __future__ import annotations

import math
import numbers
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.objective import Evaluation, Objective
from bench.space import Space
from bench.testing.run import check_results_rebuild_from_journal, run_briefly

#: Builds a new objective (not yet set up).
ObjectiveFactory = Callable[[], Objective]
#: The unit-cube points the clauses evaluate at: the centre and a quarter of each range
#: (below where the fault-injection objective misbehaves).
UNIT_POINTS = (0.5, 0.25)
SEED = 7


def _real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _points(space: Space) -> list[dict[str, Any]]:
    return [space.to_params(np.full(space.dim, u)) for u in UNIT_POINTS]


def _value(out: Any) -> float:
    return float(out.value if isinstance(out, Evaluation) else out)


def check_objective_has_a_space_and_an_optimum(make: ObjectiveFactory) -> None:
    objective = make()
    assert isinstance(objective, Objective), f"{type(objective).__name__} is not a bench.objective.Objective"
    assert isinstance(objective.space, Space) and objective.space.dim >= 1, objective.space
    optimum = objective.optimum
    assert optimum is None or (_real(optimum) and math.isfinite(optimum)), f"optimum: {optimum!r}"


def check_evaluations_are_numbers(make: ObjectiveFactory) -> None:
    objective = make()
    objective.validate()
    objective.setup()
    for params in _points(objective.space):
        out = objective(params, SEED)
        assert isinstance(out, Evaluation) or _real(out), f"{params}: returned {out!r}"
        if isinstance(out, Evaluation):
            assert _real(out.value), f"{params}: value {out.value!r}"
            assert isinstance(out.metrics, Mapping), f"{params}: metrics {out.metrics!r}"
            assert all(isinstance(k, str) for k in out.metrics), f"{params}: metric names {list(out.metrics)}"
            if "true_value" in out.metrics:  # the noise-free value regret is computed from
                assert _real(out.metrics["true_value"]), f"true_value: {out.metrics['true_value']!r}"
        cost = objective.cost(params)
        assert cost is None or (_real(cost) and cost >= 0), f"cost({params}): {cost!r}"


def check_a_pickled_copy_evaluates_the_same(make: ObjectiveFactory) -> None:
    objective = make()
    try:
        blob = pickle.dumps(objective)
    except Exception as exc:
        raise AssertionError(
            f"{type(objective).__name__} cannot be pickled ({type(exc).__name__}: {exc}); executor=local pickles "
            "the objective to each worker: keep lambdas and open files out of it (build them in setup())"
        ) from exc
    copy = pickle.loads(blob)
    objective.setup()
    copy.setup()
    for params in _points(objective.space):
        a, b = _value(objective(params, SEED)), _value(copy(params, SEED))
        assert a == b or (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-12), (
            f"{params}: the pickled copy returned {b!r}, the original {a!r}"
        )


def check_objective_results_rebuild_from_journal(make: ObjectiveFactory, run_dir: Path) -> None:
    summary = run_briefly(run_dir, objective=make(), evaluations=3)
    assert summary["n_evals"] == 3, summary
    check_results_rebuild_from_journal(run_dir)


class ObjectiveContract:
    """The objective contract; a subclass sets the :meth:`make_objective` fixture."""

    @pytest.fixture
    def make_objective(self) -> ObjectiveFactory:
        """``() -> Objective``: a new instance each call, not yet set up."""
        raise NotImplementedError(f"{type(self).__name__}: set the make_objective fixture, () -> Objective")

    def test_objective_has_a_space_and_an_optimum(self, make_objective: ObjectiveFactory) -> None:
        check_objective_has_a_space_and_an_optimum(make_objective)

    def test_evaluations_are_numbers(self, make_objective: ObjectiveFactory) -> None:
        check_evaluations_are_numbers(make_objective)

    def test_a_pickled_copy_evaluates_the_same(self, make_objective: ObjectiveFactory) -> None:
        check_a_pickled_copy_evaluates_the_same(make_objective)

    def test_results_rebuild_from_journal(self, make_objective: ObjectiveFactory, tmp_path: Path) -> None:
        check_objective_results_rebuild_from_journal(make_objective, tmp_path / "run")
