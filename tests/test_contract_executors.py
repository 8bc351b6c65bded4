"""One contract for every executor: outcomes for every task, statuses, the run's clock."""

from __future__ import annotations

import time

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from bench.records import ERROR, OK, Task
from objectives.toy import Faulty
from tests.conftest import CONF, slurm_available

#: slurm joins when a cluster answers (.ci/run starts one); its own tests say why when none does.
EXECUTORS = sorted(p.stem for p in (CONF / "executor").glob("*.yaml") if p.stem != "slurm" or slurm_available())
SPACE = {"x1": {"type": "float", "low": 0.0, "high": 1.0}, "x2": {"type": "float", "low": 0.0, "high": 1.0}}


def make(compose, name: str, workers: int):
    node = OmegaConf.to_container(compose(f"executor={name}").executor, resolve=True)
    if name == "slurm":
        node["poll_interval_s"] = 0.3
    return instantiate(node, workers=workers, _convert_="all")


@pytest.fixture(params=[pytest.param(e, marks=pytest.mark.slurm) if e == "slurm" else e for e in EXECUTORS])
def name(request):
    return request.param


@pytest.mark.parametrize("workers", [1, 3])
def test_every_task_gets_one_outcome(compose, name, workers):
    executor = make(compose, name, workers)
    objective = Faulty(SPACE, fault="raise", above=0.5)
    executor.start(objective, time.time())
    try:
        tasks = [Task(i, {"x1": i / 10, "x2": 0.5}, seed=i) for i in range(8)]
        submitted, outcomes = 0, []
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
        assert "injected failure" in by_id[7].message
        assert executor.running == 0
        assert executor.now() >= max(o.t_end for o in outcomes) - 1e-9
    finally:
        executor.close()


def test_wait_all_returns_the_whole_batch(compose, name):
    executor = make(compose, name, 2)
    executor.start(Faulty(SPACE), time.time())
    try:
        executor.submit(Task(0, {"x1": 0.1, "x2": 0.1}, 0))
        executor.submit(Task(1, {"x1": 0.2, "x2": 0.2}, 1))
        assert sorted(o.eval_id for o in executor.wait(first=False)) == [0, 1]
    finally:
        executor.close()
