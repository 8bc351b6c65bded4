"""Hyperparameter fits in a background process (``fit_lag``): the same proposals whether a fit was
prefetched or computed on demand, through a kill and a resume, and no worker left behind."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch

from bench.strategies.background_fit import FitPool
from bench.strategies.base import History
from bench.strategies.gp import GPModelCache, training_data
from bench.strategies.ts import ThompsonSampling
from bench.testing import StrategyContract
from bench.testing.strategies import SPACE, history
from tests.conftest import read_journal, run_cli, start_cli, wait_until
from tests.test_resume import kill_after, proposals

torch.set_num_threads(1)

D = SPACE.dim
NONE = np.zeros((0, D))
CHEAP_TS = {"num_restarts": 2, "raw_samples": 32, "maxiter": 30}


def _data(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    return training_data(history(SPACE, n, seed), D)


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if not k.startswith("outcome_transform.")}


def _assert_bitwise_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_the_fit_a_decision_uses_lags_its_history():
    X, Y = _data(24, seed=4)
    lagged = GPModelCache(refit_every=2, seed=2, fit_lag=4)
    plain = GPModelCache(refit_every=2, seed=2)  # in this process, on demand
    try:
        assert lagged.fit_size(24) == 20 and lagged.fit_size(3) == 2
        for n in (6, 17, 24):
            a = lagged.model(X[:n], Y[:n]).covar_module.lengthscale
            b = plain.model(X[: n - 4], Y[: n - 4]).covar_module.lengthscale
            torch.testing.assert_close(a, b)  # the same fit, up to the threads it ran on
    finally:
        lagged.close()


def test_prefetched_and_on_demand_fits_agree_bit_for_bit():
    X, Y = _data(26, seed=1)
    running = GPModelCache(refit_every=3, seed=7, fit_lag=5, hyper_samples=3)
    resumed = None
    try:
        states, samples = {}, {}
        for n in range(2, 27):  # a run's course: each call prefetches the fits whose rows have arrived
            states[n] = _state(running.model(X[:n], Y[:n]))
            samples[n] = running.hyper_samples(X[:n], Y[:n], 3)
            running.wait_for_background()  # as if each decision took long enough: the worker's fits are used
        assert running.n_background > 0  # the comparison below covers fits computed by the worker
        for n in (26, 21, 8):  # a resumed run: a fresh cache computes every fit on demand
            resumed = GPModelCache(refit_every=3, seed=7, fit_lag=5, hyper_samples=3)
            _assert_bitwise_equal(_state(resumed.model(X[:n], Y[:n])), states[n])
            assert torch.equal(resumed.hyper_samples(X[:n], Y[:n], 3), samples[n])
            resumed.close()
        other = GPModelCache(refit_every=3, seed=7, fit_lag=5)  # samples not prefetched: drawn on demand
        other.model(X, Y)
        assert torch.equal(other.hyper_samples(X, Y, 3), samples[26])
        other.close()
    finally:
        running.close()
        if resumed is not None:
            resumed.close()


def test_thompson_proposals_are_the_same_prefetched_or_recomputed():
    full = history(SPACE, 26, seed=3)
    options = {**CHEAP_TS, "fit_lag": 3, "refit_every": 4, "hyper_samples": 4}
    used = ThompsonSampling(SPACE, 5, **options)
    try:
        proposed = {}
        for n in range(2, 27):
            h = History(full.X[:n], full.y[:n], full.X_failed)
            proposed[n] = used.propose(h, NONE, 2)
            used.cache.wait_for_background()
        assert used.cache.n_background > 0
        for n in (26, 13):
            fresh = ThompsonSampling(SPACE, 5, **options)
            h = History(full.X[:n], full.y[:n], full.X_failed)
            assert np.array_equal(fresh.propose(h, NONE, 2), proposed[n])
            fresh.close()
    finally:
        used.close()


class TestLaggedThompsonSampling(StrategyContract):
    """The contract with every fit in the background (the strategies are not closed: they share one worker)."""

    @pytest.fixture
    def make_strategy(self):
        return lambda space, seed: ThompsonSampling(space, seed, **CHEAP_TS, fit_lag=2, hyper_samples=2)


def test_closing_the_last_user_stops_the_worker():
    pool = FitPool()
    cache = GPModelCache(seed=0, fit_lag=2, pool=pool)
    X, Y = _data(6)
    cache.model(X, Y)
    cache.wait_for_background()
    (pid,) = pool.worker_pids()
    cache.close()
    assert pool.worker_pids() == []
    assert not psutil.pid_exists(pid)  # stopped and reaped
    cache.model(*_data(6, seed=1))  # still usable: the fits it prefetches start a new worker
    cache.wait_for_background()
    assert pool.worker_pids() and pool.worker_pids() != [pid]
    cache.close()


def test_a_fit_that_fails_in_the_worker_raises_in_the_decision():
    pool = FitPool()
    pool.acquire()
    try:
        future = pool.submit(int, "not a number")
        with pytest.raises(ValueError, match="not a number"):
            future.result()
        assert pool.submit(int, "12").result() == 12  # the worker is still there
    finally:
        pool.release()


# -- through the command line ---------------------------------------------------------------------
TS_LAGGED = [
    "objective=quadratic",
    "objective.sleep_s=0.2",
    "strategy=async_ts",
    "strategy.num_restarts=2",
    "strategy.raw_samples=32",
    "strategy.maxiter=30",
    "strategy.n_initial=2",
    "strategy.refit_every=3",
    "strategy.fit_lag=2",
    "budget.evaluations=14",
    "seed=5",
]


def _fit_workers(proc: subprocess.Popen[str], journal: Path) -> list[psutil.Process]:
    """The background fit worker(s) of a running driver, once started (waited for while its journal grows)."""
    found: list[psutil.Process] = []

    def started() -> bool:
        children = psutil.Process(proc.pid).children(recursive=True)
        found[:] = [p for p in children if "bench.strategies.background_fit" in " ".join(_cmdline(p))]
        return bool(found)

    wait_until(started, proc, journal)
    return found


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


@pytest.mark.slow
def test_kill_and_resume_proposes_what_an_uninterrupted_run_proposes(tmp_path):
    run_cli(*TS_LAGGED, "hydra.run.dir=straight", cwd=tmp_path, check=True)
    proc = start_cli(*TS_LAGGED, "hydra.run.dir=killed", cwd=tmp_path)
    workers = _fit_workers(proc, tmp_path / "killed" / "journal.jsonl")
    kill_after(proc, tmp_path / "killed", n_results=7)
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert alive == [], "a fit worker outlived its SIGKILLed driver"
    run_cli("resume=killed", cwd=tmp_path, check=True)
    assert sum(r["event"] == "resume" for r in read_journal(tmp_path / "killed")) == 1
    straight, resumed = proposals(tmp_path / "straight"), proposals(tmp_path / "killed")
    assert len(straight) == 14 and straight == resumed  # bit for bit (JSON keeps every float64 digit)


@pytest.mark.slow
def test_no_worker_outlives_an_interrupted_run(tmp_path):
    proc = start_cli(*TS_LAGGED, "objective.sleep_s=1", "hydra.run.dir=run", cwd=tmp_path)
    journal = tmp_path / "run" / "journal.jsonl"
    workers = _fit_workers(proc, journal)
    # past the GP's first fit
    wait_until(lambda: journal.exists() and journal.read_text().count('"event":"result"') >= 3, proc, journal)
    os.kill(proc.pid, signal.SIGINT)
    proc.communicate(timeout=120)
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert alive == []
    end = read_journal(tmp_path / "run")[-1]
    assert end["event"] == "end" and end["reason"].startswith("interrupted")
