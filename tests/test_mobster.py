"""MOBSTER (bench/strategies/mobster.py) with ASHA: the contract, rung data, the CLI, kill and resume."""

from __future__ import annotations

import numpy as np
import pytest

from bench.records import OK, Outcome
from bench.run_folder.state import RunState
from bench.schedulers.asha import ASHA
from bench.schedulers.hook import Schedule
from bench.space import Space
from bench.strategies.base import History
from bench.strategies.mobster import Mobster, resource_for_acquisition
from bench.testing import StrategyContract
from objectives.multi_fidelity import MultiFidelitySynthetic
from tests.conftest import final_results, read_journal, run_cli, start_cli
from tests.test_resume import kill_after, proposals

CHEAP = {"num_restarts": 2, "raw_samples": 32}
MF = ["objective=hartmann6_mf", "objective.steps=9", "strategy=mobster", "scheduler=asha", "carbon=off"]
MF += ["progress=false", "strategy.num_restarts=2", "strategy.raw_samples=32"]
LINE = Space.from_config({"x": {"type": "float", "low": 0.0, "high": 1.0}})


class TestMobsterContract(StrategyContract):
    @pytest.fixture(params=["ei", "ts"])
    def make_strategy(self, request):
        return lambda space, seed: Mobster(space, seed, acquisition=request.param, n_candidates=200, **CHEAP)


def test_the_acquisition_looks_at_the_highest_fidelity_with_enough_values():
    s = np.array([1 / 9] * 5 + [1 / 3] * 3 + [1.0])
    assert resource_for_acquisition(s, 3, "bohb") == pytest.approx(1 / 3)
    assert resource_for_acquisition(s, 1, "bohb") == 1.0
    assert resource_for_acquisition(s, 6, "bohb") == pytest.approx(1 / 9)  # none has enough: the lowest
    assert resource_for_acquisition(s, 3, "final") == 1.0
    assert resource_for_acquisition(np.zeros(0), 3, "bohb") == 1.0


def low_fidelity_history() -> History:
    """Nine values at fidelity 1/9 with their minimum at x = 0.7; two final values far from it."""
    x = np.linspace(0.05, 0.95, 9).reshape(-1, 1)
    rungs = np.vstack([x, [[0.1], [0.2]]])
    values = np.concatenate([(x[:, 0] - 0.7) ** 2, [0.5, 0.4]])
    fidelity = np.array([1 / 9] * 9 + [1.0, 1.0])
    by_fidelity = History(rungs, values, np.zeros((0, 1)), fidelity=fidelity)
    top = History(rungs[[0, 1, 9, 10]], values[[0, 1, 9, 10]], np.zeros((0, 1)))  # as if the rest were running
    return History(top.X, top.y, top.X_failed, by_fidelity=by_fidelity)


def test_it_learns_from_every_rung_value_not_only_final_ones():
    h = low_fidelity_history()
    mobster = Mobster(LINE, 0, resource_acq_threshold=3, **CHEAP)
    (x,) = mobster.propose(h, np.zeros((0, 1)), 1)
    assert abs(x[0] - 0.7) < 0.1  # the low-fidelity minimum, which no final value shows
    without = Mobster(LINE, 0, resource_acq_threshold=3, **CHEAP).propose(
        History(h.X, h.y, h.X_failed), np.zeros((0, 1)), 1
    )
    assert abs(without[0, 0] - 0.7) > 0.1


def test_a_pending_evaluation_counts_at_the_rung_it_runs_to():
    x = np.array([[0.1], [0.4], [0.6], [0.9]])
    X = np.vstack([x, [[0.1], [0.2]]])
    y = np.concatenate([(x[:, 0] - 0.7) ** 2, [0.5, 0.4]])
    by_fidelity = History(X, y, np.zeros((0, 1)), fidelity=np.array([1 / 9] * 4 + [1.0, 1.0]))
    h = History(X[[0, 4, 5]], y[[0, 4, 5]], np.zeros((0, 1)), by_fidelity=by_fidelity)
    first = Mobster(LINE, 0, resource_acq_threshold=3, **CHEAP).propose(h, np.zeros((0, 1)), 1)

    def next_one(heading: float, **options: bool) -> np.ndarray:
        pending_at = History(h.X, h.y, h.X_failed, by_fidelity=by_fidelity, pending_fidelity=np.array([heading]))
        return Mobster(LINE, 0, resource_acq_threshold=3, **CHEAP, **options).propose(pending_at, first, 1)

    at_rung, at_top = next_one(1 / 9), next_one(1.0)
    assert abs(at_rung[0, 0] - at_top[0, 0]) > 1e-4  # where the pending one runs to changes the next point
    assert abs(at_rung[0, 0] - first[0, 0]) > 1e-4
    np.testing.assert_allclose(next_one(1 / 9, use_pending=False), first, atol=1e-6)  # not looked at


