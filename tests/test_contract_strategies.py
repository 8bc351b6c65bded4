"""Every strategy in conf/strategy keeps the strategy contract (bench.testing.StrategyContract).

A new strategy is one class and one YAML: this class picks the YAML up.
"""

from __future__ import annotations

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from bench.debug import apply_debug
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
