"""The strategy contract: points inside the unit cube, pending points respected, proposals a
pure function of ``(seed, history, pending, n)`` (resume replays the journal into a fresh
instance, so a strategy that keeps state between asks would propose something else)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from bench.space import Space
from bench.strategies.base import History, Strategy

#: Builds a new strategy on ``space`` with the run seed ``seed``.
StrategyFactory = Callable[[Space, int], Strategy]

#: A space with a log-scaled float, a float and an integer: what the clauses ask in.
SPACE = Space.from_config(
    {
        "lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
        "dropout": {"type": "float", "low": 0.0, "high": 0.5},
        "layers": {"type": "int", "low": 1, "high": 4},
    }
)
#: Agreement asked of two proposals that should be the same (the optimisers are seeded).
ATOL = 1e-6


def history(space: Space, n: int, seed: int = 0) -> History:
    """``n`` finished evaluations of a noisy bowl on ``space``'s unit cube."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, space.dim))
    y = ((X - 0.3) ** 2).sum(axis=1) + 0.01 * rng.standard_normal(n)
    return History(X, y, np.zeros((0, space.dim)))


def _none(space: Space) -> np.ndarray:
    return np.zeros((0, space.dim))


def check_proposals_lie_in_the_unit_cube(make: StrategyFactory, space: Space = SPACE) -> None:
    strategy = make(space, 0)
    for n_obs in (0, 1, 8):
        X = strategy.propose(history(space, n_obs), _none(space), 2)
        assert X.ndim == 2 and X.shape[1] == space.dim and 1 <= len(X) <= 2, X.shape
        assert np.all((X >= 0) & (X <= 1)), X
        for x in X:
            space.to_params(x)  # maps to valid parameters


def check_pending_points_are_not_proposed_again(make: StrategyFactory, space: Space = SPACE) -> bool:
    """Returns False (nothing checked) when the strategy is exhausted at once."""
    strategy = make(space, 0)
    h = history(space, 8)
    first = strategy.propose(h, _none(space), 1)
    if len(first) == 0:
        return False
    nxt = strategy.propose(h, first, 1)
    assert len(nxt) == 1
    assert np.linalg.norm(nxt[0] - first[0]) > 1e-6, "the pending point was proposed again"
    return True


def check_same_seed_same_proposals(make: StrategyFactory, space: Space = SPACE) -> None:
    h = history(space, 8, seed=1)
    pending = np.random.default_rng(2).random((1, space.dim))
    a = make(space, 3).propose(h, pending, 2)
    b = make(space, 3).propose(h, pending, 2)
    np.testing.assert_allclose(a, b, atol=ATOL, err_msg="two instances with the same seed disagree")


def check_asking_twice_proposes_the_same(make: StrategyFactory, space: Space = SPACE) -> None:
    strategy = make(space, 3)
    h = history(space, 8, seed=1)
    pending = np.random.default_rng(2).random((1, space.dim))
    first = strategy.propose(h, pending, 2)
    again = strategy.propose(h, pending, 2)
    np.testing.assert_allclose(
        first,
        again,
        atol=ATOL,
        err_msg="asked twice with the same history and seed, the same instance proposed other points: "
        "it keeps state between asks, and a resumed run (a fresh instance replaying the journal) would diverge",
    )


def check_a_fresh_instance_agrees_with_a_used_one(make: StrategyFactory, space: Space = SPACE) -> None:
    full = history(space, 10, seed=1)
    used = make(space, 3)
    for n in (3, 6, 8):  # a run's course: asks on a growing history
        prefix = History(full.X[:n], full.y[:n], full.X_failed)
        used.propose(prefix, _none(space), 1)
    pending = np.random.default_rng(2).random((1, space.dim))
    np.testing.assert_allclose(
        used.propose(full, pending, 2),
        make(space, 3).propose(full, pending, 2),
        atol=ATOL,
        err_msg="an instance that has answered earlier asks disagrees with a fresh one on the same history: "
        "a resumed run would propose other points",
    )


class StrategyContract:
    """The strategy contract; a subclass sets the :meth:`make_strategy` fixture.

    Override :meth:`space` to ask in another search space.
    """

    @pytest.fixture
    def make_strategy(self) -> StrategyFactory:
        """``(space, seed) -> Strategy``: a new instance each call."""
        raise NotImplementedError(f"{type(self).__name__}: set the make_strategy fixture, (space, seed) -> Strategy")

    @pytest.fixture
    def space(self) -> Space:
        return SPACE

    def test_proposals_lie_in_the_unit_cube(self, make_strategy: StrategyFactory, space: Space) -> None:
        check_proposals_lie_in_the_unit_cube(make_strategy, space)

    def test_pending_points_are_not_proposed_again(self, make_strategy: StrategyFactory, space: Space) -> None:
        if not check_pending_points_are_not_proposed_again(make_strategy, space):
            pytest.skip("the strategy proposed nothing (exhausted)")

    def test_same_seed_same_proposals(self, make_strategy: StrategyFactory, space: Space) -> None:
        check_same_seed_same_proposals(make_strategy, space)

    def test_asking_twice_proposes_the_same(self, make_strategy: StrategyFactory, space: Space) -> None:
        check_asking_twice_proposes_the_same(make_strategy, space)

    def test_a_fresh_instance_agrees_with_a_used_one(self, make_strategy: StrategyFactory, space: Space) -> None:
        check_a_fresh_instance_agrees_with_a_used_one(make_strategy, space)
