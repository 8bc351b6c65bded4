"""One contract for every strategy in conf/strategy: inside the space, pending respected, seeded."""

from __future__ import annotations

import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from bench.space import Space
from bench.strategies.base import History
from tests.conftest import CONF

STRATEGIES = sorted(p.stem for p in (CONF / "strategy").glob("*.yaml"))
#: Small optimiser settings so the contract runs fast; only keys a strategy has are changed.
CHEAP = {"num_restarts": 2, "raw_samples": 32, "mc_samples": 16, "n_candidates": 128, "num_fantasies": 4}

SPACE = Space.from_config(
    {
        "lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
        "dropout": {"type": "float", "low": 0.0, "high": 0.5},
        "layers": {"type": "int", "low": 1, "high": 4},
    }
)


def make(compose, name: str, seed: int = 0):
    cfg = compose(f"strategy={name}").strategy
    for key, value in CHEAP.items():
        if key in cfg:
            cfg[key] = value
    if "n_initial" in cfg:
        cfg.n_initial = 2
    node = OmegaConf.to_container(cfg, resolve=True)
    return instantiate(node, space=SPACE, seed=seed, _convert_="all")


def history(n: int, seed: int = 0) -> History:
    rng = np.random.default_rng(seed)
    X = rng.random((n, SPACE.dim))
    y = ((X - 0.3) ** 2).sum(axis=1) + 0.01 * rng.standard_normal(n)
    return History(X, y, np.zeros((0, SPACE.dim)))


@pytest.fixture(params=STRATEGIES)
def name(request):
    return request.param


def test_proposals_lie_in_the_unit_cube(compose, name):
    strategy = make(compose, name)
    for n_obs in (0, 1, 8):
        X = strategy.propose(history(n_obs), np.zeros((0, SPACE.dim)), 2)
        assert X.shape[1] == SPACE.dim and 1 <= len(X) <= 2
        assert np.all((X >= 0) & (X <= 1)), X
        for x in X:
            SPACE.to_params(x)  # maps to valid parameters


def test_pending_points_are_not_proposed_again(compose, name):
    strategy = make(compose, name)
    h = history(8)
    first = strategy.propose(h, np.zeros((0, SPACE.dim)), 1)
    if len(first) == 0:
        pytest.skip("strategy exhausted")
    nxt = strategy.propose(h, first, 1)
    assert len(nxt) == 1
    assert np.linalg.norm(nxt[0] - first[0]) > 1e-6, f"{name} proposed the pending point again"


def test_same_seed_same_proposals(compose, name):
    h = history(8, seed=1)
    pending = np.random.default_rng(2).random((1, SPACE.dim))
    a = make(compose, name, seed=3).propose(h, pending, 2)
    b = make(compose, name, seed=3).propose(h, pending, 2)
    np.testing.assert_allclose(a, b, atol=1e-6)