def test_the_hook_gives_every_rung_reached_in_journal_order_and_where_pending_ones_run_to(tmp_path):
    run_cli(
        *MF, "executor=simulated", "executor.duration=cost", "workers=3", "mode=async", "budget.evaluations=12",
        "hydra.run.dir=run", cwd=tmp_path, check=True,
    )  # fmt: skip
    records = read_journal(tmp_path / "run")
    objective = MultiFidelitySynthetic(
        {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(1, 7)}, steps=9
    )
    schedule = Schedule(ASHA(), objective, seed=0, simulated=True)
    schedule.restore(records)
    state = RunState.from_records(records)
    history, pending = schedule.for_strategy(state.history(6), state.in_flight(), state)
    rungs = [r for r in records if r["event"] == "rung"]
    assert history.by_fidelity is not None and len(history.by_fidelity) == len(rungs) > 12
    np.testing.assert_allclose(history.by_fidelity.y, [r["value"] for r in rungs])
    np.testing.assert_allclose(history.by_fidelity.fidelity, [r["fidelity"] for r in rungs])
    np.testing.assert_allclose(history.by_fidelity.X, [state.evals[r["eval_id"]].x for r in rungs])
    assert history.by_fidelity.eval_ids.tolist() == [r["eval_id"] for r in rungs]
    assert len(history) == 12 and pending == [] and len(history.pending_fidelity) == 0
    # live, an evaluation that went on from rung 0 runs to rung 1
    live = Schedule(ASHA(), objective, seed=0, simulated=True)
    first, second = (Outcome(eval_id=e, status=OK, value=v, t_start=0.0, t_end=1 / 9) for e, v in ((0, 1.0), (1, 2.0)))
    live.observe([first, second])
    assert live.segment_ended(first, lambda event, **fields: fields) is None  # goes on (no cutoff yet)
    state = RunState()
    for e in (0, 1):
        state.apply({"event": "submit", "eval_id": e, "params": {}, "x": [0.5] * 6, "t_submit": 0.0})
    seen, still = live.for_strategy(History.empty(6), [state.evals[0]], state)
    assert still == [state.evals[0]] and live.reached == [(0, 1 / 9, 1.0)]
    assert seen.pending_fidelity == pytest.approx([1 / 3])


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_a_tiny_run_through_the_cli(tmp_path, mode):
    run_cli(
        *MF, "executor=simulated", "executor.duration=cost", "workers=4", f"mode={mode}", "budget.evaluations=16",
        "hydra.run.dir=run", cwd=tmp_path, check=True,
    )  # fmt: skip
    finals = final_results(read_journal(tmp_path / "run"))
    assert len(finals) == 16 and {f["status"] for f in finals} <= {"ok", "stopped"}
    assert any(f["status"] == "stopped" for f in finals)


@pytest.mark.slow
def test_a_killed_and_resumed_run_proposes_the_same_points(tmp_path):
    args = [*MF, "objective.sleep_per_fidelity=0.6", "seed=3", "budget.evaluations=8"]
    run_cli(*args, "hydra.run.dir=straight", cwd=tmp_path, check=True)
    kill_after(start_cli(*args, "hydra.run.dir=killed", cwd=tmp_path), tmp_path / "killed", n_results=4, event="rung")
    run_cli("resume=killed", cwd=tmp_path, check=True)
    np.testing.assert_allclose(proposals(tmp_path / "killed"), proposals(tmp_path / "straight"), atol=1e-9)
    decided = [
        (r["eval_id"], r["rung"], r["decision"]) for r in read_journal(tmp_path / "killed") if r["event"] == "rung"
    ]
    assert decided == [
        (r["eval_id"], r["rung"], r["decision"]) for r in read_journal(tmp_path / "straight") if r["event"] == "rung"
    ]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("strategy.acquisition=ucb", "strategy.acquisition: expected one of ei, ts, got 'ucb'"),
        ("strategy.resource_acq=first", "strategy.resource_acq: expected one of bohb, final, got 'first'"),
        ("strategy.resource_acq_threshold=0", "strategy.resource_acq_threshold: expected an integer >= 1, got 0"),
    ],
)
def test_bad_options_are_one_line_before_any_work(tmp_path, override, message):
    proc = run_cli(*MF, override, "hydra.run.dir=run", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"bobench: error: {message}"]
    assert not (tmp_path / "run" / "journal.jsonl").exists()
