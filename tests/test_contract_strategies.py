"""Every strategy in conf/strategy keeps the strategy contract (bench.testing.StrategyContract).

A new strategy is one class and one YAML: this class picks the YAML up.
"""

from __future__ import annotations

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from bench.debug import apply_debug
from bench.space import Space
from bench.testing import StrategyContract
from tests.conftest import CONF

STRATEGIES = sorted(p.stem for p in (CONF / "strategy").glob("*.yaml"))


class TestConfStrategy(StrategyContract):
    @pytest.fixture(params=STRATEGIES)
    def make_strategy(self, request, compose):
        cfg = compose(f"strategy={request.param}", "+debug=fast")  # small optimiser budgets
        apply_debug(cfg)
        node = OmegaConf.to_container(cfg.strategy, resolve=True)
        return lambda space, seed: instantiate(node, space=space, seed=seed, _convert_="all")


#: The strategies that maximise an acquisition, which in 1-D and 2-D they do on a grid (bench/strategies/acq_optim.py).
GRID_STRATEGIES = ["ei", "ucb", "bucb", "lp", "async_lp"]
GRID_SPACES = {
    "1d": Space.from_config({"lr": {"type": "float", "low": 1e-5, "high": 1e5, "log": True}}),
    "2d": Space.from_config(
        {
            "lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
            "layers": {"type": "int", "low": 1, "high": 4},
        }
    ),
}


class TestGridStrategies(StrategyContract):
    """The contract in one and two dimensions, where the acquisition is maximised on a grid."""

    @pytest.fixture(params=sorted(GRID_SPACES))
    def space(self, request) -> Space:
        return GRID_SPACES[request.param]

    @pytest.fixture(params=GRID_STRATEGIES)
    def make_strategy(self, request, compose):
        node = OmegaConf.to_container(compose(f"strategy={request.param}").strategy, resolve=True)
        return lambda space, seed: instantiate(node, space=space, seed=seed, _convert_="all")
