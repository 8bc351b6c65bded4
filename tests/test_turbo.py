"""Trust-region Thompson sampling (bench/strategies/turbo.py): the region replayed from a history,
restarts, and proposals inside the region. The strategy contract is in test_contract_strategies."""

from __future__ import annotations

import numpy as np
import pytest

from bench.errors import UserError
from bench.space import Space
from bench.strategies.base import History, sobol_points
from bench.strategies.turbo import TrustRegionTS, replay
from bench.strategies.turbo_schema import TurboOptions

OPTS = TurboOptions(length_init=0.8, length_min=0.1, length_max=1.6, success_tolerance=2, failure_tolerance=3)


def test_successes_double_the_side_up_to_its_maximum() -> None:
    y = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 0.2, 0.1])  # the first sets the best; 7 improve on it
    region = replay(y, np.zeros(len(y), dtype=bool), OPTS, dim=2)
    # 7 successes with tolerance 2: doubled at the 2nd (0.8 -> 1.6), then capped at 1.6.
    assert region.length == pytest.approx(1.6) and region.successes == 1 and region.restarts == 0


def test_failures_halve_the_side_and_a_collapse_restarts() -> None:
    y = np.array([1.0] + [2.0] * 9)  # 9 failures with tolerance 3: 0.8 -> 0.4 -> 0.2 -> 0.1
    region = replay(y, np.zeros(len(y), dtype=bool), OPTS, dim=2)
    assert region.length == pytest.approx(0.1) and region.restarts == 0
    # Three more failures halve 0.1 to 0.05 < length_min: the region restarts after the 13th result.
    y = np.array([1.0] + [2.0] * 12)
    region = replay(y, np.zeros(len(y), dtype=bool), OPTS, dim=2)
    assert region.restarts == 1 and region.start == 13 and region.length == pytest.approx(0.8)


def test_the_initial_design_and_a_restarts_first_points_are_not_counted() -> None:
    y = np.array([3.0, 2.0, 1.0, 5.0, 5.0])
    counted = replay(y, np.zeros(5, dtype=bool), OPTS, dim=2)
    assert counted.failures == 2  # results 2..5: two successes (length doubled), then two failures
    start = np.array([True, True, True, False, False])
    assert replay(y, start, OPTS, dim=2).failures == 2 and replay(y, start, OPTS, dim=2).length == 0.8
    # After a restart the next restart_points (2 x dim = 4) results only set the new region's best.
    y = np.array([1.0] + [2.0] * 12 + [9.0, 8.0, 7.0, 6.0, 9.0])
    region = replay(y, np.zeros(len(y), dtype=bool), OPTS, dim=2)
    assert region.restarts == 1 and region.failures == 1 and region.successes == 0


def test_from_start_marks_exactly_the_sobol_design() -> None:
    space = Space.from_config(
        {"a": {"type": "float", "low": 0, "high": 1}, "b": {"type": "float", "low": 0, "high": 1}}
    )
    strategy = TrustRegionTS(space, seed=3, n_initial=4)
    design = sobol_points(2, 3, start=0, n=4)
    X = np.vstack([design[[2, 0]], [[0.5, 0.5]], design[[3]]])  # arrival order differs from submit order
    history = History(X, np.arange(4.0), np.zeros((0, 2)))
    assert strategy.from_start(history, np.zeros((1, 2))).tolist() == [True, True, False, True]


def test_proposals_lie_in_the_region_around_the_incumbent() -> None:
    space = Space.from_config({f"x{i}": {"type": "float", "low": 0, "high": 1} for i in range(3)})
    strategy = TrustRegionTS(space, seed=0, n_initial=12, length_init=0.2, length_min=0.1, n_candidates=256)
    X = sobol_points(3, 0, start=0, n=12)  # the run's initial design: it only sets the best
    y = np.sum((X - 0.3) ** 2, axis=1)
    history = History(X, y, np.zeros((0, 3)))
    points = strategy.ask(history, np.zeros((0, 3)), 4)
    incumbent = X[np.argmin(y)]
    weights = strategy.cache.model(*_data(X, y)).covar_module.lengthscale.detach().numpy().reshape(-1)
    weights = weights / np.prod(weights) ** (1 / 3)
    assert points.shape == (4, 3)
    assert np.all(np.abs(points - incumbent) <= weights * 0.2 / 2 + 1e-9)
    assert np.array_equal(
        points,
        TrustRegionTS(space, seed=0, n_initial=12, length_init=0.2, length_min=0.1, n_candidates=256).ask(
            history, np.zeros((0, 3)), 4
        ),
    )


