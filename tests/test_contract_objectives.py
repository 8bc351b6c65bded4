"""Every objective in conf/objective keeps the objective contract (bench.testing.ObjectiveContract).

A new objective is one class and one YAML: this class picks the YAML up (the function and
command objectives get their example code, examples/, from tests.conftest.USER_CODE). The CNN runs on
scikit-learn's bundled digits here (conf/debug/fast.yaml), so no MNIST files are needed.
"""

from __future__ import annotations

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from bench.debug import apply_debug
from bench.testing import ObjectiveContract
from tests.conftest import CONF, USER_CODE

OBJECTIVES = sorted(p.stem for p in (CONF / "objective").glob("*.yaml"))


class TestConfObjective(ObjectiveContract):
    @pytest.fixture(params=OBJECTIVES)
    def make_objective(self, request, compose):
        cfg = compose(f"objective={request.param}", "+debug=fast", *USER_CODE.get(request.param, []))
        apply_debug(cfg)
        node = OmegaConf.to_container(cfg.objective, resolve=True)
        return lambda: instantiate(node, _recursive_=False, _convert_="all")
