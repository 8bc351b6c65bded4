"""Batched asks: when k workers are free, one decision proposes k points (docs/parallel-bo.md,
"Keeping many workers busy"), and a killed, resumed run proposes what the journal says it should.

The runs charge decision time to a simulated clock whose evaluations last about 1e-9 time units
(``executor.mean=1e-9``): every decision, however fast the machine, takes far longer than that, so
each evaluation submitted before a decision has finished when it ends, and each one submitted
after it has not. Which evaluations a wait returns, and so every history and every batch, is then
the same on every machine; only the times differ. With four workers the decisions propose
4, 1, 3, 1, 3, ... points: the first wait returns the earliest of the first four, the decision
for its worker lets the other three finish, and so on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.build import build
from bench.driver import Driver
from bench.errors import UserError
from bench.executors.simulated import SimulatedExecutor
from bench.objective import Objective
from bench.records import Task
from bench.run_folder.state import RunState
from tests.conftest import read_journal, run_cli
from tests.test_resume import proposals

WORKERS = 4
EVALS = 12
RUN = [
    "objective=hartmann6",
    "strategy=async_ts",
    "executor=simulated",
    "executor.charge_decision_time=true",
    "executor.mean=1e-9",
    f"workers={WORKERS}",
    "mode=async",
    f"budget.evaluations={EVALS}",
    "carbon=fixed",
    "+debug=fast",
]


def decisions(records: list[dict[str, Any]]) -> list[tuple[int, list[dict[str, Any]], bool]]:
    """Each decision's submit records, the index of its first record in ``records``, and whether a
    kill cut it short (a resume follows its last point: the driver died before journaling them all).

    A decision's points are consecutive first submits with the same clock time and the same share
    of the decision's time (a charged decision moves the clock, so two decisions never share both).
    """
    out: list[tuple[int, list[dict[str, Any]], bool]] = []
    previous: dict[str, Any] | None = None
    for i, rec in enumerate(records):
        first_submit = rec["event"] == "submit" and rec["attempt"] == 0
        same = (
            first_submit
            and previous is not None
            and (rec["t_submit"], rec["decision_s"]) == (previous["t_submit"], previous["decision_s"])
        )
        if same:
            out[-1][1].append(rec)
        elif first_submit:
            out.append((i, [rec], False))
        elif rec["event"] == "resume" and previous is not None:
            out[-1] = (*out[-1][:2], True)
        previous = rec if first_submit else None
    return out


def check_each_decision_replays(compose: Callable[..., Any], run: list[str], run_dir: Path) -> list[int]:
    """Every decision in the journal is what a fresh strategy proposes for the history and pending
    points the journal held just before it, for every worker free then; returns the batch sizes."""
    cfg = compose(*run)
    parts = build(cfg)
    dim, workers, budget = parts.objective.space.dim, int(cfg.workers), int(cfg.budget.evaluations)
    records = read_journal(run_dir)
    sizes = []
    for first, points, cut in decisions(records):
        state = RunState.from_records(records[:first])
        history = state.history(dim)
        history.elapsed = state.last_t  # the clock when the decision began: the latest time journaled
        pending_evs = state.in_flight()
        pending = np.array([ev.x for ev in pending_evs], dtype=float).reshape(-1, dim)
        free = min(workers - len(pending_evs), budget - len(state.evals))
        where = f"decision at record {first + 1}"
        assert len(points) < free if cut else len(points) == free, f"{where}: {len(points)} points for {free} workers"
        assert len({p["decision_s"] for p in points}) == 1  # the decision's time, shared by its points
        again = parts.strategy.propose(history, pending, free)[: len(points)]
        np.testing.assert_allclose(again, [p["x"] for p in points], atol=1e-6, err_msg=where)
        sizes.append(len(points))
    return sizes


# -- the simulated clock ------------------------------------------------------------------------
class Zero(Objective):
    def __call__(self, params: dict[str, Any], seed: int) -> float:
        return 0.0


def test_wait_returns_every_evaluation_finished_while_the_driver_decided():
    ex = SimulatedExecutor(workers=4, seed=2)
    ex.start(Zero({"x": {"type": "float", "low": 0.0, "high": 1.0}}, "zero"), clock_origin=0.0)
    for i in range(4):
        ex.submit(Task(i, {"x": 0.5}, seed=i))
    (earliest,) = ex.wait(first=True)  # nothing charged: the earliest alone, the clock moves to it
    assert ex.now() == earliest.t_end
    ends = sorted(ex.sample_duration(Task(i, {"x": 0.5}, seed=i)) for i in range(4))
    ex.advance(ends[2] - ex.now() + 1e-9)  # a decision during which two more finish
    got = ex.wait(first=True)
    assert [o.t_end for o in got] == ends[1:3] and ex.now() == pytest.approx(ends[2] + 1e-9)
    (last,) = ex.wait(first=True)
    assert last.t_end == ends[3] == ex.now()


# -- the driver ---------------------------------------------------------------------------------
@pytest.mark.parametrize("clock", ["wall", "cpu"])
def test_one_decision_proposes_a_point_for_every_free_worker(compose, tmp_path, clock):
    run = [*RUN, f"executor.decision_clock={clock}"]
    Driver(compose(*run), tmp_path / "run").run()
    sizes = check_each_decision_replays(compose, run, tmp_path / "run")
    assert sizes == [4, 1, 3, 1, 3]  # see the module's docstring
    t_submits = sorted({r["t_submit"] for r in read_journal(tmp_path / "run") if r["event"] == "submit"})
    assert len(t_submits) == len(sizes) and t_submits[0] > 0  # each decision moved the clock


def test_a_bad_decision_clock_is_one_line(compose, tmp_path):
    with pytest.raises(UserError, match=r"^executor\.decision_clock: expected wall or cpu, got 'gpu'$"):
        Driver(compose(*RUN, "executor.decision_clock=gpu"), tmp_path / "run")


def test_max_batch_caps_a_decision_and_later_ones_see_earlier_ones_as_pending(compose, tmp_path):
    run = [*RUN, "workers=8", "budget.evaluations=16", "max_batch=3"]
    Driver(compose(*run), tmp_path / "run").run()
    records = read_journal(tmp_path / "run")
    sizes = [len(points) for _, points, _ in decisions(records)]
    assert max(sizes) == 3 and sum(sizes) == 16
    assert sizes[:3] == [3, 3, 2]  # eight free workers at the start: three decisions
    # ...each with the points of the ones before as pending (the replay checks what each saw)
    cfg = compose(*run)
    strategy, dim = build(cfg).strategy, 6
    for first, points, _ in decisions(records)[:3]:
        state = RunState.from_records(records[:first])
        pending = np.array([ev.x for ev in state.in_flight()], dtype=float).reshape(-1, dim)
        again = strategy.propose(state.history(dim), pending, len(points))
        np.testing.assert_allclose(again, [p["x"] for p in points], atol=1e-6)


@pytest.mark.parametrize("value", ["0", "-2"])
def test_a_bad_max_batch_is_one_line_before_any_work(compose, tmp_path, value):
    with pytest.raises(UserError, match=rf"^max_batch: must be >= 1, got {value}$"):
        Driver(compose(*RUN, f"max_batch={value}"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


# -- kill and resume ----------------------------------------------------------------------------
def test_a_run_killed_between_wake_ups_resumes_to_the_proposals_of_an_uninterrupted_run(compose, tmp_path):
    """Killed after the tenth record (start, 4 submits, a result, a submit, 3 results): the one
    evaluation in flight runs again and finishes before the next decision ends, as the first one
    did, so the resumed run sees the histories the uninterrupted one saw, batches included."""
    Driver(compose(*RUN), tmp_path / "straight").run()
    killed = run_cli(*RUN, "hydra.run.dir=killed", cwd=tmp_path, env={"BOBENCH_CRASH_AT": "record:10"})
    assert killed.returncode == -9, killed.stderr
    assert [r["event"] for r in read_journal(tmp_path / "killed")][-3:] == ["result"] * 3
    run_cli("resume=killed", cwd=tmp_path, check=True)
    assert check_each_decision_replays(compose, RUN, tmp_path / "killed") == [4, 1, 3, 1, 3]
    np.testing.assert_allclose(proposals(tmp_path / "killed"), proposals(tmp_path / "straight"), atol=1e-6)


def test_a_run_killed_inside_a_batch_proposes_the_rest_for_the_journaled_history(compose, tmp_path):
    """Killed after two of a decision's three points were journaled: the resumed run runs those
    two again and asks one decision for the free worker, with them pending. Every decision, before
    the kill and after, is what the strategy proposes for the history the journal held then."""
    killed = run_cli(*RUN, "hydra.run.dir=run", cwd=tmp_path, env={"BOBENCH_CRASH_AT": "record:12"})
    assert killed.returncode == -9, killed.stderr
    before = read_journal(tmp_path / "run")
    assert [r["event"] for r in before][-2:] == ["submit"] * 2
    run_cli("resume=run", cwd=tmp_path, check=True)
    records = read_journal(tmp_path / "run")
    sizes = check_each_decision_replays(compose, RUN, tmp_path / "run")
    assert sizes[:4] == [4, 1, 2, 1]  # the third decision's two points, then one for its third worker
    assert sum(sizes) == EVALS
    reruns = [r["eval_id"] for r in records if r["event"] == "submit" and r["attempt"] == 1]
    assert reruns == [r["eval_id"] for r in before if r["event"] == "submit"][-3:]  # in flight at the kill