def test_a_restart_proposes_fresh_sobol_points() -> None:
    space = Space.from_config(
        {"a": {"type": "float", "low": 0, "high": 1}, "b": {"type": "float", "low": 0, "high": 1}}
    )
    strategy = TrustRegionTS(space, seed=1, length_min=0.1, failure_tolerance=3, success_tolerance=2)
    X = np.random.default_rng(1).random((13, 2))
    y = np.array([1.0] + [2.0] * 12)  # collapses at the 13th result (as above, with 0.8 -> 0.1 in 9)
    history = History(X, y, np.zeros((0, 2)))
    assert strategy.region(history, np.zeros((0, 2))).restarts == 1
    first = strategy.ask(history, np.zeros((0, 2)), 2)
    assert not any(np.allclose(p, x) for p in first for x in X)
    assert np.array_equal(first, strategy.ask(history, np.zeros((0, 2)), 2))


def test_bad_options_are_one_line_errors() -> None:
    space = Space.from_config({"a": {"type": "float", "low": 0, "high": 1}})
    with pytest.raises(UserError, match="length_min < length_init"):
        TrustRegionTS(space, length_init=0.05, length_min=0.1)
    with pytest.raises(UserError, match="failure_tolerance"):
        TrustRegionTS(space, failure_tolerance=0)


def _data(X: np.ndarray, y: np.ndarray):  # type: ignore[no-untyped-def]
    from bench.strategies.gp import training_data

    return training_data(History(X, y, np.zeros((0, X.shape[1]))), X.shape[1])


def test_results_still_running_from_the_old_region_are_not_the_new_ones() -> None:
    # Collapse after the 13th result (as above); results 14 and 15 (ids 13, 14) were running from
    # the old region near its optimum and are better than anything after; then the restart's four
    # Sobol points (ids 15..18) and one more result (id 19).
    y = np.array([1.0] + [2.0] * 12 + [0.5, 0.5] + [5.0] * 4 + [4.0])
    ids = np.arange(len(y))
    design = np.zeros(len(y), dtype=bool)
    design[15:19] = True
    region = replay(y, np.zeros(len(y), dtype=bool), OPTS, dim=2, eval_ids=ids, restart_design=lambda r: design)
    assert region.restarts == 1 and region.first_id == 15 and region.size == 5
    assert region.successes == 1  # 4.0 improves on the new region's best, 5.0, not on the old 0.5
    assert region.rows(len(y), ids).nonzero()[0].tolist() == [15, 16, 17, 18, 19]
    # Before a Sobol point of the restart has finished, the new region has no rows yet.
    early = replay(
        y[:15], np.zeros(15, dtype=bool), OPTS, dim=2, eval_ids=ids[:15], restart_design=lambda r: design[:15]
    )
    assert early.restarts == 1 and early.size == 0 and not early.rows(15, ids[:15]).any()
    # Without evaluation ids every row after the restart counts.
    assert replay(y, np.zeros(len(y), dtype=bool), OPTS, dim=2).size == 7


def test_the_run_state_gives_each_row_its_evaluation_id(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bench.run_folder.state import RunState

    records = [
        {"event": "submit", "eval_id": 0, "attempt": 0, "params": {"a": 0.1}, "x": [0.1], "t_submit": 0.0},
        {"event": "submit", "eval_id": 1, "attempt": 0, "params": {"a": 0.2}, "x": [0.2], "t_submit": 0.0},
        {"event": "result", "eval_id": 1, "attempt": 0, "status": "ok", "value": 2.0, "final": True},
        {"event": "result", "eval_id": 0, "attempt": 0, "status": "ok", "value": 1.0, "final": True},
    ]
    state = RunState.from_records(records)
    history = state.history(1)
    assert history.eval_ids.tolist() == [1, 0] and history.y.tolist() == [2.0, 1.0]
