"""The surrogate options of issue 11: initial design in time, pending ignored, posterior
hyperparameter samples, the noise floor, TS starts; each keeps proposals a pure function of
(seed, history, pending)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.errors import UserError
from bench.space import Space
from bench.strategies.base import History, sobol_points
from bench.strategies.ei import ExpectedImprovement
from bench.strategies.gp import torch_seeded, training_data
from bench.strategies.random import RandomSearch
from bench.strategies.ts import ThompsonSampling
from bench.strategies.ucb import UpperConfidenceBoundStrategy

torch.set_num_threads(1)

SPACE = Space.from_config({f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(3)})
CHEAP = {"num_restarts": 2, "raw_samples": 32}
TS_CHEAP = {**CHEAP, "maxiter": 20}


def _history(n: int = 12, seed: int = 0, elapsed: float = 0.0) -> History:
    X = sobol_points(3, seed + 7, start=0, n=n)
    y = ((X - 0.3) ** 2).sum(axis=1) + 0.1 * np.sin(9 * X[:, 0])
    return History(X, y, np.zeros((0, 3)), elapsed=elapsed)


def test_initial_time_proposes_sobol_points_until_the_clock_reaches_it():
    ts = ThompsonSampling(SPACE, seed=1, initial_time=5.0, **TS_CHEAP)
    early, late = _history(elapsed=4.9), _history(elapsed=5.0)
    pending = np.zeros((0, 3))
    # before the time: the Sobol sequence goes on from the number tried, as RandomSearch's does
    assert np.allclose(ts.propose(early, pending, 2), sobol_points(3, 1, start=12, n=2))
    assert np.allclose(ts.propose(early, pending, 2), RandomSearch(SPACE, seed=1).propose(early, pending, 2))
    assert not np.allclose(ts.propose(late, pending, 2), sobol_points(3, 1, start=12, n=2))


def test_initial_time_must_be_a_finite_non_negative_number():
    with pytest.raises(UserError, match=r"strategy\.initial_time: expected a number >= 0"):
        ThompsonSampling(SPACE, initial_time=-1.0)
    with pytest.raises(UserError, match=r"strategy\.initial_time"):
        RandomSearch(SPACE, initial_time=float("nan"))


@pytest.mark.parametrize("cls", [ExpectedImprovement, UpperConfidenceBoundStrategy])
def test_use_pending_false_does_not_look_at_running_points(cls):
    X, Y = training_data(_history(), 3)
    pending = torch.tensor([[0.3, 0.3, 0.3], [0.9, 0.1, 0.5]], dtype=torch.double)
    plain = cls(SPACE, seed=2, use_pending=False, **CHEAP)
    aware = cls(SPACE, seed=2, **CHEAP)

    def acquire(strategy, P):  # the same seed for the optimiser's starts, so only the acquisition differs
        with torch_seeded(0):
            return strategy.acquire(strategy.cache.model(X, Y), X, Y, P, 1, t=13)

    assert torch.equal(acquire(plain, pending), acquire(plain, pending[:0]))
    assert torch.equal(acquire(plain, pending), acquire(aware, pending[:0]))
    assert not torch.equal(acquire(aware, pending), acquire(aware, pending[:0]))


def test_posterior_hyperparameter_samples_keep_proposals_pure():
    history = _history(n=15)
    used = ThompsonSampling(SPACE, seed=3, hyper_samples=6, **TS_CHEAP)
    first = used.ask(history, np.zeros((0, 3)), 4)
    again = used.ask(history, np.zeros((0, 3)), 4)
    fresh = ThompsonSampling(SPACE, seed=3, hyper_samples=6, **TS_CHEAP).ask(history, np.zeros((0, 3)), 4)
    assert np.array_equal(first, again) and np.array_equal(first, fresh)
    assert first.shape == (4, 3) and (first >= 0).all() and (first <= 1).all()
    X, Y = training_data(history, 3)
    thetas = used.cache.hyper_samples(X, Y, 6)
    assert thetas.shape == (6, 5) and len({tuple(t.tolist()) for t in thetas}) > 1


@pytest.mark.parametrize("exact", [False, True])
def test_each_sample_can_use_its_own_hyperparameters(exact):
    history = _history(n=15)
    ts = ThompsonSampling(SPACE, seed=4, hyper_samples=4, exact=exact, n_candidates=128, **TS_CHEAP)
    points = ts.ask(history, np.zeros((0, 3)), 3)
    assert points.shape == (3, 3) and np.isfinite(points).all()


def test_the_noise_floor_bounds_the_fitted_noise():
    history = _history(n=15)
    ts = ThompsonSampling(SPACE, seed=0, noise_floor=0.05, **TS_CHEAP)
    X, Y = training_data(history, 3)
    assert float(ts.cache.model(X, Y).likelihood.noise) >= 0.05
    with pytest.raises(UserError, match=r"strategy\.noise_floor"):
        ThompsonSampling(SPACE, noise_floor=0.0)


def test_starts_without_observed_points_still_propose_in_the_cube():
    history = _history(n=15)
    ts = ThompsonSampling(SPACE, seed=5, observed_starts=0, **TS_CHEAP)
    points = ts.ask(history, np.zeros((0, 3)), 2)
    assert points.shape == (2, 3) and (points >= 0).all() and (points <= 1).all()
    X, Y = training_data(history, 3)
    observed = {tuple(row) for row in X.tolist()}
    for k_obs in (0, 1):
        strategy = ThompsonSampling(SPACE, seed=5, observed_starts=k_obs, **TS_CHEAP)
        with torch_seeded(0):
            paths = strategy._draw_paths([strategy.cache.model(X, Y)], 2)
            starts = strategy._starts(paths, X, 2)  # (R, n, d)
        from_data = [sum(tuple(starts[r, i].tolist()) in observed for r in range(len(starts))) for i in range(2)]
        assert from_data == [k_obs, k_obs]  # each path: exactly k_obs of its starts are observed points
