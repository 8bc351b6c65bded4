"""The executor contract: one outcome for every task, statuses as ``evaluate`` classifies them,
the run's clock, and outcomes the journal records completely."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.executors.base import Executor
from bench.records import ERROR, OK, Outcome, Task
from bench.testing.run import check_results_rebuild_from_journal, run_briefly

#: Builds a new executor with ``workers`` slots.
ExecutorFactory = Callable[[int], Executor]
SPACE = {"x1": {"type": "float", "low": 0.0, "high": 1.0}, "x2": {"type": "float", "low": 0.0, "high": 1.0}}


def check_every_task_gets_one_outcome(make: ExecutorFactory, workers: int) -> None:
    from objectives.toy import Faulty

    executor = make(workers)
    executor.start(Faulty(SPACE, fault="raise", above=0.5), time.time())
    try:
        tasks = [Task(i, {"x1": i / 10, "x2": 0.5}, seed=i) for i in range(8)]
        submitted, outcomes = 0, list[Outcome]()
        while len(outcomes) < len(tasks):
            while submitted < len(tasks) and executor.running < workers:
                executor.submit(tasks[submitted])
                submitted += 1
            assert executor.running <= workers
            got = executor.wait(first=True)
            assert got, "wait(first=True) returned nothing while tasks were running"
            outcomes += got
        assert sorted(o.eval_id for o in outcomes) == list(range(8))
        by_id = {o.eval_id: o for o in outcomes}
        for i in range(8):
            expected = OK if i / 10 <= 0.5 else ERROR
            assert by_id[i].status == expected, (i, by_id[i])
            assert by_id[i].t_end >= by_id[i].t_start
        assert by_id[0].value == pytest.approx((0 - 0.3) ** 2 + (0.5 - 0.3) ** 2)
        assert "injected failure" in (by_id[7].message or "")
        assert executor.running == 0
        assert executor.now() >= max(o.t_end for o in outcomes) - 1e-9
    finally:
        executor.close()


def check_wait_all_returns_the_whole_batch(make: ExecutorFactory) -> None:
    from objectives.toy import Faulty

    executor = make(2)
    executor.start(Faulty(SPACE), time.time())
    try:
        executor.submit(Task(0, {"x1": 0.1, "x2": 0.1}, 0))
        executor.submit(Task(1, {"x1": 0.2, "x2": 0.2}, 1))
        assert sorted(o.eval_id for o in executor.wait(first=False)) == [0, 1]
    finally:
        executor.close()


def check_executor_results_rebuild_from_journal(make: ExecutorFactory, run_dir: Path) -> None:
    from objectives.toy import Faulty

    objective = Faulty(SPACE, fault="raise", above=0.5)  # failures too: messages, statuses
    summary = run_briefly(run_dir, objective=objective, executor=make(2), evaluations=6, mode="async")
    assert summary["n_evals"] == 6, summary
    check_results_rebuild_from_journal(run_dir)


class ExecutorContract:
    """The executor contract; a subclass sets the :meth:`make_executor` fixture."""

    @pytest.fixture
    def make_executor(self) -> ExecutorFactory:
        """``(workers) -> Executor``: a new instance each call, not started."""
        raise NotImplementedError(f"{type(self).__name__}: set the make_executor fixture, (workers) -> Executor")

    @pytest.mark.parametrize("workers", [1, 3])
    def test_every_task_gets_one_outcome(self, make_executor: ExecutorFactory, workers: int) -> None:
        check_every_task_gets_one_outcome(make_executor, workers)

    def test_wait_all_returns_the_whole_batch(self, make_executor: ExecutorFactory) -> None:
        check_wait_all_returns_the_whole_batch(make_executor)

    def test_results_rebuild_from_journal(self, make_executor: ExecutorFactory, tmp_path: Path) -> None:
        check_executor_results_rebuild_from_journal(make_executor, tmp_path / "run")
